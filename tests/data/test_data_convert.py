"""Round trips through `convert_dataset`: a small dataset (a polygon, a mask
with a hole, two classes) written as COCO, LabelMe, VIA and YOLO-seg and read
back by `read_dataset` gives the same images, classes and masks; each output
follows its format's own rules; SRC is left as it was."""
import hashlib
import json
import os

import numpy as np
import pytest
from data_fixtures import write_image

from mrcnn.commands.convert import TARGETS, convert_dataset
from mrcnn.data.export import encode_rle
from mrcnn.data.read import format_name, read_dataset
from mrcnn.data.writers import bridge_rings, yolo_line

H, W = 48, 64
READ_BACK = {"coco": "instances.json", "via": "via_region_data.json", "labelme": "", "yolo-seg": ""}
FORMAT = {"coco": "coco", "via": "via", "labelme": "labelme", "yolo-seg": "yolo"}


def holed_mask():
    mask = np.zeros((H, W), bool)
    mask[10:34, 30:56] = True
    mask[20:24, 40:44] = False  # 16 of 624 pixels: formats without holes keep IoU 0.97
    return mask


def write_source(root):
    """COCO: a.png with a cat polygon and a dog RLE mask with a hole; b.png with a dog square."""
    for i, name in enumerate(("a.png", "b.png")):
        write_image(root / "images" / name, H, W, seed=i)
    data = {"images": [{"id": 1, "file_name": "images/a.png", "height": H, "width": W},
                       {"id": 2, "file_name": "images/b.png", "height": H, "width": W}],
            "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                 "segmentation": [[4, 4, 24, 6, 20, 30, 6, 26]]},
                {"id": 2, "image_id": 1, "category_id": 2, "iscrowd": 0, "segmentation": encode_rle(holed_mask())},
                {"id": 3, "image_id": 2, "category_id": 2, "iscrowd": 0,
                 "segmentation": [[10, 10, 40, 10, 40, 40, 10, 40]]}]}
    path = root / "instances.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def tree_digest(folder):
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(folder)):
        dirnames.sort()
        for name in sorted(filenames):
            digest.update(name.encode())
            digest.update(open(os.path.join(dirpath, name), "rb").read())
    return digest.hexdigest()


def iou(a, b):
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("to", TARGETS)
def test_round_trip(tmp_path, to):
    src = read_dataset(write_source(tmp_path / "src"))
    before = tree_digest(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    written, image_root = convert_dataset(src, to, str(out))
    assert written == 3
    back = read_dataset(os.path.join(out, READ_BACK[to]), image_dir=image_root)
    assert format_name(back) == FORMAT[to]
    assert back.class_names == src.class_names == ["BG", "cat", "dog"]
    assert [os.path.basename(i["path"]) for i in back.image_info] == ["a.png", "b.png"]
    for image_id in src.image_ids:
        masks, class_ids = src.load_mask(image_id)
        masks_back, class_ids_back = back.load_mask(image_id)
        assert list(class_ids_back) == list(class_ids)
        for k in range(masks.shape[-1]):
            assert iou(masks[..., k], masks_back[..., k]) >= 0.95, (to, image_id, k)
    hole = back.load_mask(0)[0][20:24, 40:44, 1]
    # COCO keeps a holed mask as RLE, YOLO bridges the hole into its one
    # line; VIA and LabelMe polygons cannot hold one.
    expected_hole_pixels = {"coco": 0, "yolo-seg": 0, "via": 16, "labelme": 16}[to]
    assert hole.sum() == expected_hole_pixels
    assert tree_digest(tmp_path / "src") == before
    assert dict(back.problems.counts) == {}


def test_yolo_output_follows_ultralytics_rules(tmp_path):
    src = read_dataset(write_source(tmp_path / "src"))
    out = tmp_path / "out"
    convert_dataset(src, "yolo-seg", str(out))
    import yaml

    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "cat", 1: "dog"} and data["nc"] == 2 and data["train"] == "images"
    lines = [line for name in ("a", "b") for line in (out / "labels" / f"{name}.txt").read_text().splitlines()]
    assert len(lines) == 3
    for line in lines:
        values = line.split()
        coords = np.array([float(v) for v in values[1:]])
        assert int(values[0]) < len(data["names"]) and len(coords) % 2 == 0 and len(coords) >= 6
        assert coords.min() >= 0 and coords.max() <= 1
    assert [line.split()[0] for line in lines] == ["0", "1", "1"]
    # The images are copies of SRC's, byte for byte, in images/.
    for name in ("a.png", "b.png"):
        assert (out / "images" / name).read_bytes() == (tmp_path / "src" / "images" / name).read_bytes()
        assert not os.path.samefile(out / "images" / name, tmp_path / "src" / "images" / name)


