"""VIA 1.x / 2.x reader: the gns reference project and generated quirks."""
import json
from collections import Counter

import numpy as np
import pytest
import skimage.draw

from data_fixtures import (shared_data, skimage_polygon, via1_export, via_polygon, via_project,
                           via_region, write_image, write_json)
from mrcnn.data import DatasetError, FormatError, UnsafePathError, VIADataset, read_dataset


def test_gns_project_reads_80_images_90_instances():
    folder = shared_data("gns")
    dataset = read_dataset(folder / "via_region_data.json")
    assert dataset.num_images == 80
    assert dataset.class_names[0] == "BG"
    assert sorted(dataset.class_names[1:]) == ["gun", "sword"]
    raw = json.loads((folder / "via_region_data.json").read_text())["_via_img_metadata"]
    by_name = {entry["filename"]: entry for entry in raw.values()}
    counts = Counter(dataset.class_names[dataset.map_source_class_id(f"via.{r['class_id']}")]
                     for info in dataset.image_info for r in info["instances"])
    assert counts == {"gun": 46, "sword": 44}
    # skimage draws a big polygon in ~30 ms: compare the pixels of every 4th image
    for image_id in dataset.image_ids[::4]:
        info = dataset.image_info[image_id]
        masks, class_ids = dataset.load_mask(image_id)
        height, width = info["height"], info["width"]
        regions = by_name[info["id"]]["regions"]
        assert masks.shape == (height, width, len(regions)) and masks.dtype == bool
        assert class_ids.dtype == np.int32
        for i, region in enumerate(regions):
            shape = region["shape_attributes"]
            expected = skimage_polygon(shape["all_points_x"], shape["all_points_y"], height, width)
            np.testing.assert_array_equal(masks[..., i], expected)
            label = next(k for k, v in region["region_attributes"]["name"].items() if v)
            assert dataset.class_names[class_ids[i]] == label


def test_gns_image_size_comes_from_the_file():
    folder = shared_data("gns")
    dataset = read_dataset(folder / "via_region_data.json")
    image_id = [i["id"] for i in dataset.image_info].index("004eb6ca27183afe.jpg")
    assert dataset.load_image(image_id).shape == (683, 1024, 3)
    assert dataset.image_info[image_id]["height"] == 683


def _two_images(tmp_path, height=40, width=50):
    write_image(tmp_path / "a.jpg", height, width, seed=1)
    write_image(tmp_path / "b.jpg", height, width, seed=2)


def test_via1_export_regions_dict_string_class(tmp_path):
    _two_images(tmp_path)
    poly = via_polygon([5, 30, 20], [5, 8, 30])
    write_json(tmp_path / "via.json", via1_export({
        "a.jpg": [via_region(poly, "balloon", attribute="type"), via_region(poly, "kite", attribute="type")],
        "b.jpg": []}))
    dataset = read_dataset(tmp_path / "via.json")
    assert dataset.class_names == ["BG", "balloon", "kite"]
    masks, class_ids = dataset.load_mask(0)
    expected = skimage_polygon([5, 30, 20], [5, 8, 30], 40, 50)
    np.testing.assert_array_equal(masks[..., 0], expected)
    assert [dataset.class_names[c] for c in class_ids] == ["balloon", "kite"]
    masks, class_ids = dataset.load_mask(1)  # no regions: a negative
    assert masks.shape == (40, 50, 0) and class_ids.shape == (0,) and class_ids.dtype == np.int32


def test_regions_dict_keeps_numeric_order(tmp_path):
    _two_images(tmp_path)
    regions = {str(i): via_region(via_polygon([i, i + 5, i], [0, 0, 5]), f"c{i}") for i in range(12)}
    write_json(tmp_path / "via.json", {"a.jpg1": {"filename": "a.jpg", "size": 1, "regions": regions}})
    dataset = read_dataset(tmp_path / "via.json")
    names = [r["label"] for r in dataset.image_info[0]["instances"]]
    assert names == [f"c{i}" for i in range(12)]


def test_file_without_attributes_has_one_class(tmp_path):
    _two_images(tmp_path)
    regions = [via_region(via_polygon([5, 30, 20], [5, 8, 30]))]
    write_json(tmp_path / "via.json", via1_export({"a.jpg": regions}))
    assert read_dataset(tmp_path / "via.json").class_names == ["BG", "object"]
    dataset = read_dataset(tmp_path / "via.json", default_class="balloon")
    assert dataset.class_names == ["BG", "balloon"]
    assert list(dataset.load_mask(0)[1]) == [1]


