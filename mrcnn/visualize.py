"""Display and drawing functions with matterport's names and signatures.

Importing this module imports neither matplotlib nor IPython.

The plotting functions (`display_*`, `draw_boxes`, `draw_rois`, `plot_*`)
draw with pyplot as matterport's did: without an `ax` they make a new
pyplot figure, draw, and call `plt.show()`; with an `ax` they draw on it and
leave showing to the caller. Under a non-interactive backend (Agg, pdf,
svg...) they skip `plt.show()`, so a script gets no warning and the figure
stays current for a following `plt.savefig()`. They return None, as
matterport's did: in Jupyter a returned Figure would be displayed a second
time as the cell's value. The figure is `plt.gcf()` (or `ax.figure`).

`draw_instances` and `color_splash` draw into NumPy arrays (uint8 RGB, no
matplotlib) for files, TensorBoard and `splash`; they live in mrcnn.drawing
(which the library's own modules import) and are re-exported here.
"""
import html
import itertools
import sys

import numpy as np

from mrcnn.drawing import (  # noqa: F401  (matterport's names)
    apply_mask,
    class_colors,
    color_splash,
    draw_box,
    draw_instances,
    random_colors,
    side_by_side,
)
from mrcnn.drawing import caption as _caption
from mrcnn.outlines import mask_outlines

# ---------------------------------------------------------------------------
# pyplot figures, imported lazily
# ---------------------------------------------------------------------------

# matplotlib's built-in backends that cannot show a figure (for matplotlib
# versions without a backend registry).
_HEADLESS_BACKENDS = ("agg", "cairo", "pdf", "pgf", "ps", "svg", "template")


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _backend_can_show():
    """False for Agg, pdf, svg...: their `plt.show()` only warns."""
    import matplotlib

    try:
        from matplotlib.backends import BackendFilter, backend_registry

        headless = backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE)
    except ImportError:
        headless = _HEADLESS_BACKENDS
    return matplotlib.get_backend().lower() not in headless


def _axes(ax, figsize):
    """(ax, created): the given axes, or the axes of a new pyplot figure
    (figsize None: matplotlib's default size)."""
    if ax is not None:
        return ax, False
    _, ax = _pyplot().subplots(1, figsize=figsize)
    return ax, True


def _show(created):
    """plt.show() for a figure this module created, where it can be shown.

    Under a headless backend the figure stays open and current, for the
    caller's plt.savefig() (or plt.close())."""
    if created and _backend_can_show():
        _pyplot().show()


# ---------------------------------------------------------------------------
# Colours and masks (NumPy)
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# pyplot displays (matterport's; return None)
# ---------------------------------------------------------------------------


