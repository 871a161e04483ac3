"""Detections -> LabelMe JSON -> the project's LabelMe reader: the masks
come back (model-assisted annotation round trip)."""
import json

import numpy as np
import skimage.draw
from cli_fixtures import paint

from mrcnn.commands.labelme import labelme_document, labelme_polygons, write_labelme
from mrcnn.data import read_dataset

H, W = 90, 120


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def disk(cy, cx, r):
    m = np.zeros((H, W), bool)
    rr, cc = skimage.draw.disk((cy, cx), r, shape=(H, W))
    m[rr, cc] = True
    return m


def detections():
    """Four instances: a disk, a rectangle at the border, a mask in two
    parts, and an ellipse; class ids 1, 2, 1, 2."""
    two_parts = np.zeros((H, W), bool)
    two_parts[60:80, 5:25] = True
    two_parts[60:85, 40:55] = True
    ellipse = np.zeros((H, W), bool)
    rr, cc = skimage.draw.ellipse(25, 85, 10, 25, shape=(H, W), rotation=0.4)
    ellipse[rr, cc] = True
    rect = np.zeros((H, W), bool)
    rect[0:30, 0:20] = True
    masks = np.stack([disk(45, 70, 14), rect, two_parts, ellipse], -1)
    return {"rois": np.zeros((4, 4), np.int32), "class_ids": np.array([1, 2, 1, 2], np.int32),
            "scores": np.array([0.9, 0.8, 0.7, 0.6], np.float32), "masks": masks}


def test_polygons_of_a_mask_with_a_hole_and_two_parts():
    ring = disk(45, 60, 20) & ~disk(45, 60, 6)
    polygons = labelme_polygons(ring)
    assert len(polygons) == 1  # the hole's outline is not an object
    two = np.zeros((H, W), bool)
    two[5:15, 5:15] = True
    two[50:70, 80:110] = True
    polygons = labelme_polygons(two)
    assert len(polygons) == 2 and len(polygons[0]) >= 3
    # largest first, points inside the image as (x, y)
    assert polygons[0][:, 0].min() >= 79 and polygons[0][:, 1].max() <= 70
    assert labelme_polygons(np.zeros((H, W), bool)) == []


def test_labelme_json_round_trip_through_the_reader(tmp_path):
    r = detections()
    image_path = tmp_path / "images" / "photo.jpg"
    paint(image_path, H, W, [], [])
    out = tmp_path / "images"
    document = labelme_document(r, ["BG", "cat", "dog"], image_path, (H, W, 3), out)
    write_labelme(out / "photo.json", document)

    written = json.loads((out / "photo.json").read_text())
    assert written["imagePath"] == "photo.jpg" and written["imageData"] is None
    assert (written["imageHeight"], written["imageWidth"]) == (H, W)
    assert written["version"] and written["flags"] == {}
    shapes = written["shapes"]
    assert [s["label"] for s in shapes] == ["cat", "dog", "cat", "cat", "dog"]
    assert all(s["shape_type"] == "polygon" for s in shapes)
    # the two parts of instance 2 share a group id; single parts have none
    assert [s["group_id"] for s in shapes] == [None, None, 2, 2, None]
    assert shapes[0]["description"] == "score 0.900"

    dataset = read_dataset(out, format="labelme")
    masks, class_ids = dataset.load_mask(0)
    assert masks.shape == (H, W, 4)
    names = [dataset.class_names[c] for c in class_ids]
    assert names == ["cat", "dog", "cat", "dog"]
    for k in range(4):
        assert iou(masks[..., k], r["masks"][..., k]) > 0.8, k


def test_images_elsewhere_are_referenced_relative_to_the_json(tmp_path):
    r = detections()
    image_path = tmp_path / "photos" / "a.jpg"
    paint(image_path, H, W, [], [])
    document = labelme_document(r, ["BG", "cat", "dog"], image_path, (H, W, 3), tmp_path / "labels")
    assert document["imagePath"] == "../photos/a.jpg"
    (tmp_path / "labels").mkdir()
    write_labelme(tmp_path / "labels" / "a.json", document)
    dataset = read_dataset(tmp_path / "labels", format="labelme", image_dir=str(tmp_path))
    assert dataset.load_image(0).shape == (H, W, 3)