def test_shapes_rect_circle_ellipse_polyline(tmp_path):
    _two_images(tmp_path, 60, 80)
    regions = [
        via_region({"name": "rect", "x": 10, "y": 5, "width": 20, "height": 12}, "a"),
        via_region({"name": "circle", "cx": 40, "cy": 30, "r": 8}, "a"),
        via_region({"name": "ellipse", "cx": 40, "cy": 30, "rx": 15, "ry": 4, "theta": 0.5}, "a"),
        via_region(via_polygon([5, 30, 20], [40, 45, 58], name="polyline"), "a"),
        via_region({"name": "point", "cx": 4, "cy": 4}, "a"),
    ]
    write_json(tmp_path / "via.json", via_project({"a.jpg": regions}))
    dataset = read_dataset(tmp_path / "via.json")
    masks, _ = dataset.load_mask(0)
    assert masks.shape == (60, 80, 4)
    rect = np.zeros((60, 80), bool)
    rect[5:18, 10:31] = True  # border pixels included, as skimage.draw.polygon does
    np.testing.assert_array_equal(masks[..., 0], rect)
    circle = np.zeros((60, 80), bool)
    circle[skimage.draw.disk((30, 40), 8, shape=(60, 80))] = True
    np.testing.assert_array_equal(masks[..., 1], circle)
    ellipse = np.zeros((60, 80), bool)
    ellipse[skimage.draw.ellipse(30, 40, 4, 15, shape=(60, 80), rotation=-0.5)] = True
    np.testing.assert_array_equal(masks[..., 2], ellipse)
    # theta turns clockwise on screen: the right end of the long axis goes down
    rows, cols = np.nonzero(masks[..., 2])
    assert rows[cols.argmax()] > 30
    np.testing.assert_array_equal(masks[..., 3], skimage_polygon([5, 30, 20], [40, 45, 58], 60, 80))
    assert dataset.problems.count("skipped_point") == 1


def test_attribute_styles_and_declared_options(tmp_path):
    _two_images(tmp_path)
    poly = via_polygon([5, 30, 20], [5, 8, 30])
    attributes = {"kind": {"type": "dropdown", "options": {"cat": "", "dog": "", "cow": ""}}}
    regions = [
        via_region(poly, "dog", attribute="kind"),                          # dropdown / radio: a string
        via_region(poly, "cat", attribute="kind", style="checkbox"),        # checkbox dict
        {"shape_attributes": poly, "region_attributes": {"kind": {"cat": True, "dog": True}}},
        {"shape_attributes": poly, "region_attributes": {"kind": {"cat": False}}},
        via_region(poly, "horse", attribute="kind"),                        # not declared
        {"shape_attributes": poly, "region_attributes": {}},
    ]
    write_json(tmp_path / "via.json", via_project({"a.jpg": regions}, attributes))
    dataset = read_dataset(tmp_path / "via.json")
    assert dataset.class_names == ["BG", "cat", "dog", "cow", "horse"]  # declared order, then undeclared
    assert [dataset.class_names[c] for c in dataset.load_mask(0)[1]] == ["dog", "cat", "horse"]
    problems = dataset.problems
    assert problems.count("ambiguous_class") == 1
    assert problems.count("unlabelled_region") == 2
    assert problems.count("unknown_class") == 1
    assert problems.count("unused_class") == 1 and "cow" in str(problems.examples["unused_class"][0])
    assert "a.jpg region 2" in str(problems.examples["ambiguous_class"][0])


def test_class_attribute_choice(tmp_path):
    _two_images(tmp_path)
    poly = via_polygon([5, 30, 20], [5, 8, 30])
    region = {"shape_attributes": poly, "region_attributes": {"colour": "red", "species": "cat"}}
    write_json(tmp_path / "via.json", via_project({"a.jpg": [region]}))
    with pytest.raises(DatasetError, match="class_attribute"):
        read_dataset(tmp_path / "via.json")
    assert read_dataset(tmp_path / "via.json", class_attribute="species").class_names == ["BG", "cat"]