def _displayable(image):
    """An image as imshow should get it: RGB as uint8 (matterport's cast),
    single-channel arrays unchanged so that cmap/norm scale their values
    (a uint8 cast would wrap float feature maps and zero probabilities)."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 3 or image.dtype == bool:
        return image.astype(np.uint8)
    return image


def display_images(images, titles=None, cols=4, cmap=None, norm=None, interpolation=None):
    """Display the given set of images, optionally with titles, in a new
    pyplot figure (14 inches wide), then plt.show().

    images: list or array of images: RGB [H, W, 3] (shown as uint8) or
        single-channel [H, W] of any dtype (coloured by `cmap`).
    titles: optional. A list of titles to display with each image.
    cols: number of images per row.
    cmap: optional colour map of single-channel images, e.g. "Blues".
    norm: optional matplotlib Normalize instance for them.
    interpolation: optional imshow interpolation.
    """
    plt = _pyplot()
    titles = titles if titles is not None else [""] * len(images)
    # matterport's size: its row count has a spare row; only the cells that
    # hold an image get axes.
    rows = len(images) // cols + 1
    fig = plt.figure(figsize=(14, max(1, 14 * rows // cols)))
    for i, (image, title) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        ax.imshow(_displayable(image), cmap=cmap, norm=norm, interpolation=interpolation)
    _show(True)


def display_instances(image, boxes, masks, class_ids, class_names,
                      scores=None, title="",
                      figsize=(16, 16), ax=None,
                      show_mask=True, show_bbox=True,
                      colors=None, captions=None):
    """Draw instances with boxes, masks, outlines and captions.

    image: uint8 [H, W, 3].
    boxes: [N, (y1, x1, y2, x2)] in image coordinates.
    masks: bool [H, W, N].
    class_ids: int [N]. class_names: list of class names of the dataset.
    scores: (optional) confidence scores for each box.
    title: (optional) Figure title.
    show_mask, show_bbox: To show masks and bounding boxes or not.
    figsize: (optional) the size of the new figure (when no `ax`).
    ax: (optional) Matplotlib axes to draw on; without it a new pyplot
        figure is made and shown.
    colors: (optional) an array of RGB colours to use with each object.
    captions: (optional) A list of strings to use as captions for each
        object.
    """
    from matplotlib import patches
    from matplotlib.patches import Polygon

    boxes = np.asarray(boxes).reshape(-1, 4)
    N = boxes.shape[0]
    if N and not (N == masks.shape[-1] == len(class_ids)):
        raise ValueError(f"display_instances: {N} boxes, {masks.shape[-1]} masks and "
                         f"{len(class_ids)} class ids; pass one of each per instance")
    ax, created = _axes(ax, figsize)
    colors = colors or random_colors(N)

    height, width = image.shape[:2]
    ax.set_ylim(height + 10, -10)
    ax.set_xlim(-10, width + 10)
    ax.axis("off")
    ax.set_title(title if N else (title or "No instances to display"))

    masked_image = np.asarray(image).astype(np.uint32).copy()
    for i in range(N):
        color = colors[i]
        if show_bbox and np.any(boxes[i]):
            y1, x1, y2, x2 = boxes[i]
            ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, linewidth=2, alpha=0.7,
                                           linestyle="dashed", edgecolor=color, facecolor="none"))
        if captions:
            caption = captions[i]
        else:
            caption = _caption(class_names, int(class_ids[i]),
                               None if scores is None else float(scores[i]))
        if np.any(boxes[i]):
            ax.text(boxes[i][1], boxes[i][0] + 8, caption, color="w", size=11,
                    backgroundcolor="none")
        mask = masks[:, :, i]
        if show_mask:
            masked_image = apply_mask(masked_image, mask, color)
        for verts in mask_outlines(mask):
            ax.add_patch(Polygon(verts, facecolor="none", edgecolor=color))
    ax.imshow(masked_image.astype(np.uint8))
    _show(created)


def display_differences(image,
                        gt_box, gt_class_id, gt_mask,
                        pred_box, pred_class_id, pred_score, pred_mask,
                        class_names, title="", ax=None,
                        show_mask=True, show_box=True,
                        iou_threshold=0.5, score_threshold=0.5):
    """Display ground truth (green) and predictions (red) with "score / IoU"
    captions, as `display_instances` (a new figure, shown, without `ax`).

    gt_box: [G, 4], gt_class_id: int [G], gt_mask: bool [H, W, G];
    pred_box: [P, 4], pred_class_id: int [P], pred_score: float [P],
    pred_mask: bool [H, W, P].
    """
    from mrcnn.evaluation import compute_matches

    # compute_matches works on predictions sorted by score; sort here too so
    # that captions and matches refer to the same prediction.
    order = np.argsort(np.asarray(pred_score), kind="stable")[::-1]
    pred_box, pred_class_id = np.asarray(pred_box)[order], np.asarray(pred_class_id)[order]
    pred_score, pred_mask = np.asarray(pred_score)[order], pred_mask[..., order]
    gt_match, pred_match, overlaps = compute_matches(
        gt_box, gt_class_id, gt_mask, pred_box, pred_class_id, pred_score, pred_mask,
        iou_threshold=iou_threshold, score_threshold=score_threshold)
    colors = [(0, 1, 0, .8)] * len(gt_match) + [(1, 0, 0, 1)] * len(pred_match)
    class_ids = np.concatenate([gt_class_id, pred_class_id]).astype(np.int64)
    scores = np.concatenate([np.zeros([len(gt_match)]), pred_score])
    boxes = np.concatenate([np.asarray(gt_box).reshape(-1, 4), pred_box.reshape(-1, 4)])
    masks = np.concatenate([gt_mask, pred_mask], axis=-1)

    def best_iou(i):
        if pred_match[i] > -1:
            return overlaps[i, int(pred_match[i])]
        return overlaps[i].max() if overlaps.shape[1] else 0.0

    captions = [""] * len(gt_match) + [f"{pred_score[i]:.2f} / {best_iou(i):.2f}"
                                       for i in range(len(pred_match))]
    title = title or "Ground Truth and Detections\n GT=green, pred=red, captions: score/IoU"
    display_instances(image, boxes, masks, class_ids, class_names, scores, ax=ax,
                      show_bbox=show_box, show_mask=show_mask, colors=colors,
                      captions=captions, title=title)


def display_top_masks(image, mask, class_ids, class_names, limit=4):
    """Display the given image and the masks of its top `limit` classes
    (largest area) in a new figure, shown (`display_images`).

    image: [H, W, 3]. mask: bool [H, W, N]. class_ids: int [N].
    """
    to_display = [image]
    titles = ["H x W={}x{}".format(image.shape[0], image.shape[1])]
    class_ids = np.asarray(class_ids)
    unique_class_ids = np.unique(class_ids)
    mask_area = [np.sum(mask[:, :, np.where(class_ids == i)[0]]) for i in unique_class_ids]
    top_ids = [v[0] for v in sorted(zip(unique_class_ids, mask_area),
                                    key=lambda r: r[1], reverse=True) if v[1] > 0]
    for i in range(limit):
        class_id = top_ids[i] if i < len(top_ids) else -1
        # All instances of this class, numbered 1..k so they can be told apart.
        m = mask[:, :, np.where(class_ids == class_id)[0]]
        m = np.sum(m * np.arange(1, m.shape[-1] + 1), -1)
        to_display.append(m)
        titles.append(class_names[class_id] if class_id != -1 else "-")
    display_images(to_display, titles=titles, cols=limit + 1, cmap="Blues_r")


def plot_precision_recall(AP, precisions, recalls, ax=None):
    """Draw the precision-recall curve (a new figure of matplotlib's default
    size, shown, without `ax`).

    AP: Average precision at IoU >= 0.5.
    precisions: list of precision values. recalls: list of recall values.
    """
    ax, created = _axes(ax, None)
    ax.set_title("Precision-Recall Curve. AP@50 = {:.3f}".format(AP))
    ax.set_ylim(0, 1.1)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.plot(recalls, precisions)
    _show(created)


def plot_overlaps(gt_class_ids, pred_class_ids, pred_scores,
                  overlaps, class_names, threshold=0.5, ax=None):
    """Draw a grid showing how ground truth objects are classified (a new
    12 x 10 inch figure, shown, without `ax`).

    gt_class_ids: [N] int. Ground truth class IDs.
    pred_class_ids: [N] int. Predicted class IDs.
    pred_scores: [N] float. The probability scores of predicted classes.
    overlaps: [pred_boxes, gt_boxes] IoU overlaps of predictions and GT boxes.
    class_names: list of all class names in the dataset.
    threshold: Float. The prediction probability required to predict a class.
    """
    gt_class_ids = np.asarray(gt_class_ids)
    pred_class_ids = np.asarray(pred_class_ids)
    gt_class_ids = gt_class_ids[gt_class_ids != 0]
    pred_class_ids = pred_class_ids[pred_class_ids != 0]
    overlaps = np.asarray(overlaps)

    ax, created = _axes(ax, (12, 10))
    ax.imshow(overlaps, interpolation="nearest", cmap="Blues")
    ax.set_yticks(np.arange(len(pred_class_ids)))
    ax.set_yticklabels(["{} ({:.2f})".format(class_names[int(id)], pred_scores[i])
                        for i, id in enumerate(pred_class_ids)])
    ax.set_xticks(np.arange(len(gt_class_ids)))
    ax.set_xticklabels([class_names[int(id)] for id in gt_class_ids], rotation=90)

    thresh = overlaps.max() / 2. if overlaps.size else 0
    for i, j in itertools.product(range(overlaps.shape[0]), range(overlaps.shape[1])):
        text = ""
        if overlaps[i, j] > threshold:
            text = "match" if gt_class_ids[j] == pred_class_ids[i] else "wrong"
        color = ("white" if overlaps[i, j] > thresh
                 else "black" if overlaps[i, j] > 0 else "grey")
        ax.text(j, i, "{:.3f}\n{}".format(overlaps[i, j], text),
                horizontalalignment="center", verticalalignment="center",
                fontsize=9, color=color)
    ax.set_xlabel("Ground Truth")
    ax.set_ylabel("Predictions")
    if created:  # a caller's figure keeps the caller's layout
        ax.figure.tight_layout()
    _show(created)


def draw_boxes(image, boxes=None, refined_boxes=None,
               masks=None, captions=None, visibilities=None,
               title="", ax=None):
    """Draw bounding boxes and segmentation masks with different
    customizations (a new 12 x 12 inch figure, shown, without `ax`).

    image: [H, W, 3].
    boxes: [N, (y1, x1, y2, x2, class_id)] in image coordinates.
    refined_boxes: Like boxes, but draw with solid lines to show
        that they're the result of refining 'boxes'.
    masks: bool [H, W, N].
    captions: List of N titles to display on each box
    visibilities: (optional) List of values of 0, 1, or 2. Determine how
        prominent each bounding box should be.
    title: An optional title to show over the image
    ax: (optional) Matplotlib axis to draw on.
    """
    from matplotlib import lines, patches
    from matplotlib.patches import Polygon

    if boxes is None and refined_boxes is None:
        raise ValueError("draw_boxes needs boxes or refined_boxes")
    N = boxes.shape[0] if boxes is not None else refined_boxes.shape[0]
    ax, created = _axes(ax, (12, 12))
    colors = random_colors(N)

    margin = image.shape[0] // 10
    ax.set_ylim(image.shape[0] + margin, -margin)
    ax.set_xlim(-margin, image.shape[1] + margin)
    ax.axis("off")
    ax.set_title(title)

    masked_image = np.asarray(image).astype(np.uint32).copy()
    for i in range(N):
        # Box visibility: 0 grey dotted, 1 coloured dotted, 2 coloured solid.
        visibility = visibilities[i] if visibilities is not None else 1
        if visibility == 0:
            color, style, alpha = (0.5, 0.5, 0.5), "dotted", 0.5
        elif visibility == 1:
            color, style, alpha = colors[i], "dotted", 1
        else:
            color, style, alpha = colors[i], "solid", 1

        if boxes is not None:
            if not np.any(boxes[i]):
                continue  # this instance was cropped away
            y1, x1, y2, x2 = boxes[i][:4]
            ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, linewidth=2, alpha=alpha,
                                           linestyle=style, edgecolor=color, facecolor="none"))
        if refined_boxes is not None and visibility > 0:
            ry1, rx1, ry2, rx2 = np.asarray(refined_boxes[i][:4]).astype(np.int32)
            ax.add_patch(patches.Rectangle((rx1, ry1), rx2 - rx1, ry2 - ry1, linewidth=2,
                                           edgecolor=color, facecolor="none"))
            if boxes is not None:  # connect the top-left corners
                ax.add_line(lines.Line2D([x1, rx1], [y1, ry1], color=color))
        if captions is not None:
            caption = captions[i]
            if refined_boxes is not None and visibility > 0:
                y1, x1, y2, x2 = ry1, rx1, ry2, rx2
            elif boxes is None:  # an invisible refined box: caption at its corner
                y1, x1 = np.asarray(refined_boxes[i][:2]).astype(np.int32)
            ax.text(x1, y1, caption, size=11, verticalalignment="top", color="w",
                    backgroundcolor="none",
                    bbox={"facecolor": color, "alpha": 0.5, "pad": 2, "edgecolor": "none"})
        if masks is not None:
            mask = masks[:, :, i]
            masked_image = apply_mask(masked_image, mask, color)
            for verts in mask_outlines(mask):
                ax.add_patch(Polygon(verts, facecolor="none", edgecolor=color))
    ax.imshow(masked_image.astype(np.uint8))
    _show(created)


def _roi_masks(mask, rois, image_shape):
    """A function i -> bool [H, W], the mask of ROI i in image pixels, or
    None without masks.

    mask: float or bool, either [H, W, N] in image pixels or matterport's
    [N, h, w] (typically 28 x 28) in the coordinates of each ROI, pasted
    into its box and thresholded at 0.5."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    n = len(rois)
    # Image-sized first: [H, W, N] with H == N also fits [N, h, w], while a
    # small per-ROI mask is image-sized only when the image is that small.
    if mask.ndim == 3 and mask.shape[:2] == tuple(image_shape[:2]) and mask.shape[2] == n:
        return lambda i: mask[:, :, i] > 0
    if mask.ndim == 3 and mask.shape[0] == n:
        from mrcnn.data.resize import unmold_mask

        return lambda i: unmold_mask(mask[i], rois[i][:4], image_shape)
    raise ValueError(f"draw_rois: masks of shape {mask.shape} for {n} ROIs on an image of "
                     f"shape {tuple(image_shape)}; pass [N, h, w] per-ROI masks or [H, W, N]")


