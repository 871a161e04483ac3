"""Several --dataset in one run, each with its own --label-map (COCO + VIA,
overlapping and renamed classes, a dropped class), and `predict --classes`."""
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_fixtures import paint, random_polygons, write_via2
from tiny_checkpoint import CLASS_NAMES, session_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from data_fixtures import coco_file, coco_polygon_ann, write_json, write_placeholder  # noqa: E402

from mrcnn.cli import build_parser, main  # noqa: E402
from mrcnn.commands.datasets import (  # noqa: E402
    dataset_options,
    describe_parts,
    instance_counts,
    load_parts,
    source_class_counts,
)
from mrcnn.config import Config, ConfigError  # noqa: E402
from mrcnn.data.read import generic_loader  # noqa: E402

# The COCO dataset "shop": per image, its instances' categories (gun 4,
# sword 2: weapon 6; cat 2, dropped; person 2, kept unmapped).
SHOP_IMAGES = [["gun", "sword"], ["gun", "cat"], ["sword"], ["gun"], ["cat", "person"],
               ["gun", "person"]]
SHOP_MAP = "source,source_label,target_label\n*,gun,weapon\n*,sword,weapon\n*,cat,\n"
# Detections of class b of the seeded tiny checkpoint on the two images of
# test_predict_classes_keeps_only_those, without --classes.
UNFILTERED_B = 14
STREET_MAP = "source,source_label,target_label\n*,knife,weapon\n*,man,person\n"


def write_shop(folder):
    """A COCO file of SHOP_IMAGES (64x64 placeholders, one square each)."""
    names = ["gun", "sword", "cat", "person"]
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    images, annotations = [], []
    for i, labels in enumerate(SHOP_IMAGES, 1):
        write_placeholder(folder / f"s{i}.jpg", 64, 64)
        images.append({"id": i, "file_name": f"s{i}.jpg", "height": 64, "width": 64})
        for k, label in enumerate(labels):
            x = 5 + 25 * k
            annotations.append(coco_polygon_ann(len(annotations) + 1, i, names.index(label) + 1,
                                                [x, 5, x + 20, 5, x + 20, 25, x, 25]))
    return write_json(folder / "shop.json", coco_file(images, annotations, categories))


@pytest.fixture
def two_datasets(tmp_path):
    shop = write_shop(tmp_path / "shop")
    street = write_via2(tmp_path / "street", classes=("knife", "man"), count=6)
    regions = [r for e in json.loads(street.read_text())["_via_img_metadata"].values()
               for r in e["regions"]]
    street_counts = {"weapon": sum("knife" in r["region_attributes"]["name"] for r in regions),
                     "person": sum("man" in r["region_attributes"]["name"] for r in regions)}
    (tmp_path / "shop.csv").write_text(SHOP_MAP)
    (tmp_path / "street.csv").write_text(STREET_MAP)
    return tmp_path, shop, street, street_counts


def parse(*argv):
    args = build_parser().parse_args(["train", *map(str, argv)])
    return args, dataset_options(args)


def test_two_datasets_merge_by_name_with_their_own_label_maps(two_datasets):
    root, shop, street, street_counts = two_datasets
    assert street_counts["weapon"] > 0 and street_counts["person"] > 0
    args, options = parse("--dataset", shop, "--label-map", root / "shop.csv", "--source", "shop",
                          "--dataset", street, "--label-map", root / "street.csv",
                          "--source", "street")
    parts, how = load_parts(generic_loader, args.dataset, Config(), options, val_fraction=0.2, seed=0)
    assert how.startswith("shop: stratified split") and "; street: stratified split" in how
    # The first dataset's classes first (its map's targets, then the label
    # it keeps unmapped), then the second's new ones; cat dropped.
    for part in ("train", "val"):
        assert parts[part].class_names == ["BG", "weapon", "person"]
        assert parts[part].source_names == ["shop", "street"]
    assert len(parts["train"].image_ids) + len(parts["val"].image_ids) == 12
    sources, table = source_class_counts(parts)
    assert sources == ["shop", "street"]
    assert table == {"weapon": {"shop": 6, "street": street_counts["weapon"]},
                     "person": {"shop": 2, "street": street_counts["person"]}}
    # The merged parts count the same instances (no mask drawn), cat nowhere.
    merged = {}
    for part in ("train", "val"):
        for name, n in instance_counts(parts[part]).items():
            merged[name] = merged.get(name, 0) + n
    assert merged == {"weapon": 6 + street_counts["weapon"], "person": 2 + street_counts["person"]}
    lines = describe_parts(parts)
    table_lines = lines[lines.index("merged classes (2), instances per dataset:") + 1:]
    w, p = street_counts["weapon"], street_counts["person"]
    assert [line.split() for line in table_lines] == [
        ["class", "total", "shop", "street"], ["weapon", str(6 + w), "6", str(w)],
        ["person", str(2 + p), "2", str(p)], ["all", str(8 + w + p), "8", str(w + p)]]
    # Masks load through each part, with merged ids and cat left out.
    for image_id in parts["train"].image_ids:
        masks, class_ids = parts["train"].load_mask(image_id)
        assert masks.shape[-1] == len(class_ids) and set(class_ids.tolist()) <= {1, 2}


