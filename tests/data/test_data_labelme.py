"""LabelMe reader: polygon, rectangle, circle, group_id, imageData."""
import numpy as np
import pytest
import skimage.draw

from data_fixtures import (labelme_file, labelme_shape, png_base64, skimage_polygon, write_image,
                           write_json)
from mrcnn.data import LabelMeDataset, UnsafePathError, read_dataset


def _folder(tmp_path):
    """images/ and annotations/ side by side, imagePath = ../images/x.jpg."""
    write_image(tmp_path / "images" / "one.jpg", 40, 60, seed=1)
    shapes = [
        labelme_shape("cat", [(5, 5), (30, 8), (20, 30)]),
        labelme_shape("dog", [(40, 30), (50, 10)], "rectangle"),        # corners in any order
        labelme_shape("dog", [(20, 20), (26, 20)], "circle"),            # centre, point on the rim
        labelme_shape("cat", [(40, 32), (55, 32), (55, 38)], group_id=3),
        labelme_shape("cat", [(2, 32), (10, 32), (10, 38)], group_id=3),  # same object, second piece
        labelme_shape("cat", [(1, 1)], "point"),
        labelme_shape("cat", [(1, 1), (9, 9)], "line"),
    ]
    write_json(tmp_path / "annotations" / "one.json",
               labelme_file(shapes, "..\\images\\one.jpg", 40, 60))  # Windows separators
    return tmp_path


def test_shapes_and_groups(tmp_path):
    dataset = read_dataset(_folder(tmp_path))
    assert isinstance(dataset, LabelMeDataset)
    assert dataset.class_names == ["BG", "cat", "dog"]
    masks, class_ids = dataset.load_mask(0)
    assert masks.shape == (40, 60, 4)
    assert [dataset.class_names[c] for c in class_ids] == ["cat", "dog", "dog", "cat"]
    np.testing.assert_array_equal(masks[..., 0], skimage_polygon([5, 30, 20], [5, 8, 30], 40, 60))
    rect = np.zeros((40, 60), bool)
    rect[10:31, 40:51] = True
    np.testing.assert_array_equal(masks[..., 1], rect)
    disk = np.zeros((40, 60), bool)
    disk[skimage.draw.ellipse(20, 20, 6, 6, shape=(40, 60))] = True
    np.testing.assert_array_equal(masks[..., 2], disk)
    group = skimage_polygon([40, 55, 55], [32, 32, 38], 40, 60) | skimage_polygon([2, 10, 10], [32, 32, 38], 40, 60)
    np.testing.assert_array_equal(masks[..., 3], group)
    assert dataset.problems.count("skipped_point") == 2
    assert dataset.load_image(0).shape == (40, 60, 3)


def test_embedded_image_data_when_file_is_absent(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    write_json(tmp_path / "x.json", labelme_file([labelme_shape("a", [(1, 1), (10, 2), (5, 9)])],
                                                 "x.png", 12, 16, image_data=png_base64(pixels)))
    dataset = read_dataset(tmp_path)
    assert dataset.problems.count("missing_image") == 0
    np.testing.assert_array_equal(dataset.load_image(0), pixels)
    assert dataset.load_mask(0)[0].shape == (12, 16, 1)


def test_mask_shape(tmp_path):
    write_image(tmp_path / "m.jpg", 20, 20)
    small = np.zeros((5, 6), np.uint8)
    small[1:4, 2:5] = 255
    shape = {**labelme_shape("blob", [(10, 8), (15, 12)], "mask"), "mask": png_base64(small)}
    write_json(tmp_path / "m.json", labelme_file([shape], "m.jpg", 20, 20))
    masks, _ = read_dataset(tmp_path).load_mask(0)
    expected = np.zeros((20, 20), bool)
    expected[9:12, 12:15] = True
    np.testing.assert_array_equal(masks[..., 0], expected)


@pytest.mark.parametrize("image_path", ["../../secret.jpg", "/etc/passwd.jpg"])
def test_image_path_outside_is_refused(tmp_path, image_path):
    write_json(tmp_path / "data" / "x.json", labelme_file([], image_path, 10, 10))
    with pytest.raises(UnsafePathError, match="x.json"):
        LabelMeDataset().load_labelme(tmp_path / "data")


def test_single_json_file_and_other_json_ignored(tmp_path):
    _folder(tmp_path)
    write_json(tmp_path / "annotations" / "settings.json", {"theme": "dark"})
    dataset = read_dataset(tmp_path / "annotations" / "one.json", image_dir=tmp_path)
    assert dataset.num_images == 1
    assert read_dataset(tmp_path, format="labelme").num_images == 1


def test_two_files_for_one_image_are_duplicates(tmp_path):
    _folder(tmp_path)
    copy = (tmp_path / "annotations" / "one.json").read_text()
    (tmp_path / "annotations" / "one_copy.json").write_text(copy)
    dataset = read_dataset(tmp_path)
    assert dataset.problems.count("duplicate_id") == 1
    assert "one_copy.json" in str(dataset.problems.examples["duplicate_id"][0])