def draw_rois(image, rois, refined_rois, mask, class_ids, class_names, limit=10, ax=None):
    """Show up to `limit` random ROIs (matterport's model-inspection view): a
    dashed box per ROI, grey for background ones; for the others their
    refined box (solid), a line between the two, the class name and the
    mask. Prints the positive/negative counts. A new 12 x 12 inch figure,
    shown, without `ax`.

    image: [H, W, 3].
    rois: [N, (y1, x1, y2, x2)] in image pixels.
    refined_rois: [N, (y1, x1, y2, x2)] in image pixels.
    mask: None, float/bool [N, h, w] masks in ROI coordinates (matterport's
        mrcnn_mask for each ROI's class, thresholded at 0.5), or bool
        [H, W, N] in image pixels.
    class_ids: int [N], 0 for background ROIs.
    """
    from matplotlib import lines, patches

    rois = np.asarray(rois)
    refined_rois = np.asarray(refined_rois)
    class_ids = np.asarray(class_ids).astype(np.int64)
    roi_mask = _roi_masks(mask, rois, image.shape)

    ids = np.arange(rois.shape[0])
    ids = np.random.choice(ids, limit, replace=False) if ids.shape[0] > limit else ids
    ax, created = _axes(ax, (12, 12))
    if rois.shape[0] > limit:
        ax.set_title("Showing {} random ROIs out of {}".format(len(ids), rois.shape[0]))
    else:
        ax.set_title("{} ROIs".format(len(ids)))
    ax.set_ylim(image.shape[0] + 20, -20)
    ax.set_xlim(-50, image.shape[1] + 20)
    ax.axis("off")

    masked_image = np.asarray(image).astype(np.uint32).copy()
    for i, color in zip(ids, random_colors(len(ids))):
        class_id = class_ids[i]
        y1, x1, y2, x2 = rois[i][:4]
        ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, linewidth=2,
                                       edgecolor=color if class_id else "gray",
                                       facecolor="none", linestyle="dashed"))
        if not class_id:
            continue
        ry1, rx1, ry2, rx2 = refined_rois[i][:4]
        ax.add_patch(patches.Rectangle((rx1, ry1), rx2 - rx1, ry2 - ry1, linewidth=2,
                                       edgecolor=color, facecolor="none"))
        ax.add_line(lines.Line2D([x1, rx1], [y1, ry1], color=color))
        ax.text(rx1, ry1 + 8, _caption(class_names, int(class_id), None),
                color="w", size=11, backgroundcolor="none")
        if roi_mask is not None:
            masked_image = apply_mask(masked_image, roi_mask(i), color)
    ax.imshow(masked_image.astype(np.uint8))

    positive = int(np.sum(class_ids > 0))
    print("Positive ROIs: ", positive)
    print("Negative ROIs: ", int(np.sum(class_ids == 0)))
    if len(class_ids):
        print("Positive Ratio: {:.2f}".format(positive / len(class_ids)))
    _show(created)


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


