"""matterport's display functions draw into pyplot: without `ax` a new
figure that a following plt.savefig() saves (under Agg, with no warning) or
that plt.show() shows once (Jupyter); with `ax` that axes and no new figure.
The pictures are checked on the saved PNG's pixels."""
import random
import warnings

import numpy as np
import pytest
from PIL import Image

from mrcnn import visualize
from mrcnn.boxes import extract_bboxes
from mrcnn.data.resize import unmold_mask
from mrcnn.evaluation import compute_ap

plt = pytest.importorskip("matplotlib.pyplot")

CLASS_NAMES = ["BG", "square", "circle"]
BACKGROUND = (30, 60, 90)
SQUARE = (200, 200, 200)
RED, BLUE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
INLINE = "module://matplotlib_inline.backend_inline"


@pytest.fixture(autouse=True)
def agg():
    """A script's setting: the Agg backend, no figure open before or after."""
    plt.switch_backend("agg")
    plt.close("all")
    yield
    plt.close("all")
    plt.switch_backend("agg")


@pytest.fixture
def shows(monkeypatch):
    """The plt.show() calls, recorded instead of made."""
    calls = []
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: calls.append(plt.gcf()))
    return calls


def scene():
    """An 80 x 100 image: a grey square (class 1) and a disc (class 2)."""
    image = np.empty((80, 100, 3), np.uint8)
    image[:] = BACKGROUND
    masks = np.zeros((80, 100, 2), bool)
    masks[10:40, 10:40, 0] = True
    yy, xx = np.mgrid[:80, :100]
    masks[..., 1] = (yy - 50) ** 2 + (xx - 70) ** 2 <= 18 ** 2
    image[masks[..., 0]] = SQUARE
    image[masks[..., 1]] = (120, 220, 40)
    return image, masks, extract_bboxes(masks), np.array([1, 2], np.int32)


def saved(tmp_path, name="figure.png"):
    """plt.savefig() as a user script does it (no figure handle), read back."""
    path = tmp_path / name
    plt.savefig(path)
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def count(png, rgb, tol=3):
    """Pixels within `tol` of the colour, per channel."""
    return int(np.sum(np.all(np.abs(png - np.asarray(rgb)) <= tol, axis=-1)))


def non_white(png):
    return int(np.sum(np.any(png < 245, axis=-1)))


def coloured(png, spread=60):
    """Pixels whose channels differ by more than `spread`: not grey, not white."""
    return int(np.sum(png.max(axis=-1) - png.min(axis=-1) > spread))


def vivid(png):
    """Pixels of a saturated colour (channel spread > 150): drawn, not the image."""
    return int(np.sum(png.max(axis=-1) - png.min(axis=-1) > 150))


def blended(pixel, color, alpha=0.5):
    """apply_mask on a uint32 copy: truncated."""
    return tuple(np.floor(np.asarray(pixel) * (1 - alpha) + alpha * 255 * np.asarray(color[:3])))


def test_display_instances_then_plt_savefig_saves_the_drawing(tmp_path, shows):
    image, masks, boxes, class_ids = scene()
    # train_shapes.ipynb: display_instances(image, gt_bbox, gt_mask, gt_class_id, names, figsize)
    assert visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES,
                                       np.array([0.9, 0.8]), figsize=(8, 8),
                                       colors=[RED, BLUE]) is None
    assert plt.get_fignums() == [1] and shows == []
    png = saved(tmp_path)
    assert png.shape[:2] == (800, 800)
    # ~5 px per image pixel: the 30 x 30 square is ~24000 px, the disc ~27000.
    assert count(png, blended(SQUARE, RED)) > 20000
    assert count(png, blended((120, 220, 40), BLUE)) > 20000
    assert count(png, BACKGROUND) > 100000
    assert count(png, (255, 0, 0), tol=40) > 200  # the outline
    assert sum(t.get_text() == "square 0.900" for t in plt.gca().texts) == 1


