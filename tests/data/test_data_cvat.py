"""CVAT for images 1.1 XML: polygons drawn as CVAT's exports draw them,
masks decoded from CVAT's RLE to the exact pixels, boxes and other shapes
reported with the image and the shape, detection from a file or a folder."""
import numpy as np
import pytest
from data_fixtures import write_image

from mrcnn.data.cvat import decode_cvat_rle
from mrcnn.data.errors import DatasetError
from mrcnn.data.read import detect_format, format_name, read_dataset
from mrcnn.data.validate import validate_dataset

META = """<meta><task><labels>
  <label><name>cat</name><attributes/></label>
  <label><name>dog</name><attributes/></label>
</labels></task></meta>"""
# The dog's mask: 3x3 box at (left 6, top 2); rows 010 / 111 / 011, so the
# runs of 0 and 1 over the box, row by row, are 1 1 1 3 1 2.
DOG_BOX = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=bool)
GOOD = """<image id="0" name="a.png" width="10" height="8">
  <polygon label="cat" source="manual" occluded="0" points="1.00,1.00;5.00,1.00;5.00,4.00;1.00,4.00" z_order="0"/>
  <mask label="dog" source="manual" occluded="0" rle="1, 1, 1, 3, 1, 2" left="6" top="2" width="3" height="3" z_order="0"/>
</image>"""


def write_cvat(folder, images, meta=META, image_folder="images", sizes=None):
    """annotations.xml with `images` (<image> XML) and the PNGs it names."""
    for name, (height, width) in (sizes or {"a.png": (8, 10)}).items():
        write_image(folder / image_folder / name, height, width)
    path = folder / "annotations.xml"
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n<version>1.1</version>\n'
                    f"{meta}\n{images}\n</annotations>\n", encoding="utf-8")
    return path


def test_polygon_and_rle_mask_give_the_exact_pixels(tmp_path):
    path = write_cvat(tmp_path, GOOD)
    dataset = read_dataset(path)
    assert format_name(dataset) == "cvat" and dataset.class_names == ["BG", "cat", "dog"]
    masks, class_ids = dataset.load_mask(0)
    assert masks.shape == (8, 10, 2)
    assert [dataset.class_names[c] for c in class_ids] == ["cat", "dog"]
    cat = np.zeros((8, 10), bool)
    cat[1:4, 1:5] = True  # the square x 1..5, y 1..4 covers pixel columns 1-4, rows 1-3
    dog = np.zeros((8, 10), bool)
    dog[2:5, 6:9] = DOG_BOX
    assert (masks[..., 0] == cat).all()
    assert (masks[..., 1] == dog).all()
    assert dict(dataset.problems.counts) == {}
    assert dataset.image_info[0]["path"].endswith("images/a.png")


def test_decode_cvat_rle_runs_start_with_zeros():
    assert (decode_cvat_rle("1, 1, 1, 3, 1, 2", 3, 3) == DOG_BOX).all()
    assert decode_cvat_rle("0, 4", 2, 2).all()
    with pytest.raises(ValueError, match="add up to 5, not width x height = 2 x 2 = 4"):
        decode_cvat_rle("1, 4", 2, 2)


def test_detected_from_the_folder_and_the_file(tmp_path):
    path = write_cvat(tmp_path, GOOD)
    assert detect_format(str(tmp_path))[0] == "cvat"
    assert detect_format(str(path))[0] == "cvat"
    assert len(read_dataset(tmp_path).image_ids) == 1
    assert len(read_dataset(tmp_path, format="cvat_images").image_ids) == 1


def test_images_beside_the_xml_and_image_dir(tmp_path):
    write_cvat(tmp_path, GOOD, image_folder="")
    assert read_dataset(tmp_path).image_info[0]["path"] == str(tmp_path / "a.png")
    other = tmp_path / "elsewhere"
    write_image(other / "a.png", 8, 10)
    assert read_dataset(tmp_path / "annotations.xml", image_dir=other).image_info[0]["path"] == \
        str(other / "a.png")


def test_problems_name_the_image_and_the_shape(tmp_path):
    images = """<image id="0" name="a.png" width="10" height="8">
  <polygon label="cat" points="1,1;5,1;5,4;1,4"/>
  <box label="cat" xtl="1" ytl="1" xbr="4" ybr="4"/>
  <polyline label="cat" points="1,1;5,1;5,4"/>
  <points label="dog" points="2,2"/>
  <polygon label="bird" points="1,1;5,1;5,4"/>
  <mask label="dog" rle="1, 4" left="0" top="0" width="2" height="2"/>
  <polygon label="dog" points="1,1;5,1"/>
  <polygon label="dog" points="1,1;abc;5,5"/>
</image>
<image id="1" name="missing.png" width="10" height="8"/>"""
    path = write_cvat(tmp_path, images)
    report = validate_dataset(path)
    problems = report.to_dict()["problems"]
    assert not report.ok
    assert problems["invalid_annotation"]["count"] == 3
    examples = [(e["annotation"], e["message"]) for e in problems["invalid_annotation"]["examples"]]
    assert examples[0][0] == "image 'a.png' <box> 0 label 'cat'" and "a box has no mask" in examples[0][1]
    assert examples[1][0] == "image 'a.png' <mask> 0 label 'dog'" and "add up to 5" in examples[1][1]
    assert examples[2][0] == "image 'a.png' <polygon> 3 label 'dog'"
    assert problems["skipped_point"]["count"] == 2
    assert [e["annotation"] for e in problems["skipped_point"]["examples"]] == [
        "image 'a.png' <polyline> 0 label 'cat'", "image 'a.png' <points> 0 label 'dog'"]
    assert problems["degenerate_shape"]["examples"][0]["annotation"] == "image 'a.png' <polygon> 2 label 'dog'"
    assert problems["unknown_class"]["examples"][0]["annotation"] == "image 'a.png' <polygon> 1 label 'bird'"
    assert problems["missing_image"]["examples"][0]["annotation"] == "image 'missing.png'"
    assert all(e["file"] == str(path) for kind in problems.values() for e in kind["examples"]
               if e["file"])
    # The usable polygons stay: the cat and the undeclared bird.
    dataset = read_dataset(path)
    assert dataset.class_names == ["BG", "cat", "dog", "bird"]
    assert len(dataset.image_info[0]["instances"]) == 2


def test_mask_box_outside_the_image_is_clipped_and_counted(tmp_path):
    images = """<image id="0" name="a.png" width="10" height="8">
  <mask label="dog" rle="0, 9" left="8" top="6" width="3" height="3"/>
</image>"""
    dataset = read_dataset(write_cvat(tmp_path, images))
    masks, _ = dataset.load_mask(0)
    expected = np.zeros((8, 10), bool)
    expected[6:8, 8:10] = True
    assert (masks[..., 0] == expected).all()
    assert dataset.problems.count("points_outside") == 1


def test_bad_xml_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "annotations.xml"
    path.write_text("<annotations>\n<image name='a.png'>\n</annotations>\n", encoding="utf-8")
    with pytest.raises(DatasetError) as error:
        read_dataset(path, format="cvat")
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: not valid XML at line 3")


def test_video_export_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "annotations.xml"
    path.write_text('<annotations><track id="0" label="cat"><polygon frame="0" points="1,1;4,1;4,4"/>'
                    "</track></annotations>", encoding="utf-8")
    with pytest.raises(DatasetError, match="CVAT for video 1.1 .*'CVAT for images 1.1'"):
        read_dataset(path)
