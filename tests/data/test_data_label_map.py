"""Label maps across datasets, merging datasets, class subsets at detection
output, and safe path joining."""
import numpy as np
import pytest

from data_fixtures import (coco_file, coco_polygon_ann, via_polygon, via_project, via_region, write_image,
                           write_json)
from mrcnn.data import (ClassSubset, DatasetError, LabelMap, OptionError, UnsafePathError, merge_datasets,
                        read_dataset)
from mrcnn.data.paths import safe_join

TRI = via_polygon([5, 30, 20], [5, 8, 30])


def _label_map(tmp_path, text):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return path


def _via(tmp_path, labels):
    write_image(tmp_path / "v" / "a.jpg", 40, 50)
    return write_json(tmp_path / "v" / "via.json", via_project({"a.jpg": [via_region(TRI, l) for l in labels]}))


def _coco(tmp_path, names):
    write_image(tmp_path / "c" / "a.jpg", 40, 50)
    cats = [{"id": 10 + i, "name": n} for i, n in enumerate(names)]
    anns = [coco_polygon_ann(i + 1, 1, c["id"], [1, 1, 30, 1, 10, 30]) for i, c in enumerate(cats)]
    return write_json(tmp_path / "c" / "ann.json",
                      coco_file([{"id": 1, "file_name": "a.jpg", "width": 50, "height": 40}], anns, cats))


SHEET = """source,source_label,target_label
# two datasets, one class list
gns,gun,weapon
gns,sword,weapon
coco,knife,weapon
coco,11,person      # a COCO category id works too
*,background,
,dog,animal
"""


def test_rename_merge_drop_across_two_datasets(tmp_path):
    sheet = _label_map(tmp_path, SHEET)
    via = read_dataset(_via(tmp_path, ["gun", "sword", "background", "dog"]), label_map=sheet, source="gns")
    coco = read_dataset(_coco(tmp_path, ["knife", "pedestrian", "background"]), label_map=sheet)
    assert via.class_names == coco.class_names == ["BG", "weapon", "person", "animal"]
    _, ids = via.load_mask(0)
    assert [via.class_names[i] for i in ids] == ["weapon", "weapon", "animal"]
    _, ids = coco.load_mask(0)
    assert [coco.class_names[i] for i in ids] == ["weapon", "person"]
    assert via.problems.count("dropped_by_label_map") == 1
    assert coco.problems.count("dropped_by_label_map") == 1

    merged = merge_datasets([via, coco])
    assert merged.class_names == ["BG", "weapon", "person", "animal"] and merged.num_images == 2
    masks, ids = merged.load_mask(1)
    np.testing.assert_array_equal(masks, coco.load_mask(0)[0])
    assert [merged.class_names[i] for i in ids] == ["weapon", "person"]
    assert merged.source_class_ids[merged.image_info[0]["source"]] == [0, 1, 2, 3]


def test_unmapped_labels_policies(tmp_path):
    path = _via(tmp_path, ["gun", "cat"])
    sheet = _label_map(tmp_path, "gns,gun,weapon\n")
    kept = read_dataset(path, label_map=sheet, source="gns")
    assert kept.class_names == ["BG", "weapon", "cat"]
    assert kept.problems.count("unmapped_label") == 1
    dropped = read_dataset(path, label_map=sheet, source="gns", unmapped="drop")
    assert dropped.class_names == ["BG", "weapon"] and len(dropped.load_mask(0)[1]) == 1
    with pytest.raises(DatasetError, match="'cat'"):
        read_dataset(path, label_map=sheet, source="gns", unmapped="error")


def test_label_map_errors_name_the_line(tmp_path):
    with pytest.raises(DatasetError, match="line 2"):
        LabelMap.from_csv(_label_map(tmp_path, "gns,gun,weapon\ngns,gun\n"))
    with pytest.raises(DatasetError, match="row 2"):
        LabelMap([("gns", "gun", "weapon"), ("gns", "gun", "tool")])


def test_classes_option_orders_and_subsets(tmp_path):
    dataset = read_dataset(_via(tmp_path, ["gun", "sword", "gun"]), classes=["sword", "gun", "axe"])
    assert dataset.class_names == ["BG", "sword", "gun", "axe"]
    assert [dataset.class_names[i] for i in dataset.load_mask(0)[1]] == ["gun", "sword", "gun"]


def test_unknown_reader_option(tmp_path):
    with pytest.raises(OptionError, match="class_pattern"):
        read_dataset(_via(tmp_path, ["gun"]), class_pattern="x")
    with pytest.raises(TypeError):
        read_dataset(_via(tmp_path, ["gun"]), splitt="train")


def test_class_subset_at_detection_output():
    names = ["BG", "person", "car", "dog"]
    result = {"rois": np.arange(12).reshape(3, 4), "class_ids": np.array([1, 3, 2], np.int32),
              "scores": np.array([0.9, 0.8, 0.7], np.float32), "masks": np.zeros((5, 5, 3), bool)}
    result["masks"][0, 0, 1] = True
    subset = ClassSubset(names, ["dog", "person"])
    out = subset(result)
    assert list(out["class_ids"]) == [1, 3] and out["masks"].shape == (5, 5, 2)
    assert out["masks"][0, 0, 1] and list(out["scores"]) == pytest.approx([0.9, 0.8])
    renumbered = ClassSubset(names, ["dog", "person"], renumber=True)
    assert renumbered.class_names == ["BG", "dog", "person"]
    assert list(renumbered(result)["class_ids"]) == [2, 1]
    with pytest.raises(ValueError, match="cat"):
        ClassSubset(names, ["cat"])


@pytest.mark.parametrize("relative, expected", [
    ("a.jpg", "a.jpg"), ("sub//b.jpg", "sub/b.jpg"), ("sub\\c.jpg", "sub/c.jpg"), ("./d.jpg", "d.jpg"),
    ("sub/../e.jpg", "e.jpg")])
def test_safe_join_accepts_relative_paths(tmp_path, relative, expected):
    assert safe_join(str(tmp_path), relative) == str(tmp_path / expected)


@pytest.mark.parametrize("relative", ["../x.jpg", "/abs/x.jpg", "\\\\server\\x.jpg", "C:/x.jpg", "~/x.jpg",
                                      "https://host/x.jpg", "", "a/../../x.jpg"])
def test_safe_join_refuses_escapes(tmp_path, relative):
    with pytest.raises(UnsafePathError, match="dataset folder"):
        safe_join(str(tmp_path), relative, file="ann.json", annotation="image 3")


def test_safe_join_with_a_wider_root(tmp_path):
    base = tmp_path / "annotations"
    assert safe_join(str(base), "../images/a.jpg", root=str(tmp_path)) == str(tmp_path / "images" / "a.jpg")