def test_missing_images_are_counted_and_skipped(tmp_path):
    _two_images(tmp_path)
    poly = via_polygon([5, 30, 20], [5, 8, 30])
    write_json(tmp_path / "via.json", via_project({"a.jpg": [via_region(poly, "x")],
                                                  "gone.jpg": [via_region(poly, "x")]}))
    dataset = read_dataset(tmp_path / "via.json")
    assert dataset.num_images == 1
    assert dataset.problems.count("missing_image") == 1
    assert "gone.jpg" in str(dataset.problems.examples["missing_image"][0])
    kept = read_dataset(tmp_path / "via.json", missing_images="keep")
    assert kept.num_images == 2
    with pytest.raises(DatasetError, match="gone.jpg"):
        read_dataset(tmp_path / "via.json", missing_images="error")


@pytest.mark.parametrize("filename", ["../outside.jpg", "/etc/passwd", "C:\\images\\a.jpg",
                                      "http://example.com/a.jpg", "sub/../../a.jpg"])
def test_image_paths_must_stay_inside(tmp_path, filename):
    (tmp_path / "data").mkdir()
    write_image(tmp_path / "outside.jpg", 10, 10)
    poly = via_polygon([1, 5, 3], [1, 1, 5])
    write_json(tmp_path / "data" / "via.json", via_project({filename: [via_region(poly, "x")]}))
    with pytest.raises(UnsafePathError, match="via.json"):
        read_dataset(tmp_path / "data" / "via.json")


def test_degenerate_and_malformed_regions_are_counted(tmp_path):
    _two_images(tmp_path)
    regions = [
        via_region(via_polygon([5, 30], [5, 8]), "x"),                  # 2 points
        via_region(via_polygon([5, 10, 15], [5, 10, 15]), "x"),         # on a line
        via_region(via_polygon([5, 10, 15], [5, 10]), "x"),             # lengths differ
        via_region({"name": "rect", "x": 5, "y": 5, "width": 0, "height": 4}, "x"),
        via_region({"name": "freehand", "points": []}, "x"),
        via_region(via_polygon([-5, 60, 20], [5, 8, 30]), "x"),          # outside: clipped, kept
    ]
    write_json(tmp_path / "via.json", via_project({"a.jpg": regions}))
    dataset = read_dataset(tmp_path / "via.json")
    assert dataset.problems.count("degenerate_shape") == 3
    assert dataset.problems.count("invalid_annotation") == 1
    assert dataset.problems.count("unsupported_shape") == 1
    assert dataset.problems.count("points_outside") == 1
    masks, _ = dataset.load_mask(0)
    assert masks.shape[-1] == 1
    np.testing.assert_array_equal(masks[..., 0], skimage_polygon([-5, 60, 20], [5, 8, 30], 40, 50))


def test_via3_project_is_refused_with_advice(tmp_path):
    write_json(tmp_path / "via3.json", {"project": {}, "config": {}, "attribute": {}, "file": {},
                                        "metadata": {}, "view": {}})
    with pytest.raises(FormatError, match="VIA 3"):
        VIADataset().load_via(tmp_path / "via3.json")


def test_subclass_keeps_overrides(tmp_path):
    _two_images(tmp_path)
    write_json(tmp_path / "via.json", via_project({"a.jpg": [via_region(via_polygon([5, 30, 20], [5, 8, 30]), "x")]}))

    class Mine(VIADataset):
        def image_reference(self, image_id):
            return "mine:" + self.image_info[image_id]["id"]

    dataset = read_dataset(tmp_path / "via.json", dataset_class=Mine)
    assert isinstance(dataset, Mine) and dataset.image_reference(0) == "mine:a.jpg"
    manual = Mine()
    manual.load_via(tmp_path / "via.json")
    manual.prepare()
    np.testing.assert_array_equal(manual.load_mask(0)[0], dataset.load_mask(0)[0])


def test_via2_plain_export_of_gns(tmp_path):
    folder = shared_data("gns")
    project = json.loads((folder / "via_region_data.json").read_text())
    path = tmp_path / "export.json"
    path.write_text(json.dumps(project["_via_img_metadata"]))  # "Export Annotations (as json)"
    dataset = read_dataset(path, image_dir=folder)
    assert dataset.num_images == 80
    assert sorted(dataset.class_names) == ["BG", "gun", "sword"]
    assert sum(len(i["instances"]) for i in dataset.image_info) == 90
