"""Where train/evaluate get their train and val parts, and how the config
and the dataset agree on classes."""
import pytest
from cli_fixtures import write_via1_balloons, write_via2

from mrcnn.cli import main
from mrcnn.commands.datasets import describe_parts, load_parts, subset
from mrcnn.data.read import generic_loader
from mrcnn.commands.project import reconcile_classes
from mrcnn.config import Config, ConfigError


def config(**fields):
    c = Config()
    c.update(fields)
    return c


def ids(dataset):
    return sorted(info["id"] for info in dataset.image_info)


def test_val_fraction_split_is_stratified_and_reproducible(tmp_path):
    path = write_via2(tmp_path, count=10)
    parts, how = load_parts(generic_loader, str(path), config(), val_fraction=0.2, seed=0)
    again, _ = load_parts(generic_loader, str(path), config(), val_fraction=0.2, seed=0)
    other, _ = load_parts(generic_loader, str(path), config(), val_fraction=0.2, seed=5)
    assert len(parts["train"].image_ids) == 8 and len(parts["val"].image_ids) == 2
    assert not set(ids(parts["train"])) & set(ids(parts["val"]))
    assert ids(parts["val"]) == ids(again["val"])
    assert ids(other["val"]) != ids(parts["val"]) or ids(other["train"]) != ids(parts["train"])
    assert "--val-fraction 0.2 --seed 0" in how
    # Both parts keep the full class list with the same ids.
    assert parts["train"].class_names == parts["val"].class_names == ["BG", "a", "b"]


def test_subset_images_keep_their_masks(tmp_path):
    dataset = generic_loader(str(write_via2(tmp_path, count=4)), config())
    part = subset(dataset, [2, 3])
    for new_id, old_id in ((0, 2), (1, 3)):
        m_new, c_new = part.load_mask(new_id)
        m_old, c_old = dataset.load_mask(old_id)
        assert (m_new == m_old).all() and list(c_new) == list(c_old)


def test_no_validation_part_with_val_fraction_zero(tmp_path):
    parts, _ = load_parts(generic_loader, str(write_via2(tmp_path, count=3)), config(), val_fraction=0)
    assert parts["val"] is None and len(parts["train"].image_ids) == 3


def test_split_folders_win(tmp_path):
    write_via1_balloons(tmp_path / "train", count=3)
    write_via1_balloons(tmp_path / "val", count=2, seed=1)
    parts, how = load_parts(generic_loader, str(tmp_path), config(CLASS_NAMES=["balloon"]))
    assert len(parts["train"].image_ids) == 3 and len(parts["val"].image_ids) == 2
    assert how == "split folders train/, val/"
    # A one-class config names the class of VIA 1.x regions without one.
    assert parts["train"].class_names == ["BG", "balloon"]


def test_split_files_of_mrcnn_split_are_used(tmp_path):
    path = write_via2(tmp_path, count=10)
    assert main(["split", str(path), "--val", "0.3"]) == 0
    parts, how = load_parts(generic_loader, str(tmp_path), config())
    assert how == "split files via_region_data_train.json, via_region_data_val.json"
    assert len(parts["train"].image_ids) == 7 and len(parts["val"].image_ids) == 3
    parts, _ = load_parts(generic_loader, str(path), config())  # the file itself
    assert len(parts["val"].image_ids) == 3


def test_image_lists_of_folder_formats_are_used(tmp_path):
    # A folder of one VIA file plus train.txt / val.txt naming its images.
    write_via2(tmp_path, count=4)
    (tmp_path / "train.txt").write_text("img00.jpg\nimg01.jpg\nimg02.jpg\n")
    (tmp_path / "val.txt").write_text("img03.jpg\n")
    parts, how = load_parts(generic_loader, str(tmp_path), config())
    assert how == "image lists train.txt, val.txt"
    assert ids(parts["val"]) == ["img03.jpg"]


def test_val_dataset_flag(tmp_path):
    train = write_via2(tmp_path / "a", count=3)
    val = write_via2(tmp_path / "b", count=2, seed=3)
    parts, how = load_parts(generic_loader, str(train), config(), val_path=str(val))
    assert (len(parts["train"].image_ids), len(parts["val"].image_ids)) == (3, 2)
    assert str(val) in how


def test_describe_parts_counts_instances_per_class(tmp_path):
    dataset = generic_loader(str(write_via2(tmp_path, count=4)), config())
    counts = {}
    for i in dataset.image_ids:
        for c in dataset.load_mask(i)[1]:
            counts[dataset.class_names[c]] = counts.get(dataset.class_names[c], 0) + 1
    line = describe_parts({"train": dataset, "val": None})[0]
    expected = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
    assert line == f"train: 4 images, {sum(counts.values())} instances ({expected})"


def test_reconcile_fills_in_or_checks_the_classes():
    c = reconcile_classes(config(), ["BG", "gun", "sword"])
    assert (c.CLASS_NAMES, c.NUM_CLASSES) == (["gun", "sword"], 3)
    with pytest.raises(ConfigError, match="CLASS_NAMES is .*'sword', 'gun'"):
        reconcile_classes(config(CLASS_NAMES=["sword", "gun"]), ["BG", "gun", "sword"])
    with pytest.raises(ConfigError, match="--set NUM_CLASSES=3"):
        reconcile_classes(config(NUM_CLASSES=5), ["BG", "gun", "sword"])


def test_config_classes_select_and_order_the_dataset(tmp_path):
    path = write_via2(tmp_path, classes=("a", "b", "c"), count=6)
    dataset = generic_loader(str(path), config(CLASS_NAMES=["c", "a"]))
    assert dataset.class_names == ["BG", "c", "a"]


def test_too_few_images_to_split(tmp_path):
    path = write_via2(tmp_path, count=1)
    with pytest.raises(ConfigError, match="--val-fraction 0"):
        load_parts(generic_loader, str(path), config(), val_fraction=0.2)
