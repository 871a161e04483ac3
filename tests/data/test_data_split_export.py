"""split (deterministic, stratified, same format out) and export_coco round trips."""
import contextlib
import csv
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from data_fixtures import (coco_file, coco_polygon_ann, labelme_file, labelme_shape, shared_data,
                           via_polygon, via_project, via_region, write_image, write_json)
from mrcnn.cli import main
from mrcnn.data import export_coco, read_dataset, split_annotations, stratified_split


def pycoco(path):
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def test_stratified_split_is_deterministic_and_covers_rare_classes():
    labels = [["common"]] * 40 + [["rare", "common"]] * 3 + [["odd"]] * 2 + [[]] * 5
    train, val = stratified_split(labels, val=0.2, seed=0)
    assert (train, val) == stratified_split(labels, val=0.2, seed=0)
    assert sorted(train + val) == list(range(50)) and not set(train) & set(val)
    assert len(val) == 10
    for name in ("rare", "odd"):
        assert any(name in labels[i] for i in val) and any(name in labels[i] for i in train)
    assert any(not labels[i] for i in val)  # negatives are split too
    assert stratified_split(labels, val=0.2, seed=1) != (train, val)
    assert stratified_split(labels, val=0.0, seed=0) == (list(range(50)), [])
    with pytest.raises(ValueError):
        stratified_split(labels, val=1.0)


def test_split_gns_via_project(tmp_path):
    folder = shared_data("gns")
    result = split_annotations(folder / "via_region_data.json", val=0.25, seed=3, out_dir=tmp_path)
    train = json.loads((tmp_path / "via_region_data_train.json").read_text())
    val = json.loads((tmp_path / "via_region_data_val.json").read_text())
    assert "_via_settings" in train and "_via_attributes" in val
    assert len(train["_via_img_metadata"]) == 60 and len(val["_via_img_metadata"]) == 20
    assert not set(train["_via_img_metadata"]) & set(val["_via_img_metadata"])
    assert result.class_counts["val"]["gun"] > 0 and result.class_counts["val"]["sword"] > 0
    again = split_annotations(folder / "via_region_data.json", val=0.25, seed=3, out_dir=tmp_path / "b")
    assert again.image_keys == result.image_keys
    # the parts read back with the images where they are
    dataset = read_dataset(tmp_path / "via_region_data_val.json", image_dir=folder)
    assert dataset.num_images == 20


def test_split_coco_keeps_everything_but_the_image_list(tmp_path):
    write_image(tmp_path / "a.jpg", 10, 10)
    images = [{"id": i, "file_name": "a.jpg", "width": 10, "height": 10} for i in range(1, 11)]
    anns = [coco_polygon_ann(i, i, 1 + i % 2, [1, 1, 8, 1, 4, 8]) for i in range(1, 10)]
    data = coco_file(images, anns, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
                     licenses={"id": 1, "name": "CC"})
    path = write_json(tmp_path / "ann.json", data)
    assert main(["split", str(path), "--val", "0.3", "--seed", "0"]) == 0
    train = json.loads((tmp_path / "ann_train.json").read_text())
    val = json.loads((tmp_path / "ann_val.json").read_text())
    assert len(train["images"]) + len(val["images"]) == 10 and len(val["images"]) == 3
    assert train["categories"] == data["categories"] and train["licenses"] == data["licenses"]
    val_ids = {i["id"] for i in val["images"]}
    assert all(a["image_id"] in val_ids for a in val["annotations"])
    assert len(train["annotations"]) + len(val["annotations"]) == 9


def test_split_folder_formats_write_image_lists(tmp_path):
    for i in range(6):
        write_image(tmp_path / f"img{i}.jpg", 10, 10, seed=i)
        shapes = [labelme_shape("a" if i % 2 else "b", [(1, 1), (8, 1), (4, 8)])]
        write_json(tmp_path / f"img{i}.json", labelme_file(shapes, f"img{i}.jpg", 10, 10))
    result = split_annotations(tmp_path, val=0.34, seed=0)
    lists = {name: (tmp_path / f"{name}.txt").read_text().split() for name in ("train", "val")}
    assert sorted(lists["train"] + lists["val"]) == [f"img{i}" for i in range(6)]
    assert lists["val"] == result.image_keys["val"] and len(lists["val"]) == 2
    val = read_dataset(tmp_path, image_list=tmp_path / "val.txt")
    assert sorted(i["id"] for i in val.image_info) == sorted(lists["val"])