def test_nucleus_detect_call_saves_image_and_outlines(tmp_path, shows):
    image, masks, boxes, class_ids = scene()
    # samples/nucleus/nucleus.py detect(): no box, no mask fill, then plt.savefig.
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, np.array([0.9, 0.8]),
                                show_bbox=False, show_mask=False, title="Predictions")
    png = saved(tmp_path)
    assert png.shape[:2] == (1600, 1600)  # matterport's figsize=(16, 16)
    assert non_white(png) > 0.25 * png.shape[0] * png.shape[1]  # not a blank canvas
    assert count(png, BACKGROUND) > 500000
    assert count(png, SQUARE) > 70000  # the square unfilled
    assert vivid(png) > 400  # the two outlines, in bright random colours
    assert plt.gca().get_title() == "Predictions"


def test_display_differences_shows_ground_truth_green_and_predictions_red(tmp_path, shows):
    image, masks, boxes, class_ids = scene()
    shifted = np.roll(masks, 3, axis=1)
    scores = np.array([0.9, 0.6])
    visualize.display_differences(image, boxes, class_ids, masks, extract_bboxes(shifted),
                                  class_ids, scores, shifted, CLASS_NAMES)
    png = saved(tmp_path)
    only_gt = blended(SQUARE, (0, 1, 0))
    both = blended(only_gt, (1, 0, 0))
    assert count(png, only_gt) > 1000  # the 3-pixel strip the prediction left
    assert count(png, both) > 50000
    captions = [t.get_text() for t in plt.gca().texts if "/" in t.get_text()]
    iou = 27 * 30 / (30 * 33)  # the square shifted 3 px
    assert captions[0] == f"0.90 / {iou:.2f}"


def test_display_top_masks_and_display_images(tmp_path, shows):
    image, masks, boxes, class_ids = scene()
    # inspect_data.ipynb: display_top_masks(image, mask, class_ids, class_names)
    visualize.display_top_masks(image, masks, class_ids, CLASS_NAMES)
    png = saved(tmp_path, "top.png")
    assert png.shape[:2] == (500, 1400)  # matterport: 14 x 14 * rows // cols inches
    assert count(png, BACKGROUND) > 5000 and count(png, SQUARE) > 1000
    assert count(png, (8, 48, 107), tol=6) > 10000  # Blues_r outside the masks
    assert len(plt.gcf().axes) == 5
    plt.close("all")

    # A float map keeps its values (a uint8 cast would make it one colour).
    ramp = np.tile(np.linspace(0, 1, 64), (64, 1))
    visualize.display_images([ramp, masks[..., 0]], titles=["ramp", "mask"], cmap="gray")
    png = saved(tmp_path, "images.png")
    grey = png[np.all(png == png[..., :1], axis=-1)]
    assert len(np.unique(grey)) > 40


def test_plot_precision_recall_and_overlaps(tmp_path, shows):
    image, masks, boxes, class_ids = scene()
    shifted = np.roll(masks, 3, axis=1)
    scores = np.array([0.9, 0.6])
    ap, precisions, recalls, overlaps = compute_ap(boxes, class_ids, masks, extract_bboxes(shifted),
                                                   class_ids, scores, shifted)
    visualize.plot_precision_recall(ap, precisions, recalls)
    png = saved(tmp_path, "pr.png")
    assert png.shape[:2] == (480, 640)  # matplotlib's default size
    assert count(png, (31, 119, 180), tol=10) > 150  # the curve, in the first colour
    plt.close("all")

    visualize.plot_overlaps(class_ids, class_ids, scores, overlaps, CLASS_NAMES)
    png = saved(tmp_path, "overlaps.png")
    assert png.shape[:2] == (1000, 1200)
    assert count(png, (8, 48, 107), tol=10) > 20000  # the diagonal: IoU ~0.8-0.9
    texts = [t.get_text() for t in plt.gca().texts]
    assert sum(text.endswith("match") for text in texts) == 2


def test_draw_boxes(tmp_path, shows):
    image, masks, boxes, class_ids = scene()
    visualize.draw_boxes(image, boxes=boxes, refined_boxes=boxes + 2, masks=masks,
                         captions=["a", "b"], visibilities=[2, 2], title="boxes")
    png = saved(tmp_path)
    assert png.shape[:2] == (1200, 1200)
    assert count(png, BACKGROUND) > 200000
    assert count(png, SQUARE) < 100  # the square is under its mask colour
    assert vivid(png) > 2000


