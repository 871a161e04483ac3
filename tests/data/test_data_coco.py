"""COCO reader: the simpsons reference file and generated quirks, masks
compared with pycocotools' annToMask."""
import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from data_fixtures import coco_file, coco_polygon_ann, shared_data, write_image, write_json, write_placeholder
from mrcnn.data import COCODataset, UnsafePathError, read_coco, read_dataset


def pycoco(path):
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


@pytest.fixture(scope="module")
def simpsons(tmp_path_factory):
    """The simpsons annotations with placeholder images of the sizes they give."""
    source = shared_data("simpsons") / "instances.json"
    images = tmp_path_factory.mktemp("simpsons")
    data = json.loads(source.read_text())
    for image in data["images"]:
        write_placeholder(images / image["file_name"].replace("//", "/"), image["height"], image["width"])
    return source, images, data


def test_simpsons_427_annotations_5_classes(simpsons):
    source, images, data = simpsons
    dataset = read_coco(source, images)
    assert dataset.num_images == 404
    assert dataset.class_names == ["BG", "Homer", "Marge", "Maggie", "Lisa", "Bart"]
    kept = sum(len(info["instances"]) for info in dataset.image_info)
    # two annotations are zero-area polygons (3 points on a line): counted, not kept
    assert dataset.problems.count("degenerate_shape") == 2
    assert kept + dataset.problems.count("degenerate_shape") == len(data["annotations"]) == 427
    assert dataset.problems.count("missing_image") == 0
    for category in data["categories"]:
        class_id = dataset.map_source_class_id(f"coco.{category['id']}")
        assert dataset.class_names[class_id] == category["name"]


def test_simpsons_masks_equal_ann_to_mask(simpsons):
    source, images, data = simpsons
    dataset = read_coco(source, images)
    coco = pycoco(source)
    for image_id in dataset.image_ids[::8]:
        info = dataset.image_info[image_id]
        masks, class_ids = dataset.load_mask(image_id)
        assert dataset.load_image(image_id).shape[:2] == masks.shape[:2] == (info["height"], info["width"])
        for i, record in enumerate(info["instances"]):
            ann = coco.anns[record["annotation_id"]]
            np.testing.assert_array_equal(masks[..., i], coco.annToMask(ann).astype(bool))
            assert class_ids[i] == dataset.map_source_class_id(f"coco.{ann['category_id']}")


def test_simpsons_file_names_with_double_slash_resolve(simpsons):
    source, images, _ = simpsons
    dataset = read_coco(source, images)
    assert dataset.image_info[0]["path"] == str(images / "bart_simpson" / "pic_0000.jpg")
    assert dataset.image_info[0]["file_name"] == "bart_simpson//pic_0000.jpg"


def test_simpsons_without_pixels(simpsons):
    source, _, _ = simpsons
    dataset = read_dataset(source, missing_images="keep")
    assert dataset.num_images == 404
    assert dataset.problems.count("missing_image") == 404
    masks, _ = dataset.load_mask(0)  # sizes come from the file
    assert masks.shape[:2] == (480, 320)


def _quirky_coco(tmp_path):
    """Every COCO quirk in one small file; returns (json path, data)."""
    write_image(tmp_path / "imgs" / "sub" / "a.jpg", 40, 50, seed=1)
    write_image(tmp_path / "imgs" / "b.jpg", 30, 20, seed=2)
    write_image(tmp_path / "imgs" / "c.png", 20, 20, seed=3)
    eye = np.zeros((40, 50), dtype=np.uint8)
    eye[5:20, 10:30] = 1
    eye[25:35, 2:8] = 1
    compressed = mask_utils.encode(np.asfortranarray(eye))
    compressed["counts"] = compressed["counts"].decode("ascii")
    uncompressed = {"size": [40, 50], "counts": _uncompressed_counts(eye)}
    tri = [5.0, 5.0, 40.0, 8.0, 20.0, 35.0]
    images = [
        {"id": 11, "file_name": "sub//a.jpg", "width": 50, "height": 40},
        {"id": 12, "file_name": "b.jpg", "width": 20, "height": 30},
        {"id": 13, "file_name": "c.png", "width": 20, "height": 20},          # no annotations
    ]
    annotations = [
        coco_polygon_ann(1, 11, 7, tri),
        {**coco_polygon_ann(2, 11, 3, tri), "segmentation": json.dumps([tri, [30, 30, 45, 30, 45, 38]])},
        {**coco_polygon_ann(3, 11, 12, tri), "segmentation": compressed},
        {**coco_polygon_ann(4, 11, 7, tri), "segmentation": uncompressed},
        {**coco_polygon_ann(5, 11, 3, tri), "iscrowd": 1, "segmentation": compressed, "bbox": [2, 5, 28, 30]},
        coco_polygon_ann(6, 12, 12, [2, 2, 15, 3, 10, 25]),
        {**coco_polygon_ann(7, 12, 7, tri), "segmentation": [[1, 1, 5, 5]]},  # pycocotools: a box
    ]
    categories = [{"id": 12, "name": "kite"}, {"id": 3, "name": "person"}, {"id": 7, "name": "car"}]
    data = coco_file(images, annotations, categories, licenses={"id": 1, "name": "CC", "url": ""})
    return write_json(tmp_path / "ann.json", data), data


def _uncompressed_counts(mask):
    flat = mask.flatten(order="F")
    counts, current, run = [], 0, 0
    for value in flat:
        if value != current:
            counts.append(run)
            current, run = value, 0
        run += 1
    counts.append(run)
    return counts