def _in_notebook():
    # Only a kernel (Jupyter) renders HTML; IPython is not imported here.
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def display_table(table):
    """Display values in a table format.

    table: an iterable of rows, and each row is an iterable of values.
    Returns: the table as an HTML string (displayed in a notebook).
    """
    rows = "".join("<tr>" + "".join("<td>{:40}</td>".format(str(col)) for col in row) + "</tr>"
                   for row in table)
    text = "<table>" + rows + "</table>"
    if _in_notebook():
        from IPython.display import HTML, display

        display(HTML(text))
    return text


def display_weight_stats(model):
    """Scans all the weights in the model and returns a table of their
    name, shape, min, max and std, flagging dead (constant) and exploding
    weights.

    model: a MaskRCNN (its `keras_model` is used) or a Keras model.
    Returns: the table, a list of rows (the first is the header); displayed
    as HTML in a notebook.
    """
    keras_model = getattr(model, "keras_model", model)
    table = [["WEIGHT NAME", "SHAPE", "MIN", "MAX", "STD"]]
    for layer in keras_model.layers:
        for i, var in enumerate(layer.weights):
            w = np.asarray(var)
            name = html.escape(str(getattr(var, "path", None) or var.name))
            alert = ""
            # A conv bias (index 1) may legitimately be all zeros.
            if w.size and w.min() == w.max() and not (type(layer).__name__ == "Conv2D" and i == 1):
                alert += "<span style='color:red'>*** dead?</span>"
            if w.size and (np.abs(w.min()) > 1000 or np.abs(w.max()) > 1000):
                alert += "<span style='color:red'>*** Overflow?</span>"
            table.append([name + alert, str(w.shape),
                          "{:+9.4f}".format(w.min() if w.size else 0),
                          "{:+10.4f}".format(w.max() if w.size else 0),
                          "{:+9.4f}".format(w.std() if w.size else 0)])
    display_table(table)
    return table