def roi_scene():
    """Three ROIs on a flat grey image: two objects, one background."""
    image = np.full((64, 80, 3), 60, np.uint8)
    rois = np.array([[8, 8, 30, 30], [34, 40, 60, 76], [2, 50, 20, 70]], np.int32)
    class_ids = np.array([1, 2, 0], np.int32)
    small = np.zeros((3, 28, 28), np.float32)
    small[0] = 0.9  # all of ROI 0
    small[1, :14] = 0.8  # the upper half of ROI 1
    small[2] = 1.0  # a background ROI: never drawn
    return image, rois, class_ids, small


def test_draw_rois_takes_matterport_per_roi_masks(tmp_path, shows, capsys):
    image, rois, class_ids, small = roi_scene()
    random.seed(0)
    # inspect_data.ipynb: draw_rois(image, rois, refined_rois, mask_specific, class_ids, names)
    visualize.draw_rois(image, rois, rois + 1, small, class_ids, CLASS_NAMES)
    drawn = np.asarray(plt.gca().images[0].get_array())
    assert capsys.readouterr().out.splitlines()[:2] == ["Positive ROIs:  2", "Negative ROIs:  1"]
    assert plt.gca().get_title() == "3 ROIs"
    grey = [60, 60, 60]
    assert drawn[19, 19].tolist() != grey  # inside ROI 0
    assert drawn[38, 58].tolist() != grey and drawn[56, 58].tolist() == grey  # ROI 1 halves
    assert drawn[10, 60].tolist() == grey  # the background ROI
    assert drawn[50, 10].tolist() == grey  # no ROI
    full = np.stack([unmold_mask(m, roi, image.shape) for m, roi in zip(small, rois)], axis=-1)
    assert np.array_equal(np.any(drawn != 60, axis=-1), full[..., :2].any(axis=-1))
    png = saved(tmp_path)
    assert coloured(png) > 25000  # ~6 px per image pixel: the two masks, filled

    # The same masks in image pixels draw the same picture.
    random.seed(0)
    visualize.draw_rois(image, rois, rois + 1, full, class_ids, CLASS_NAMES)
    assert np.array_equal(np.asarray(plt.gca().images[0].get_array()), drawn)

    random.seed(0)
    visualize.draw_rois(image, rois, rois + 1, None, class_ids, CLASS_NAMES)
    assert not np.any(np.asarray(plt.gca().images[0].get_array()) != 60)
    with pytest.raises(ValueError, match="28, 27"):
        visualize.draw_rois(image, rois, rois, np.zeros((2, 28, 27)), class_ids, CLASS_NAMES)
    assert len(plt.get_fignums()) == 3


def test_draw_rois_limit_picks_random_rois(shows, capsys):
    image, rois, class_ids, small = roi_scene()
    np.random.seed(1)
    visualize.draw_rois(image, rois, rois + 1, small, class_ids, CLASS_NAMES, limit=2)
    assert plt.gca().get_title() == "Showing 2 random ROIs out of 3"
    assert len([p for p in plt.gca().patches if p.get_linestyle() in ("--", "dashed")]) == 2


def calls(image, masks, boxes, class_ids, axes=None):
    """Every plotting function that takes `ax`, called as matterport's
    samples call them; with `axes` ({name: Axes}) on those axes."""
    shifted = np.roll(masks, 3, axis=1)
    scores = np.array([0.9, 0.6])
    ap, precisions, recalls, overlaps = compute_ap(boxes, class_ids, masks, extract_bboxes(shifted),
                                                   class_ids, scores, shifted)
    rois_image, rois, roi_class_ids, small = roi_scene()

    def with_ax(name):
        return {} if axes is None else {"ax": axes[name]}

    return {
        "display_instances": lambda: visualize.display_instances(
            image, boxes, masks, class_ids, CLASS_NAMES, scores, **with_ax("display_instances")),
        "display_differences": lambda: visualize.display_differences(
            image, boxes, class_ids, masks, extract_bboxes(shifted), class_ids, scores, shifted,
            CLASS_NAMES, **with_ax("display_differences")),
        "draw_boxes": lambda: visualize.draw_boxes(
            image, boxes=boxes, refined_boxes=boxes + 1, **with_ax("draw_boxes")),
        "draw_rois": lambda: visualize.draw_rois(
            rois_image, rois, rois + 1, small, roi_class_ids, CLASS_NAMES, **with_ax("draw_rois")),
        "plot_precision_recall": lambda: visualize.plot_precision_recall(
            ap, precisions, recalls, **with_ax("plot_precision_recall")),
        "plot_overlaps": lambda: visualize.plot_overlaps(
            class_ids, class_ids, scores, overlaps, CLASS_NAMES, **with_ax("plot_overlaps")),
    }


