"""YOLO segmentation (Ultralytics): names from data.yaml or classes.txt,
labels found as Ultralytics finds them, polygons scaled by the image size,
and every bad line reported with its file and line number."""
import numpy as np
import pytest
from data_fixtures import write_image

from mrcnn.data.errors import DatasetError
from mrcnn.data.read import detect_format, format_name, read_dataset
from mrcnn.data.validate import validate_dataset

# The square x 2..10, y 1..6 of a 20x10 image: pixel columns 2-9, rows 1-5.
SQUARE = "0 0.1 0.1 0.5 0.1 0.5 0.6 0.1 0.6"


def write_yolo(root, labels, names="names: [cat, dog]\n", split="train", size=(10, 20)):
    """images/<split>/<name>.png and labels/<split>/<name>.txt for each
    {name: label text}; data.yaml with `names` unless names is None."""
    for name, text in labels.items():
        write_image(root / "images" / split / f"{name}.png", *size)
        if text is not None:
            label = root / "labels" / split / f"{name}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(text, encoding="utf-8")
    if names is not None:
        (root / "data.yaml").write_text(f"train: images/{split}\nval: images/{split}\n{names}",
                                        encoding="utf-8")
    return root


def square():
    mask = np.zeros((10, 20), bool)
    mask[1:6, 2:10] = True
    return mask


@pytest.mark.parametrize("names", ["names: [cat, dog]\n", "names:\n  0: cat\n  1: dog\n", None])
def test_polygons_and_names(tmp_path, names):
    write_yolo(tmp_path, {"a": SQUARE + "\n1 0.6 0.2 0.9 0.2 0.9 0.8\n", "b": None}, names=names)
    if names is None:
        (tmp_path / "classes.txt").write_text("cat\ndog\n", encoding="utf-8")
    dataset = read_dataset(tmp_path)
    assert format_name(dataset) == "yolo" and dataset.class_names == ["BG", "cat", "dog"]
    assert [info["id"] for info in dataset.image_info] == ["images/train/a.png", "images/train/b.png"]
    masks, class_ids = dataset.load_mask(0)
    assert [dataset.class_names[c] for c in class_ids] == ["cat", "dog"]
    assert (masks[..., 0] == square()).all()
    # b.png has no label file: a negative example, as Ultralytics reads it.
    assert dataset.load_mask(1)[0].shape == (10, 20, 0)
    assert dict(dataset.problems.counts) == {"image_without_instances": 1}


def test_detection_from_folder_and_yaml(tmp_path):
    write_yolo(tmp_path, {"a": SQUARE})
    assert detect_format(str(tmp_path))[0] == "yolo"
    assert detect_format(str(tmp_path / "data.yaml"))[0] == "yolo"
    assert len(read_dataset(tmp_path / "data.yaml").image_ids) == 1
    assert len(read_dataset(tmp_path, format="yolo-seg", split="train").image_ids) == 1


def test_roboflow_layout_and_split(tmp_path):
    for split in ("train", "valid"):
        write_image(tmp_path / split / "images" / f"{split}.png", 10, 20)
        (tmp_path / split / "labels").mkdir(parents=True)
        (tmp_path / split / "labels" / f"{split}.txt").write_text(SQUARE, encoding="utf-8")
    (tmp_path / "data.yaml").write_text("train: ../train/images\nval: ../valid/images\nnc: 1\n"
                                        "names: ['cat']\n", encoding="utf-8")
    assert sorted(i["id"] for i in read_dataset(tmp_path).image_info) == [
        "train/images/train.png", "valid/images/valid.png"]
    assert [i["id"] for i in read_dataset(tmp_path, split="val").image_info] == ["valid/images/valid.png"]


def test_every_bad_line_is_reported_with_file_and_line(tmp_path):
    lines = [SQUARE,
             "5 0.1 0.1 0.2 0.1 0.2 0.2",          # 2: class id beyond the names
             "1 0.1 0.1 0.2 0.1 0.2",              # 3: odd number of coordinates
             "1 0.1 0.1 1.5 0.1 0.2 0.2",          # 4: outside [0, 1]
             "1 0.5 0.5 0.2 0.2",                  # 5: a detection box
             "1 0.1 0.1",                          # 6: one point
             "dog 0.1 0.1 0.2 0.1 0.2 0.2",        # 7: not a number
             "1 0.1 0.1 0.2 0.2 0.3 0.3"]          # 8: three points on a line
    write_yolo(tmp_path, {"a": "\n".join(lines) + "\n"})
    (tmp_path / "labels" / "train" / "orphan.txt").write_text(SQUARE, encoding="utf-8")
    report = validate_dataset(tmp_path)
    assert not report.ok
    problems = report.to_dict()["problems"]
    label = str(tmp_path / "labels" / "train" / "a.txt")
    invalid = {e["annotation"]: e["message"] for e in problems["invalid_annotation"]["examples"]}
    assert problems["invalid_annotation"]["count"] == 5
    assert all(e["file"] == label for e in problems["invalid_annotation"]["examples"])
    assert "class id 5 is not a class of the names (0..1)" in invalid["line 2"]
    assert "5 coordinates, an odd number" in invalid["line 3"]
    assert "outside [0, 1]" in invalid["line 4"]
    assert "a box" in invalid["line 5"]
    assert "not a number" in invalid["line 7"]
    degenerate = {e["annotation"]: e for e in problems["degenerate_shape"]["examples"]}
    assert set(degenerate) == {"line 6", "line 8"} and degenerate["line 6"]["file"] == label
    missing = problems["missing_image"]["examples"]
    assert [e["file"] for e in missing] == [str(tmp_path / "labels" / "train" / "orphan.txt")]
    # The good line is read.
    dataset = read_dataset(tmp_path)
    assert (dataset.load_mask(0)[0][..., 0] == square()).all()


def test_missing_names_and_bad_yaml_are_one_line(tmp_path):
    write_yolo(tmp_path, {"a": SQUARE}, names=None)
    with pytest.raises(DatasetError) as error:
        read_dataset(tmp_path)
    assert "\n" not in str(error.value) and "no data.yaml with 'names' nor classes.txt" in str(error.value)
    (tmp_path / "data.yaml").write_text("names: [cat\n", encoding="utf-8")
    with pytest.raises(DatasetError) as error:
        read_dataset(tmp_path / "data.yaml", format="yolo")
    assert "\n" not in str(error.value) and str(error.value).startswith(f"{tmp_path / 'data.yaml'}: not valid YAML")


def test_paths_in_data_yaml_stay_inside(tmp_path):
    write_yolo(tmp_path / "ds", {"a": SQUARE}, names="names: [cat]\n")
    (tmp_path / "ds" / "data.yaml").write_text("train: /etc\nnames: [cat]\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="is absolute"):
        read_dataset(tmp_path / "ds")
