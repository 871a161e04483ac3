"""Rendering tests on synthetic shapes images: pixel colours inside and outside masks."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mrcnn import visualize
from mrcnn.boxes import extract_bboxes

H, W = 96, 128
CLASS_NAMES = ["BG", "square", "circle"]
BACKGROUND = np.array([30, 60, 90], np.uint8)
RED, BLUE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)


def shapes_image():
    """A plain image with a square (class 1) and a circle (class 2)."""
    image = np.empty((H, W, 3), np.uint8)
    image[:] = BACKGROUND
    masks = np.zeros((H, W, 2), bool)
    masks[10:50, 10:50, 0] = True
    yy, xx = np.mgrid[:H, :W]
    masks[..., 1] = (yy - 60) ** 2 + (xx - 90) ** 2 <= 25 ** 2
    image[masks[..., 0]] = (200, 200, 200)
    image[masks[..., 1]] = (120, 220, 40)
    r = {"rois": extract_bboxes(masks), "class_ids": np.array([1, 2], np.int32),
         "scores": np.array([0.99, 0.75], np.float32), "masks": masks}
    return image, r


def blend(pixel, color, alpha=0.5):
    return np.asarray(pixel) * (1 - alpha) + alpha * 255 * np.asarray(color)


def test_import_has_no_side_effects():
    code = ("import sys, mrcnn.visualize; "
            "print(sorted(m for m in ('matplotlib', 'IPython', 'skimage') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_draw_instances_colours_inside_and_outside(tmp_path):
    image, r = shapes_image()
    drawn = visualize.draw_instances(image, r, CLASS_NAMES, colors=[RED, BLUE])
    assert drawn.dtype == np.uint8 and drawn.shape == image.shape
    path = tmp_path / "instances.png"
    Image.fromarray(drawn).save(path)
    png = np.asarray(Image.open(path).convert("RGB"))
    # Inside each mask, away from outline, box and caption: the blend.
    assert png[35, 30].tolist() == np.round(blend((200, 200, 200), RED)).tolist()
    assert png[70, 90].tolist() == np.round(blend((120, 220, 40), BLUE)).tolist()
    # Outside all masks and boxes: the image untouched.
    assert png[90, 5].tolist() == BACKGROUND.tolist()
    assert png[5, 70].tolist() == BACKGROUND.tolist()
    # The box outline and the mask outline are in the instance colour.
    assert png[30, 10].tolist() == [255, 0, 0]
    assert png[60, 65].tolist() == [0, 0, 255]  # leftmost column of the circle
    # The input is not modified.
    assert image[35, 30].tolist() == [200, 200, 200]


def test_draw_instances_default_colours_follow_class():
    image, r = shapes_image()
    gt = visualize.draw_instances(image, r, CLASS_NAMES)
    swapped = dict(r, rois=r["rois"][::-1], class_ids=r["class_ids"][::-1],
                   scores=r["scores"][::-1], masks=r["masks"][..., ::-1])
    assert np.array_equal(gt[35, 30], visualize.draw_instances(image, swapped, CLASS_NAMES)[35, 30])
    no_masks = visualize.draw_instances(image, {k: v for k, v in r.items() if k != "masks"},
                                        CLASS_NAMES)
    assert no_masks[35, 30].tolist() == [200, 200, 200]


def test_display_instances_png_pixels(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    plt.switch_backend("agg")
    image, r = shapes_image()
    _, ax = plt.subplots(1, figsize=(6, 6))
    visualize.display_instances(image, r["rois"], r["masks"], r["class_ids"], CLASS_NAMES,
                                r["scores"], ax=ax, colors=[RED, BLUE])
    path = tmp_path / "display.png"
    ax.figure.savefig(path, dpi=100)
    plt.close(ax.figure)
    png = np.asarray(Image.open(path).convert("RGB")).astype(int)

    def pixel(x, y):
        # Data (image) coordinates -> PNG row/column.
        px, py = ax.transData.transform((x, y))
        return png[int(round(png.shape[0] - py)), int(round(px))]

    # apply_mask on a uint32 copy truncates the blend.
    assert pixel(30, 35) == pytest.approx(np.floor(blend((200, 200, 200), RED)), abs=3)
    assert pixel(90, 70) == pytest.approx(np.floor(blend((120, 220, 40), BLUE)), abs=3)
    assert pixel(5, 90) == pytest.approx(BACKGROUND, abs=3)
    assert pixel(70, 5) == pytest.approx(BACKGROUND, abs=3)
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["square 0.990", "circle 0.750"]


def test_color_splash():
    image, r = shapes_image()
    splash = visualize.color_splash(image, r["masks"])
    assert splash[30, 30].tolist() == [200, 200, 200]
    gray = round(30 * 0.2125 + 60 * 0.7154 + 90 * 0.0721)
    assert splash[90, 5].tolist() == [gray] * 3
    assert visualize.color_splash(image, r["masks"][..., :0])[30, 30].tolist() == [200] * 3


def test_apply_mask_and_random_colors():
    image = np.zeros((4, 4, 3), np.float64)
    mask = np.zeros((4, 4), bool)
    mask[1, 1] = True
    out = visualize.apply_mask(image, mask, (1.0, 0.5, 0.0), alpha=0.4)
    assert out is image and out[1, 1].tolist() == pytest.approx([102, 51, 0])
    assert out[0, 0].tolist() == [0, 0, 0]
    colors = visualize.random_colors(5, seed=1)
    assert len(set(colors)) == 5 and colors == visualize.random_colors(5, seed=1)
    assert all(0 <= c <= 1 for rgb in colors for c in rgb)
