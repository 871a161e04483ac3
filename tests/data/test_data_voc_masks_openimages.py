"""VOC segmentation, mask folders (nucleus) and Open Images readers."""
import csv

import numpy as np
import pytest
from PIL import Image

from data_fixtures import OPENIMAGES_HEADER, shared_data, write_image, write_png, write_voc
from mrcnn.data import (DatasetError, MaskFoldersDataset, OpenImagesDataset, VOCDataset,
                        read_dataset)
from mrcnn.data.voc import VOC_CLASSES


def _voc_arrays():
    objects = np.zeros((30, 40), np.uint8)
    classes = np.zeros((30, 40), np.uint8)
    objects[2:12, 3:15], classes[2:12, 3:15] = 1, 15           # person
    objects[15:28, 20:38], classes[15:28, 20:38] = 2, 7        # car
    objects[1, :], classes[1, :] = 255, 255                    # void border
    objects[12, 3:15], classes[12, 3:15] = 255, 255
    return objects, classes


def test_voc_instances_classes_and_void(tmp_path):
    objects, classes = _voc_arrays()
    root = write_voc(tmp_path / "VOCdevkit" / "VOC2012", {"2007_000001": (objects, classes),
                                                         "2007_000002": (objects * 0, classes * 0)},
                     split={"train": ["2007_000001"], "val": ["2007_000002"]})
    dataset = read_dataset(tmp_path / "VOCdevkit")
    assert isinstance(dataset, VOCDataset)
    assert dataset.class_names == ["BG"] + list(VOC_CLASSES)
    masks, class_ids = dataset.load_mask(0)
    np.testing.assert_array_equal(masks[..., 0], objects == 1)
    np.testing.assert_array_equal(masks[..., 1], objects == 2)
    assert not masks[1].any() and not masks[12].any()  # 255 is ignored
    assert [dataset.class_names[c] for c in class_ids] == ["person", "car"]
    masks, class_ids = dataset.load_mask(1)
    assert masks.shape == (30, 40, 0) and class_ids.dtype == np.int32
    train = read_dataset(root, format="voc", split="train")
    assert [i["id"] for i in train.image_info] == ["2007_000001"]


def test_voc_rgb_export_with_labelmap(tmp_path):
    objects, classes = _voc_arrays()
    colours = {0: (0, 0, 0), 1: (250, 50, 83), 2: (51, 221, 255), 255: (224, 224, 192)}
    class_colours = {0: (0, 0, 0), 15: (10, 200, 10), 7: (200, 10, 10), 255: (224, 224, 192)}
    root = tmp_path / "cvat"
    write_image(root / "JPEGImages" / "frame.jpg", 30, 40)
    write_png(root / "SegmentationObject" / "frame.png", np.array([[colours[v] for v in row] for row in objects], np.uint8))
    write_png(root / "SegmentationClass" / "frame.png",
              np.array([[class_colours[v] for v in row] for row in classes], np.uint8))
    (root / "labelmap.txt").write_text("# label:color_rgb:parts:actions\nbackground:0,0,0::\n"
                                       "truck:200,10,10::\nwalker:10,200,10::\n")
    dataset = read_dataset(root)
    assert dataset.class_names == ["BG", "truck", "walker"]
    masks, class_ids = dataset.load_mask(0)
    assert masks.shape[-1] == 2
    by_class = {dataset.class_names[c]: masks[..., i] for i, c in enumerate(class_ids)}
    np.testing.assert_array_equal(by_class["walker"], objects == 1)
    np.testing.assert_array_equal(by_class["truck"], objects == 2)


def test_voc_label_map_drops_and_renames(tmp_path):
    objects, classes = _voc_arrays()
    write_voc(tmp_path, {"a": (objects, classes)})
    dataset = read_dataset(tmp_path, label_map={"person": "human", "car": ""}, unmapped="drop")
    assert dataset.class_names == ["BG", "human"]
    masks, class_ids = dataset.load_mask(0)
    assert list(class_ids) == [1]
    np.testing.assert_array_equal(masks[..., 0], objects == 1)


def test_voc_size_mismatch_names_the_png(tmp_path):
    objects, classes = _voc_arrays()
    write_voc(tmp_path, {"a": (objects, classes)})
    write_image(tmp_path / "JPEGImages" / "a.jpg", 31, 40)
    dataset = read_dataset(tmp_path)
    with pytest.raises(DatasetError, match="SegmentationObject") as err:
        dataset.load_mask(0)
    assert err.value.kind == "size_mismatch"


def test_nucleus_12_images_215_instances():
    folder = shared_data("nucleus")
    dataset = read_dataset(folder, class_name="nucleus")
    assert isinstance(dataset, MaskFoldersDataset)
    assert dataset.num_images == 12 and dataset.class_names == ["BG", "nucleus"]
    assert sum(len(i["instances"]) for i in dataset.image_info) == 215
    info = dataset.image_info[0]
    masks, class_ids = dataset.load_mask(0)
    assert masks.shape == (info["height"], info["width"], len(info["instances"]))
    assert (class_ids == 1).all()
    for i, record in enumerate(info["instances"]):
        expected = np.asarray(Image.open(record["shape"]["path"])) == 255
        np.testing.assert_array_equal(masks[..., i], expected)
    assert dataset.load_image(0).shape == (256, 256, 3)  # RGBA PNG, alpha dropped


