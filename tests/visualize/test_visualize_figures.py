"""matterport's display functions: each returns its Figure, nothing pops up,
notebooks show a figure once."""
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from mrcnn import visualize
from mrcnn.boxes import extract_bboxes
from mrcnn.evaluation import compute_ap

CLASS_NAMES = ["BG", "square", "circle"]


def scene():
    image = np.full((40, 50, 3), 50, np.uint8)
    masks = np.zeros((40, 50, 2), bool)
    masks[5:20, 5:20, 0] = True
    masks[22:35, 30:45, 1] = True
    return image, masks, extract_bboxes(masks), np.array([1, 2], np.int32)


def test_every_display_returns_a_figure_without_pyplot():
    image, masks, boxes, class_ids = scene()
    shifted = np.roll(masks, 3, axis=1)
    scores = np.array([0.9, 0.6])
    ap, precisions, recalls, overlaps = compute_ap(boxes, class_ids, masks, extract_bboxes(shifted),
                                                   class_ids, scores, shifted)
    figures = [
        visualize.display_images([image, image[..., 0]], titles=["a", "b"], cmap="gray"),
        visualize.display_top_masks(image, masks, class_ids, CLASS_NAMES, limit=2),
        visualize.display_differences(image, boxes, class_ids, masks, extract_bboxes(shifted),
                                      class_ids, scores, shifted, CLASS_NAMES),
        visualize.plot_precision_recall(ap, precisions, recalls),
        visualize.plot_overlaps(class_ids, class_ids, scores, overlaps, CLASS_NAMES),
        visualize.draw_boxes(image, boxes=boxes, refined_boxes=boxes + 1, masks=masks,
                             captions=["a", "b"], visibilities=[0, 2]),
        visualize.draw_rois(image, boxes, boxes + 1, masks, class_ids, CLASS_NAMES),
        visualize.display_instances(image, boxes[:0], masks[..., :0], class_ids[:0], CLASS_NAMES),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        fig.canvas.draw()  # renders without a display
    # No pyplot figure (which a GUI backend would pop up) was made.
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []
    assert len(figures[0].axes) == 2
    # display_differences captions are "score / IoU" in score order.
    captions = [t.get_text() for t in figures[2].axes[0].texts if "/" in t.get_text()]
    iou = 12 * 15 / (15 * 18)  # squares shifted 3 px: (15-3)*15 / (15*15 + 3*15)
    assert captions[0] == f"0.90 / {iou:.2f}"


def test_given_axes_are_drawn_on():
    image, masks, boxes, class_ids = scene()
    fig, _ = visualize._new_figure((4, 4))
    ax = fig.axes[0]
    assert visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, ax=ax) is fig
    assert len(ax.patches) >= 4 and len(ax.images) == 1


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


def test_notebook_shows_once(monkeypatch):
    pytest.importorskip("IPython")
    import IPython.display

    shown = []
    monkeypatch.setattr(visualize, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    image, masks, boxes, class_ids = scene()
    fig = visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES)
    assert len(shown) == 1 and shown[0].data[:4] == b"\x89PNG"
    fig._ipython_display_()  # the cell's return value: not shown twice
    assert len(shown) == 1
    fig._ipython_display_()  # shown again when asked later
    assert len(shown) == 2
    fig2, ax = visualize._new_figure((3, 3))
    visualize.plot_precision_recall(0.5, [1, 0.5], [0.5, 1], ax=ax)
    assert len(shown) == 2  # the caller's own axes are never auto-shown