def test_given_axes_are_drawn_on_without_a_new_figure(shows, capsys):
    image, masks, boxes, class_ids = scene()
    fig, grid = plt.subplots(2, 3, figsize=(6, 4))
    axes = dict(zip(calls(image, masks, boxes, class_ids), grid.ravel()))
    for name, call in calls(image, masks, boxes, class_ids, axes).items():
        ax = axes[name]
        before = plt.get_fignums()
        assert call() is None
        assert plt.get_fignums() == before == [fig.number], name
        assert ax.images or ax.lines, name
    assert shows == []  # the caller shows its own figure


def test_no_warning_under_agg_and_the_figure_stays_current(capsys):
    image, masks, boxes, class_ids = scene()
    image_calls = calls(image, masks, boxes, class_ids)
    image_calls["display_images"] = lambda: visualize.display_images([image, masks[..., 0]])
    image_calls["display_top_masks"] = lambda: visualize.display_top_masks(
        image, masks, class_ids, CLASS_NAMES)
    for name, call in image_calls.items():
        # plt.show() under Agg would warn "FigureCanvasAgg is non-interactive".
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            call()
        # The new figure is current, for the caller's plt.savefig().
        assert plt.gcf().number == max(plt.get_fignums()), name
        assert plt.gcf().axes[0].images or plt.gcf().axes[0].lines, name
    assert len(plt.get_fignums()) == len(image_calls)


@pytest.mark.parametrize("backend", [INLINE, "tkagg"])
def test_interactive_backends_show_each_new_figure_once(backend, shows, monkeypatch, capsys):
    import matplotlib

    image, masks, boxes, class_ids = scene()
    monkeypatch.setattr(matplotlib, "get_backend", lambda: backend)
    image_calls = calls(image, masks, boxes, class_ids)
    image_calls["display_images"] = lambda: visualize.display_images([image, masks[..., 0]])
    image_calls["display_top_masks"] = lambda: visualize.display_top_masks(
        image, masks, class_ids, CLASS_NAMES)
    for name, call in image_calls.items():
        before = len(shows)
        assert call() is None, name  # a returned Figure would be shown again as the cell's value
        assert len(shows) == before + 1, name
        assert shows[-1].axes, name


def test_jupyter_inline_backend_shows_once(shows, monkeypatch):
    pytest.importorskip("matplotlib_inline")
    image, masks, boxes, class_ids = scene()
    plt.switch_backend(INLINE)
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, figsize=(3, 3))
    visualize.display_images([image])
    assert len(shows) == 2
    _, ax = plt.subplots(1)
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, ax=ax)
    assert len(shows) == 2  # the caller's own axes are never shown here


def test_tables():
    html = visualize.display_table([["a", 1], ["b", 2]])
    assert html.count("<tr>") == 2 and "<td>a" in html

    class Var:
        def __init__(self, path, value):
            self.path, self.name, self.value = path, path, value

        def __array__(self, dtype=None, copy=None):
            return self.value

    class Layer:
        def __init__(self, weights):
            self.weights = weights

    class Model:
        layers = [Layer([Var("dense/kernel", np.array([[1.0, -2.0]])),
                         Var("dense/bias", np.zeros(2))]),
                  Layer([Var("big/kernel", np.array([5000.0, 1.0]))])]

    table = visualize.display_weight_stats(Model())
    assert table[0] == ["WEIGHT NAME", "SHAPE", "MIN", "MAX", "STD"]
    assert table[1][0] == "dense/kernel" and table[1][2].strip() == "-2.0000"
    assert "dead?" in table[2][0] and "Overflow?" in table[3][0]
