"""validate --plot: where the figures go, what they draw (pixels), the
sample grid as training sees it (resized, augmented), and the command with
its anchor advice in the text and the JSON."""
import json
import os
import sys

import numpy as np
import pytest
from data_fixtures import coco_file, coco_polygon_ann, write_image, write_json
from PIL import Image

from mrcnn.boxes import extract_bboxes
from mrcnn.cli import main
from mrcnn.config import Config
from mrcnn.data.anchor_advice import advise
from mrcnn.data.statistics import DatasetStatistics
from mrcnn.data.validate_plots import plot_paths, plot_sizes, sample_grid, training_view
from mrcnn.visualize import class_colors

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core"))
from tiny import TinyConfig, tiny_dataset  # noqa: E402  tests/core/tiny.py

TINY_YAML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tiny.yaml")


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def _runs(flags):
    """(start, end) of the runs of True in a 1-D bool array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def test_plot_paths(tmp_path):
    paths = plot_paths(str(tmp_path / "stats.png"))
    assert paths == {"histograms": str(tmp_path / "stats.png"),
                     "classes": str(tmp_path / "stats_classes.png"),
                     "sizes": str(tmp_path / "stats_sizes.png"),
                     "samples": str(tmp_path / "stats_samples.png")}
    paths = plot_paths(tmp_path / "figures")
    assert (tmp_path / "figures").is_dir()
    assert paths["sizes"] == str(tmp_path / "figures" / "sizes.png")


def test_sizes_plot_draws_a_red_line_per_anchor_scale(tmp_path):
    rng = np.random.default_rng(0)
    sides = rng.uniform(20, 300, 300).round()
    boxes = np.stack([sides, sides, np.full(300, 1024), np.full(300, 1024)], axis=1)
    advice = advise(boxes, Config())
    path = plot_sizes(str(tmp_path / "sizes.png"), advice)
    pixels = _pixels(path)
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    lines = _runs(red.sum(axis=0) > 100)  # columns red over most of an axes' height
    assert len(lines) == 10  # 5 scales, in each of the two panels
    centres = np.array([(a + b - 1) / 2 for a, b in lines[:5]])
    gaps = np.diff(centres)
    # Scales double: equal steps on the log axis.
    assert gaps.max() - gaps.min() <= 2 and gaps.min() > 20
    # The histogram's bars (tab:blue) lie between the first and the fourth
    # scale (20-300 px, scales 32..256, the bins start at 16 / 1.5).
    blue = (np.abs(pixels - [31, 119, 180]).sum(axis=-1) < 30)
    columns = np.flatnonzero(blue[:, : int(centres[-1]) + 100].sum(axis=0) > 5)
    assert columns.size and centres[0] - 40 < columns.min() < centres[0]
    assert centres[3] < columns.max() < centres[4]


def test_class_plot_bars_have_the_counts_heights(tmp_path):
    stats = DatasetStatistics(["BG", "a", "b"])
    masks = np.zeros((10, 10, 4), bool)
    for k in range(4):
        masks[k:k + 2, k:k + 3, k] = True
    stats.add_image(masks, [1, 1, 1, 2])
    stats.add_image(masks[..., :2], [1, 1])
    path = stats.plot_classes(str(tmp_path / "classes.png"))
    pixels = _pixels(path)

    def tallest(rgb):
        return (np.abs(pixels - rgb).sum(axis=-1) < 10).sum(axis=0).max()

    # Instances: a 5, b 1 (blue); images: a 2, b 1 (orange), on one y axis.
    assert tallest([31, 119, 180]) / tallest([255, 127, 14]) == pytest.approx(5 / 2, rel=0.03)
    rng = np.random.default_rng(0)
    random_masks = rng.random((30, 40, 5)) > 0.97
    random_masks[..., 2] = False  # no pixel: no box
    other = DatasetStatistics(["BG", "a"])
    other.add_image(random_masks, [1] * 5)
    expected = extract_bboxes(random_masks)[[0, 1, 3, 4]]
    np.testing.assert_array_equal(other.boxes()[:, :2], expected[:, 2:] - expected[:, :2])
    assert stats.boxes(with_class=True).tolist() == [
        [1, 2, 3, 10, 10], [1, 2, 3, 10, 10], [1, 2, 3, 10, 10], [2, 2, 3, 10, 10],
        [1, 2, 3, 10, 10], [1, 2, 3, 10, 10]]


def test_sample_grid_draws_the_instances_and_the_augmentation(tmp_path):
    import albumentations as A

    dataset, config = tiny_dataset(count=9), TinyConfig()
    plain = sample_grid(dataset, config, title="plain")
    flipped = sample_grid(dataset, config, A.HorizontalFlip(p=1.0), title="plain")
    # 9 tiles of 64 px (TinyConfig's IMAGE_MAX_DIM), 3 x 3, a 14 px caption
    # band above each and above the grid, 6 px apart.
    assert plain.shape == (14 + 3 * (64 + 14) + 2 * 6, 3 * 64 + 2 * 6, 3)
    assert flipped.shape == plain.shape and not np.array_equal(plain, flipped)
    # The outlines are drawn in each class's colour.
    palette = class_colors(len(dataset.class_names))
    for class_id in (1, 2):
        colour = np.round(np.array(palette[class_id][:3]) * 255).astype(int)
        assert (np.abs(plain.astype(int) - colour).sum(axis=-1) == 0).sum() > 20
    # What the grid shows is the flipped image with flipped masks.
    image, masks, class_ids = training_view(dataset, 0, config)
    image_f, masks_f, class_ids_f = training_view(dataset, 0, config, A.HorizontalFlip(p=1.0))
    np.testing.assert_array_equal(image_f, image[:, ::-1])
    np.testing.assert_array_equal(masks_f, masks[:, ::-1])
    np.testing.assert_array_equal(class_ids_f, class_ids)
    # The first tile (below the title and caption bands): the flipped grid's
    # tile has the plain tile's pixels mirrored where nothing is drawn.
    tile, tile_f = plain[28:92, :64].astype(int), flipped[28:92, :64].astype(int)
    background = ~masks.any(axis=-1) & ~masks.any(axis=-1)[:, ::-1]
    background[:14] = False  # captions
    mirrored = tile_f[:, ::-1]
    assert (np.abs(mirrored - tile)[background].sum(axis=-1) == 0).mean() > 0.9


def test_sample_grid_is_the_same_for_the_same_seed():
    from mrcnn.data.augmentation import default_augmentation

    dataset, config = tiny_dataset(count=9), TinyConfig()
    first = sample_grid(dataset, config, default_augmentation())
    again = sample_grid(dataset, config, default_augmentation())
    np.testing.assert_array_equal(first, again)


def _elongated_coco(folder):
    """Four 64x64 images, each with a horizontal bar (40x5), a vertical one
    and a 20x20 square: two thirds of the boxes have width/height 8 or 1/8."""
    images, annotations = [], []
    for i in range(4):
        write_image(folder / f"{i}.jpg", 64, 64, seed=i)
        images.append({"id": i + 1, "file_name": f"{i}.jpg", "width": 64, "height": 64})
        for k, (x, y, w, h) in enumerate([(10, 4, 40, 5), (4, 14, 5, 40), (30, 30, 20, 20)]):
            polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
            annotations.append(coco_polygon_ann(10 * i + k + 1, i + 1, 1 + (k == 2), polygon))
    return write_json(folder / "ann.json", coco_file(
        images, annotations, [{"id": 1, "name": "bar"}, {"id": 2, "name": "square"}]))


def test_cli_plot_png_keeps_the_histograms_and_adds_figures_and_advice(tmp_path, capsys):
    path = _elongated_coco(tmp_path / "data")
    out = tmp_path / "stats.png"
    assert main(["validate", str(path), "--config", TINY_YAML, "--plot", str(out),
                 "--json", str(tmp_path / "r.json")]) == 0
    text = capsys.readouterr().out
    for name in ("stats.png", "stats_classes.png", "stats_sizes.png", "stats_samples.png"):
        assert (tmp_path / name).is_file(), name
        assert str(tmp_path / name) in text
    assert "RPN_ANCHOR_RATIOS [0.5,1,2] cover 0.25-4: 33%" in text
    assert "--set RPN_ANCHOR_RATIOS=[0.25,1,4]" in text
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["anchors"]["settings"] == {"RPN_ANCHOR_RATIOS": [0.25, 1.0, 4.0]}
    # tests/tiny.yaml: IMAGE_MAX_DIM 64 keeps the 64x64 images as they are.
    assert report["anchors"]["resize"].endswith("IMAGE_MIN_DIM=64, IMAGE_MAX_DIM=64")
    assert report["anchors"]["size_p50"] == pytest.approx(np.sqrt(40 * 5), rel=0.1)
    # The grid: 4 samples of 64 px in a row of 3 and a row of 1, at least
    # as wide as its title.
    width, height = Image.open(tmp_path / "stats_samples.png").size
    assert height == 14 + 2 * 78 + 6 and width >= 3 * 64 + 2 * 6

    # A folder, with --augment and the suggested --set: the grid changes,
    # nothing more is suggested.
    figures = tmp_path / "figures"
    assert main(["validate", str(path), "--config", TINY_YAML, "--plot", str(figures),
                 "--augment", "--set", "RPN_ANCHOR_RATIOS=[0.25,1,4]"]) == 0
    text = capsys.readouterr().out
    assert sorted(os.listdir(figures)) == ["classes.png", "histograms.png", "samples.png",
                                           "sizes.png"]
    assert "no change suggested" in text and "--set RPN" not in text
    assert not np.array_equal(_pixels(figures / "samples.png"),
                              _pixels(tmp_path / "stats_samples.png"))


def test_cli_bad_settings_and_presets_are_usage_errors(tmp_path, capsys):
    path = _elongated_coco(tmp_path / "data")
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", str(path), "--set", "IMAGE_MAX_DIM=abc"])
    assert exit_info.value.code == 2 and "IMAGE_MAX_DIM" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["validate", str(path), "--augment", "sideways"])
    assert "sideways" in capsys.readouterr().err