def test_one_label_map_for_all_and_the_pairing_errors(two_datasets, tmp_path):
    root, shop, street, _ = two_datasets
    both = root / "both.csv"
    both.write_text(SHOP_MAP + STREET_MAP.split("\n", 1)[1])
    args, options = parse("--dataset", shop, "--dataset", street, "--label-map", both,
                          "--val-fraction", "0")
    parts, _ = load_parts(generic_loader, args.dataset, Config(), options, val_fraction=0)
    assert parts["train"].class_names == ["BG", "weapon", "person"] and parts["val"] is None
    args, options = parse("--dataset", shop, "--dataset", street, "--label-map", both,
                          "--label-map", both, "--label-map", both)
    with pytest.raises(ConfigError, match="--label-map is given 3 times for 2 --dataset"):
        load_parts(generic_loader, args.dataset, Config(), options)
    args, options = parse("--dataset", shop, "--dataset", street, "--val-dataset", street)
    with pytest.raises(ConfigError, match="--val-dataset"):
        load_parts(generic_loader, args.dataset, Config(), options, val_path=args.val_dataset)
    # The train command turns it into a usage error (exit 2) before a network is built.
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(shop), "--dataset", str(street), "--logs", str(tmp_path / "logs"),
              "--label-map", str(both), "--label-map", str(both), "--label-map", str(both)])
    assert exit_info.value.code == 2


def test_one_dataset_reads_as_before(two_datasets):
    root, shop, _, _ = two_datasets
    args, options = parse("--dataset", shop, "--label-map", root / "shop.csv", "--val-fraction", "0")
    assert args.dataset == [str(shop)] and options["label_map"] == [str(root / "shop.csv")]
    parts, how = load_parts(generic_loader, args.dataset, Config(), options, val_fraction=0)
    assert not hasattr(parts["train"], "source_names")
    assert parts["train"].class_names == ["BG", "weapon", "person"]
    assert instance_counts(parts["train"]) == {"weapon": 6, "person": 2}
    assert not any("merged classes" in line for line in describe_parts(parts))


def test_help_says_how_label_maps_pair():
    text = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert "once per --dataset, paired in the order given" in text
    assert "--repeat-factor-threshold T" in text
    predict = " ".join(build_parser()._subparsers._group_actions[0].choices["predict"].format_help().split())
    assert "--classes A,B" in predict


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return session_checkpoint(tmp_path_factory)


def test_class_filter_keeps_the_named_classes():
    from mrcnn.commands import UsageError
    from mrcnn.commands.predict import class_filter

    class Args:
        classes = " b ,c"

    names = ["BG", "a", "b", "c"]
    keep = class_filter(Args, names)
    result = {"rois": np.arange(16).reshape(4, 4), "class_ids": np.array([1, 2, 3, 2]),
              "scores": np.array([0.9, 0.8, 0.7, 0.6]), "masks": np.zeros((5, 5, 4), bool)}
    result["masks"][0, 0, 3] = True
    kept = keep(result)
    assert kept["class_ids"].tolist() == [2, 3, 2] and kept["scores"].tolist() == [0.8, 0.7, 0.6]
    assert kept["rois"][:, 0].tolist() == [4, 8, 12] and kept["masks"].shape == (5, 5, 3)
    assert kept["masks"][0, 0].tolist() == [False, False, True]
    Args.classes = None
    assert class_filter(Args, names) is None
    Args.classes = "a,dog,cat"
    with pytest.raises(UsageError, match=r"dog, cat are not among the model's classes \(a, b, c\)"):
        class_filter(Args, names)


def test_predict_classes_keeps_only_those(checkpoint, tmp_path, capsys):
    images = tmp_path / "images"
    rng = np.random.default_rng(0)
    for i in range(2):
        paint(images / f"img{i}.jpg", 64, 80, random_polygons(rng, 64, 80, count=2), [0, 1], seed=i)
    # Unfiltered, the seeded untrained network keeps 8 detections an image,
    # of both classes (2 of class a, 14 of class b; one run takes ~10 s).
    assert main(["predict", "--images", str(images), "--out", str(tmp_path / "b"),
                 "--weights", checkpoint, "--classes", CLASS_NAMES[1]]) == 0
    kept = json.loads((tmp_path / "b" / "coco_results.json").read_text())
    assert {r["category_id"] for r in kept} == {2} and len(kept) == UNFILTERED_B
    assert f"2 images: b {UNFILTERED_B};" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--images", str(images), "--out", str(tmp_path / "x"),
              "--weights", checkpoint, "--classes", "b,zebra"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--classes b,zebra: zebra is not among the model's classes (a, b)" in err
    assert not os.path.exists(tmp_path / "x")
