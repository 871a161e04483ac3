"""LabelMe's __ignore__ and _background_ labels, 16-bit images, instances
wholly outside their image (issue 13, items 9 and 10)."""
import numpy as np
from data_fixtures import coco_file, coco_polygon_ann, labelme_file, labelme_shape, write_image, write_json
from PIL import Image

from mrcnn.data import read_dataset
from mrcnn.data.dataset import read_image_file
from mrcnn.data.validate import validate_dataset


def labelme_folder(tmp_path, shapes, height=40, width=60):
    write_image(tmp_path / "one.jpg", height, width, seed=1)
    write_json(tmp_path / "one.json", labelme_file(shapes, "one.jpg", height, width))
    return tmp_path


def test_labelme_ignore_and_background_shapes_are_no_class(tmp_path):
    folder = labelme_folder(tmp_path, [
        labelme_shape("cat", [(5, 5), (30, 8), (20, 30)]),
        labelme_shape("__ignore__", [(40, 5), (55, 5), (55, 20), (40, 20)]),
        labelme_shape("_background_", [(0, 0), (10, 0), (10, 4)]),
        labelme_shape("__ignore__", [(1, 30), (9, 39)], "rectangle"),
    ])
    dataset = read_dataset(folder)
    assert dataset.class_names == ["BG", "cat"]
    masks, class_ids = dataset.load_mask(0)
    assert masks.shape == (40, 60, 1) and list(class_ids) == [1]
    # The ignored region stays background in the cat's mask and elsewhere.
    assert not masks[5:20, 40:55].any()
    assert dataset.problems.count("ignore_region") == 3
    example = str(dataset.problems.examples["ignore_region"][0])
    assert "one.json: shape 1 ('__ignore__')" in example and "not an instance" in example
    # The report counts them as information, not as a problem of the data.
    report = validate_dataset(str(folder))
    assert report.ok
    assert "LabelMe shapes labelled __ignore__ or _background_ (not instances; skipped) " \
           "[ignore_region]" in report.to_text()


def test_a_labelme_folder_of_only_ignore_shapes_has_no_class(tmp_path):
    folder = labelme_folder(tmp_path, [labelme_shape("__ignore__", [(5, 5), (30, 8), (20, 30)])])
    report = validate_dataset(str(folder))
    assert "__ignore__" not in report.statistics.class_names


def write_grey16(path, array):
    Image.fromarray(np.asarray(array, np.uint16)).save(path)


def test_a_16_bit_image_is_scaled_by_its_type_not_its_brightest_pixel(tmp_path):
    plain = np.full((8, 10), 20000, np.uint16)
    hot = plain.copy()
    hot[0, 0] = 65535  # one hot pixel
    write_grey16(tmp_path / "plain.png", plain)
    write_grey16(tmp_path / "hot.png", hot)
    assert Image.open(tmp_path / "plain.png").mode == "I;16"
    a, b = read_image_file(tmp_path / "plain.png"), read_image_file(tmp_path / "hot.png")
    assert a.shape == (8, 10, 3) and a.dtype == np.uint8
    # 20000 / 65535 * 255 = 77.8: the same in both images.
    assert (a == 78).all()
    np.testing.assert_array_equal(a[1:], b[1:])
    assert (b[0, 0] == 255).all()


def test_other_high_depth_modes_keep_their_type_range():
    from mrcnn.data.dataset import high_depth_to_uint8

    as_i = Image.fromarray(np.array([[0, 32768, 65535]], np.int32))  # how old Pillow reads 16-bit PNGs
    assert as_i.mode == "I"
    assert high_depth_to_uint8(as_i).tolist() == [[0, 128, 255]]
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
    assert unit.mode == "F"
    assert high_depth_to_uint8(unit).tolist() == [[0, 128, 255]]
    wide = Image.fromarray(np.array([[-3.0, 100.0, 300.0]], np.float32))
    assert high_depth_to_uint8(wide).tolist() == [[0, 100, 255]]


def test_an_instance_wholly_outside_the_image_is_its_own_problem(tmp_path):
    write_image(tmp_path / "a.jpg", 40, 60)
    path = tmp_path / "instances.json"
    write_json(path, coco_file(
        [{"id": 1, "file_name": "a.jpg", "height": 40, "width": 60}],
        [coco_polygon_ann(1, 1, 1, [5, 5, 30, 5, 30, 30]),
         coco_polygon_ann(2, 1, 1, [70, 5, 90, 5, 90, 30]),  # right of the 60-wide image
         coco_polygon_ann(3, 1, 1, [50, 5, 70, 5, 70, 30])],  # partly inside: clipped
        [{"id": 1, "name": "box"}]))
    dataset = read_dataset(path)
    assert dataset.problems.count("outside_image") == 1
    example = str(dataset.problems.examples["outside_image"][0])
    assert "instances.json: annotation 2" in example
    assert "wholly outside the 60x40 image (x 70.0..90.0, y 5.0..30.0); skipped" in example
    assert dataset.problems.count("points_outside") == 1
    masks, _ = dataset.load_mask(0)
    assert masks.shape[-1] == 2 and masks.reshape(-1, 2).any(axis=0).all()
    text = validate_dataset(str(path)).to_text()
    assert "instances wholly outside the image (skipped) [outside_image]" in text