def test_quirks_match_pycocotools(tmp_path):
    path, data = _quirky_coco(tmp_path)
    dataset = read_dataset(path, image_dir=tmp_path / "imgs")
    assert dataset.class_names == ["BG", "person", "car", "kite"]  # category id order
    assert dataset.map_source_class_id("coco.3") == 1 and dataset.map_source_class_id("coco.12") == 3
    assert dataset.num_images == 3
    coco = pycoco(path)
    for image_id in dataset.image_ids:
        info = dataset.image_info[image_id]
        masks, class_ids = dataset.load_mask(image_id)
        anns = [a for a in data["annotations"] if a["image_id"] == info["id"] and not a["iscrowd"]
                and a["id"] != 7]
        assert [r["annotation_id"] for r in info["instances"]] == [a["id"] for a in anns]
        for i, ann in enumerate(anns):
            ann = dict(ann)
            if isinstance(ann["segmentation"], str):
                ann["segmentation"] = json.loads(ann["segmentation"])
            expected = coco.annToMask(ann).astype(bool)
            assert expected.any()
            np.testing.assert_array_equal(masks[..., i], expected)
            assert dataset.class_names[class_ids[i]] == {3: "person", 7: "car", 12: "kite"}[ann["category_id"]]
    negative = [i["id"] for i in dataset.image_info].index(13)
    masks, class_ids = dataset.load_mask(negative)
    assert masks.shape == (20, 20, 0) and class_ids.shape == (0,)
    assert dataset.problems.count("degenerate_shape") == 1  # the 4-number polygon


def test_crowd_regions_are_kept_out_but_available(tmp_path):
    path, data = _quirky_coco(tmp_path)
    dataset = read_dataset(path, image_dir=tmp_path / "imgs")
    info = dataset.image_info[0]
    assert 5 not in [r["annotation_id"] for r in info["instances"]]
    (crowd,) = info["crowd"]
    assert crowd["class_id"] == dataset.map_source_class_id("coco.3")  # internal id
    assert crowd["bbox"] == [2.0, 5.0, 28.0, 30.0]
    masks, class_ids = dataset.load_crowd(0)
    coco = pycoco(path)
    np.testing.assert_array_equal(masks[..., 0], coco.annToMask(coco.anns[5]).astype(bool))
    assert list(class_ids) == [1]
    # the evaluator hands the segmentation to pycocotools as it is
    rle = mask_utils.frPyObjects(crowd["segmentation"], 40, 50) if isinstance(
        crowd["segmentation"]["counts"], list) else crowd["segmentation"]
    assert mask_utils.area(rle) == coco.annToMask(coco.anns[5]).sum()


@pytest.mark.parametrize("licenses", [[{"id": 1, "name": "CC"}], {"id": 1, "name": "CC"}, None])
def test_licenses_list_or_dict(tmp_path, licenses):
    write_image(tmp_path / "a.jpg", 10, 10)
    data = coco_file([{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
                     [coco_polygon_ann(1, 1, 1, [1, 1, 8, 1, 4, 8])], [{"id": 1, "name": "x"}], licenses)
    if licenses is None:
        del data["licenses"]
    dataset = read_dataset(write_json(tmp_path / "a.json", data))
    assert dataset.num_images == 1 and dataset.class_names == ["BG", "x"]


def test_broken_references_are_counted(tmp_path):
    write_image(tmp_path / "a.jpg", 10, 10)
    data = coco_file(
        [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10},
         {"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
        [coco_polygon_ann(1, 1, 1, [1, 1, 8, 1, 4, 8]), coco_polygon_ann(1, 1, 1, [1, 1, 8, 1, 4, 8]),
         coco_polygon_ann(2, 99, 1, [1, 1, 8, 1, 4, 8]), coco_polygon_ann(3, 1, 42, [1, 1, 8, 1, 4, 8]),
         {**coco_polygon_ann(4, 1, 1, []), "segmentation": []},
         {**coco_polygon_ann(5, 1, 1, []), "segmentation": {"size": [20, 20], "counts": "abc"}}],
        [{"id": 1, "name": "x"}])
    dataset = read_dataset(write_json(tmp_path / "a.json", data))
    problems = dataset.problems
    assert problems.count("duplicate_id") == 2  # image 1 twice, annotation 1 twice
    assert problems.count("orphan_annotation") == 1
    assert problems.count("unknown_class") == 1
    assert problems.count("invalid_annotation") == 1
    assert problems.count("size_mismatch") == 1
    assert "annotation 3 of image 1" in str(problems.examples["unknown_class"][0])
    assert dataset.num_images == 1 and len(dataset.image_info[0]["instances"]) == 2


def test_file_name_outside_is_refused(tmp_path):
    data = coco_file([{"id": 1, "file_name": "../../etc/passwd", "width": 10, "height": 10}], [], [])
    with pytest.raises(UnsafePathError, match="image 1"):
        COCODataset().load_coco(write_json(tmp_path / "a.json", data))


def test_category_subset_keeps_coco_ids(tmp_path):
    path, _ = _quirky_coco(tmp_path)
    dataset = read_dataset(path, image_dir=tmp_path / "imgs", classes=["kite", "car"])
    assert dataset.class_names == ["BG", "kite", "car"]
    assert dataset.map_source_class_id("coco.12") == 1 and dataset.map_source_class_id("coco.7") == 2
    assert dataset.problems.count("not_selected") == 2  # the person polygon and crowd region