def test_split_openimages_csv(tmp_path):
    header = "MaskPath,ImageID,LabelName,BoxID,BoxXMin,BoxXMax,BoxYMin,BoxYMax,PredictedIoU,Clicks"
    rows = [f"m{i}.png,img{i},/m/0a,b,0,1,0,1,1," for i in range(5)]
    for i in range(5):
        write_image(tmp_path / f"img{i}.jpg", 8, 8, seed=i)
    (tmp_path / "seg.csv").write_text("\n".join([header] + rows) + "\n")
    split_annotations(tmp_path / "seg.csv", val=0.4, seed=0, out_dir=tmp_path / "out")
    with open(tmp_path / "out" / "seg_val.csv") as f:
        val = list(csv.DictReader(f))
    with open(tmp_path / "out" / "seg_train.csv") as f:
        train = list(csv.DictReader(f))
    assert len(val) == 2 and len(train) == 3 and list(val[0]) == header.split(",")


def _shapes_via(tmp_path):
    write_image(tmp_path / "imgs" / "a.jpg", 40, 50, seed=1)
    write_image(tmp_path / "imgs" / "sub" / "b.jpg", 30, 30, seed=2)
    regions = [via_region(via_polygon([5, 30, 20], [5, 8, 30]), "cat"),
               via_region({"name": "ellipse", "cx": 30, "cy": 25, "rx": 12, "ry": 5, "theta": 0.3}, "dog"),
               via_region({"name": "rect", "x": 40, "y": 30, "width": 30, "height": 30}, "dog")]  # clipped
    data = via_project({"a.jpg": regions, "sub/b.jpg": []})
    return write_json(tmp_path / "imgs" / "via.json", data)


@pytest.mark.parametrize("mode", ["rle", "polygon"])
def test_export_coco_round_trip(tmp_path, mode):
    dataset = read_dataset(_shapes_via(tmp_path))
    out = tmp_path / "out" / "instances.json"
    image_root = export_coco(dataset, out, mode=mode)
    assert image_root == str(tmp_path / "imgs")
    coco = pycoco(out)
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == dataset.class_names[1:]
    back = read_dataset(out, image_dir=image_root)
    assert back.class_names == dataset.class_names
    assert [i["file_name"] for i in back.image_info] == ["a.jpg", "sub/b.jpg"]
    for image_id in dataset.image_ids:
        masks, class_ids = dataset.load_mask(image_id)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[int(image_id)]))
        assert len(anns) == masks.shape[-1]
        back_masks, back_ids = back.load_mask(image_id)
        np.testing.assert_array_equal(back_ids, class_ids)
        for i, ann in enumerate(anns):
            exported = coco.annToMask(ann).astype(bool)
            assert ann["category_id"] == class_ids[i]
            if mode == "rle":
                np.testing.assert_array_equal(exported, masks[..., i])
                np.testing.assert_array_equal(back_masks[..., i], masks[..., i])
                assert ann["area"] == masks[..., i].sum()
            else:
                iou = (exported & masks[..., i]).sum() / (exported | masks[..., i]).sum()
                assert iou > 0.85


def test_export_coco_from_coco_keeps_crowd(tmp_path):
    write_image(tmp_path / "a.jpg", 40, 50)
    crowd = {**coco_polygon_ann(2, 1, 9, [20, 20, 45, 20, 45, 35]), "iscrowd": 1}
    data = coco_file([{"id": 1, "file_name": "a.jpg", "width": 50, "height": 40}],
                     [coco_polygon_ann(1, 1, 9, [1, 1, 30, 1, 10, 30]), crowd], [{"id": 9, "name": "x"}])
    original = write_json(tmp_path / "ann.json", data)
    dataset = read_dataset(original)
    export_coco(dataset, tmp_path / "again.json")
    exported, source = pycoco(tmp_path / "again.json"), pycoco(original)
    crowd_anns = [a for a in exported.dataset["annotations"] if a["iscrowd"]]
    assert len(crowd_anns) == 1
    np.testing.assert_array_equal(exported.annToMask(crowd_anns[0]), source.annToMask(source.anns[2]))
    plain = [a for a in exported.dataset["annotations"] if not a["iscrowd"]]
    np.testing.assert_array_equal(exported.annToMask(plain[0]), source.annToMask(source.anns[1]))