def test_yolo_link_hard_links_the_images(tmp_path):
    src = read_dataset(write_source(tmp_path / "src"))
    convert_dataset(src, "yolo-seg", str(tmp_path / "out"), link=True)
    assert os.path.samefile(tmp_path / "out" / "images" / "a.png", tmp_path / "src" / "images" / "a.png")


def test_coco_output_loads_in_pycocotools(tmp_path):
    from pycocotools.coco import COCO

    src = read_dataset(write_source(tmp_path / "src"))
    convert_dataset(src, "coco", str(tmp_path / "out"))
    coco = COCO(str(tmp_path / "out" / "instances.json"))
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[0]))
    assert [type(a["segmentation"]).__name__ for a in anns] == ["list", "dict"]  # polygon, RLE (hole)
    masks, _ = src.load_mask(0)
    assert (coco.annToMask(anns[1]).astype(bool) == masks[..., 1]).all()
    assert iou(coco.annToMask(anns[0]).astype(bool), masks[..., 0]) >= 0.95
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cat", "dog"]


def cvat_rle(box):
    """CVAT's run lengths of a bool [h, w] box: 0s first, row by row."""
    flat = box.ravel()
    edges = np.flatnonzero(np.diff(flat.astype(int))) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]]))
    return ", ".join(str(int(v)) for v in ([0] if flat[0] else []) + list(runs))


def test_cvat_and_yolo_sources_convert_to_coco(tmp_path):
    """The new readers feed convert: CVAT XML -> YOLO -> COCO keeps the masks."""
    write_image(tmp_path / "cvat" / "images" / "a.png", 30, 40)
    box = np.zeros((12, 14), bool)
    box[1:11, 2:13] = True
    box[4:7, 5:9] = False
    (tmp_path / "cvat" / "annotations.xml").write_text(
        '<annotations><meta><task><labels><label><name>cat</name></label><label><name>dog</name>'
        '</label></labels></task></meta><image id="0" name="a.png" width="40" height="30">'
        '<polygon label="cat" points="2,3;14,3;14,20;2,20"/>'
        f'<mask label="dog" rle="{cvat_rle(box)}" left="20" top="5" width="14" height="12"/></image>'
        "</annotations>", encoding="utf-8")
    cvat = read_dataset(tmp_path / "cvat")
    convert_dataset(cvat, "yolo-seg", str(tmp_path / "yolo"))
    yolo = read_dataset(tmp_path / "yolo")
    convert_dataset(yolo, "coco", str(tmp_path / "coco"))
    coco = read_dataset(tmp_path / "coco" / "instances.json", image_dir=tmp_path / "yolo" / "images")
    expected, _ = cvat.load_mask(0)
    assert (expected[5:17, 20:34, 1] == box).all()
    for dataset in (yolo, coco):
        assert dataset.class_names == ["BG", "cat", "dog"]
        masks, class_ids = dataset.load_mask(0)
        assert list(class_ids) == [1, 2]
        assert (masks == expected).all()


def test_bridged_rings_fill_to_a_hole_and_two_parts():
    mask = np.zeros((30, 40), bool)
    mask[2:20, 2:20] = True
    mask[8:12, 8:12] = False
    mask[22:28, 30:38] = True
    line = yolo_line(mask, 0)
    coords = np.array([float(v) for v in line.split()[1:]]).reshape(-1, 2) * [40, 30]
    from pycocotools import mask as mask_utils

    drawn = mask_utils.decode(mask_utils.frPyObjects([list(coords.ravel())], 30, 40))[..., 0].astype(bool)
    assert iou(drawn, mask) >= 0.95 and not drawn[9:11, 9:11].any() and drawn[24, 34]
    ring = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    assert bridge_rings([ring]) is ring