def test_mask_folders_class_pattern_and_size_mismatch(tmp_path):
    for name, height in (("img1", 20), ("img2", 20)):
        write_image(tmp_path / name / "images" / f"{name}.png", height, 24, fmt="PNG")
    first = np.zeros((20, 24), np.uint8)
    first[2:6, 3:9] = 255
    write_png(tmp_path / "img1" / "masks" / "cell_0.png", first)
    write_png(tmp_path / "img1" / "masks" / "debris_0.png", first[::-1])
    write_png(tmp_path / "img1" / "masks" / "notes.png", first)
    write_png(tmp_path / "img2" / "masks" / "cell_1.png", np.zeros((10, 10), np.uint8))
    dataset = read_dataset(tmp_path, class_pattern=r"^(?P<class>[a-z]+)_\d+")
    assert dataset.class_names == ["BG", "cell", "debris"]
    assert dataset.problems.count("unlabelled_region") == 1
    masks, class_ids = dataset.load_mask(0)
    np.testing.assert_array_equal(masks[..., 0], first > 0)
    np.testing.assert_array_equal(masks[..., 1], first[::-1] > 0)
    assert [dataset.class_names[c] for c in class_ids] == ["cell", "debris"]
    with pytest.raises(DatasetError, match="cell_1.png") as err:
        dataset.load_mask(1)
    assert err.value.kind == "size_mismatch"


def _pumpkins(tmp_path, descriptions_header=False):
    """The pumpkins sample layout: masks CSV, class descriptions, small masks."""
    rows = []
    for i, (image_id, size) in enumerate((("aa01", (60, 80)), ("bb02", (40, 40)), ("cc03", (50, 50)))):
        write_image(tmp_path / "images" / f"{image_id}.jpg", *size, seed=i)
    small = np.zeros((15, 20), np.uint8)
    small[3:9, 4:12] = 255
    write_png(tmp_path / "masks" / "train-masks-a" / "aa01_m05zsy_1.png", small)
    write_png(tmp_path / "masks" / "aa01_m0cmf2_2.png", small[::-1])
    write_png(tmp_path / "masks" / "bb02_m05zsy_3.png", np.full((10, 10), 255, np.uint8))
    write_png(tmp_path / "masks" / "cc03_m0cmf2_4.png", small)
    rows = [("aa01_m05zsy_1.png", "aa01", "/m/05zsy"), ("aa01_m0cmf2_2.png", "aa01", "/m/0cmf2"),
            ("bb02_m05zsy_3.png", "bb02", "/m/05zsy"), ("cc03_m0cmf2_4.png", "cc03", "/m/0cmf2")]
    with open(tmp_path / "train-annotations-object-segmentation.csv", "w", newline="") as f:
        f.write(OPENIMAGES_HEADER + "\n")
        writer = csv.writer(f)
        for mask, image, label in rows:
            writer.writerow([mask, image, label, "box", 0.1, 0.9, 0.1, 0.9, 0.8, ""])
    header = "LabelName,DisplayName\n" if descriptions_header else ""  # v7 files have one
    (tmp_path / "class-descriptions-boxable.csv").write_text(header + "/m/05zsy,Pumpkin\n/m/0cmf2,Airplane\n")
    return tmp_path / "train-annotations-object-segmentation.csv", small


def test_openimages_pumpkins_only(tmp_path):
    csv_path, small = _pumpkins(tmp_path)
    dataset = read_dataset(csv_path, classes=["Pumpkin"])
    assert isinstance(dataset, OpenImagesDataset)
    assert dataset.class_names == ["BG", "Pumpkin"]
    assert [i["id"] for i in dataset.image_info] == ["aa01", "bb02"]  # cc03 has no pumpkin
    masks, class_ids = dataset.load_mask(0)
    assert masks.shape == (60, 80, 1) and list(class_ids) == [1]
    expected = np.asarray(Image.fromarray(small).resize((80, 60), Image.NEAREST)) > 127
    np.testing.assert_array_equal(masks[..., 0], expected)
    assert dataset.load_mask(1)[0].all()
    by_mid = read_dataset(csv_path, classes=["/m/05zsy"])
    assert by_mid.class_names == ["BG", "Pumpkin"] and by_mid.num_images == 2


def test_openimages_all_classes_and_missing_mask(tmp_path):
    csv_path, _ = _pumpkins(tmp_path, descriptions_header=True)
    (tmp_path / "masks" / "cc03_m0cmf2_4.png").unlink()
    dataset = read_dataset(csv_path)
    assert dataset.class_names == ["BG", "Airplane", "Pumpkin"]
    assert dataset.problems.count("invalid_annotation") == 1
    assert "cc03_m0cmf2_4.png" in str(dataset.problems.examples["invalid_annotation"][0])
