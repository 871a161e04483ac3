"""Pictures of an evaluation: precision-recall curves, confusion matrix,
per-class AP bars and a gallery of the worst images.

The inputs are the metrics dict of `mrcnn.coco_eval.evaluate_coco` (its
"pr_curves", "confusion" and "per_class" blocks, which pycocotools computed)
and, for the gallery, images with their ground truth and detections. The
figures are drawn with matplotlib's object-oriented API (Figure +
FigureCanvasAgg: no pyplot, no GUI backend, no global state); every
`plot_*` function returns uint8 RGB [H, W, 3] pixels, written as PNG by
`save_png` and usable as TensorBoard images.
"""
import os

import numpy as np

from mrcnn.drawing import class_colors, draw_instances, side_by_side
from mrcnn.evaluation import confusion_errors

# Colours of the "all classes" curve and of the AP / AP50 bars (RGB 0-255).
ALL_CLASSES_RGB = (0, 0, 0)
AP_RGB = (31, 119, 180)
AP50_RGB = (255, 127, 14)
# Widest gallery row in pixels; larger panels are scaled down.
GALLERY_WIDTH = 1200
# Narrower panels are drawn on the image enlarged by a whole factor, so that
# small images and their captions stay readable.
GALLERY_MIN_WIDTH = 480


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _pixels(figure):
    """uint8 RGB [H, W, 3] of a drawn Figure."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def _hex(rgb):
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _class_rgb(class_id, num_classes):
    # The colours draw_instances gives the class in the gallery.
    return tuple(int(round(v * 255)) for v in class_colors(num_classes)[class_id % num_classes])


def save_png(pixels, path):
    """Write uint8 RGB [H, W, 3] as a PNG (folders made). Returns the path."""
    from PIL import Image

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    Image.fromarray(np.asarray(pixels, np.uint8)).save(path)
    return path


def pr_curve_data(pr_curves):
    """The arrays behind `plot_pr_curves`, from metrics' "pr_curves" block
    (pycocotools' COCOeval.eval["precision"], area all, 100 detections).

    Returns: {"recall": float [R] (COCO's 101 recall points), "class_ids":
    int [K], "names": [K] str, and for "iou50" (IoU 0.5) and "iou50_95"
    (mean over IoU 0.5:0.95): {"per_class": float [K, R] with NaN for a
    class without ground truth, "all": float [R], the mean over the classes
    that have ground truth (NaN when none has), whose mean is COCO's AP50 /
    AP}}.
    """
    classes = pr_curves["classes"]
    out = {"recall": np.asarray(pr_curves["recall"], np.float64),
           "class_ids": [int(c["class_id"]) for c in classes],
           "names": [str(c["name"]) for c in classes]}
    for key, field in (("iou50", "precision_iou50"), ("iou50_95", "precision_mean")):
        per_class = np.asarray([c[field] for c in classes], np.float64).reshape(
            len(classes), len(out["recall"]))
        per_class[per_class < 0] = np.nan  # pycocotools' -1: no ground truth
        defined = ~np.isnan(per_class).all(axis=1)
        mean = per_class[defined].mean(axis=0) if defined.any() else np.full(
            len(out["recall"]), np.nan)
        out[key] = {"per_class": per_class, "all": mean}
    return out


def plot_pr_curves(pr_curves, num_classes, title=""):
    """Precision-recall curves at IoU 0.5 (left) and averaged over IoU
    0.5:0.95 (right): one line per class in its gallery colour, all classes
    together in bold black.

    pr_curves: metrics' "pr_curves" block; num_classes: with BG.
    Returns: uint8 RGB [H, W, 3].
    """
    data = pr_curve_data(pr_curves)
    figure = _figure(11, 4.8)
    panels = (("iou50", "IoU 0.5"), ("iou50_95", "IoU 0.5:0.95 (COCO's mean)"))
    for index, (key, label) in enumerate(panels):
        ax = figure.add_subplot(1, 2, index + 1)
        curves = data[key]
        for k, (class_id, name) in enumerate(zip(data["class_ids"], data["names"])):
            precision = curves["per_class"][k]
            if np.isnan(precision).all():
                continue
            ax.plot(data["recall"], precision, lw=1.2,
                    color=_hex(_class_rgb(class_id, num_classes)),
                    label=f"{name} (AP {np.mean(precision):.3f})")
        if not np.isnan(curves["all"]).all():
            ax.plot(data["recall"], curves["all"], lw=2.5, color=_hex(ALL_CLASSES_RGB),
                    label=f"all classes (AP {np.mean(curves['all']):.3f})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize="small")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _pixels(figure)


def row_normalised(matrix):
    """float [C, C]: each row divided by its sum (rows without any count: 0)."""
    matrix = np.asarray(matrix, np.float64)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def plot_confusion(confusion, title=""):
    """The confusion matrix as counts (left) and row-normalised (right).

    confusion: metrics' "confusion" block ("labels", "matrix" [C][C] rows =
    ground truth, columns = prediction, index 0 = background: row 0 false
    positives, column 0 missed ground truth, "score_threshold",
    "iou_threshold").
    Returns: uint8 RGB [H, W, 3].
    """
    matrix = np.asarray(confusion["matrix"], np.int64)
    labels = list(confusion["labels"])
    size = max(4.0, 0.55 * len(labels) + 2.5)
    figure = _figure(2 * size + 1, size)
    for index, (values, fmt, name) in enumerate(
            ((matrix, "{:d}", "counts"), (row_normalised(matrix), "{:.2f}", "row-normalised"))):
        ax = figure.add_subplot(1, 2, index + 1)
        top = values.max() if values.size and values.max() > 0 else 1
        ax.imshow(values, cmap="Blues", vmin=0, vmax=top)
        for g in range(values.shape[0]):
            for p in range(values.shape[1]):
                v = values[g, p]
                if v:
                    ax.text(p, g, fmt.format(int(v) if fmt == "{:d}" else v), ha="center",
                            va="center", fontsize="small",
                            color="white" if v > top / 2 else "black")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels)
        ax.set_xlabel("prediction (background: missed)")
        ax.set_ylabel("ground truth (background: false positive)")
        ax.set_title(f"{name}, IoU >= {confusion['iou_threshold']:g}, "
                     f"score >= {confusion['score_threshold']:g}", fontsize="medium")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _pixels(figure)


def plot_per_class_ap(per_class, title=""):
    """Bars of AP (0.5:0.95) and AP50 per class; "n/a" where the class has
    no ground truth (pycocotools' -1).

    per_class: metrics' "per_class" rows ({"name", "AP", "AP50", ...}).
    Returns: uint8 RGB [H, W, 3].
    """
    names = [r["name"] for r in per_class]
    figure = _figure(max(5.0, 0.8 * len(names) + 2), 4.5)
    ax = figure.add_subplot(1, 1, 1)
    x = np.arange(len(names))
    for offset, key, rgb in ((-0.2, "AP", AP_RGB), (0.2, "AP50", AP50_RGB)):
        values = np.asarray([r[key] for r in per_class], np.float64)
        shown = np.where(values < 0, 0.0, values)
        ax.bar(x + offset, shown, width=0.4, color=_hex(rgb), label=key)
        for xi, v in zip(x + offset, values):
            ax.text(xi, max(v, 0) + 0.01, "n/a" if v < 0 else f"{v:.2f}", ha="center",
                    va="bottom", fontsize="x-small")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45 if len(names) > 6 else 0, ha="right"
                       if len(names) > 6 else "center")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("average precision")
    ax.legend(loc="upper right")
    ax.set_title(title or "AP per class")
    figure.tight_layout()
    return _pixels(figure)


def worst_images(errors, count=8):
    """The `count` image ids with the most errors, most first (ties: the
    smaller image id first).

    errors: {image_id: `confusion_errors` dict}.
    Returns: a list of image ids.
    """
    ranked = sorted(errors, key=lambda i: (-errors[i]["errors"], i))
    return [i for i in ranked[:count] if errors[i]["errors"] > 0]


def _enlarged(image, instances, factor):
    if factor == 1:
        return image, instances
    out = dict(instances)
    out["rois"] = np.asarray(instances["rois"]).reshape(-1, 4) * factor
    if instances.get("masks") is not None:
        out["masks"] = np.asarray(instances["masks"]).repeat(factor, 0).repeat(factor, 1)
    return image.repeat(factor, 0).repeat(factor, 1), out


def gallery_row(image, gt, result, class_names, caption):
    """Ground truth | predictions of one image with a caption line above.

    image: uint8 [H, W, 3]; gt, result: result dicts ("rois", "class_ids",
    "masks"; result also "scores").
    Returns: uint8 RGB [h, w, 3]: the panel enlarged to GALLERY_MIN_WIDTH or
    scaled down to GALLERY_WIDTH, and at least as wide as the caption.
    """
    from PIL import Image, ImageDraw

    factor = max(1, -(-GALLERY_MIN_WIDTH // (2 * image.shape[1] + 4)))
    _, gt = _enlarged(image, gt, factor)
    image, result = _enlarged(image, result, factor)
    panel = side_by_side([draw_instances(image, gt, class_names),
                          draw_instances(image, result, class_names)],
                         titles=["ground truth", "prediction"])
    if panel.shape[1] > GALLERY_WIDTH:
        height = max(1, round(panel.shape[0] * GALLERY_WIDTH / panel.shape[1]))
        panel = np.asarray(Image.fromarray(panel).resize((GALLERY_WIDTH, height),
                                                         Image.BILINEAR))
    pil = Image.new("RGB", (1, 1))
    width = max(panel.shape[1], int(np.ceil(ImageDraw.Draw(pil).textlength(caption))) + 4)
    pil = Image.new("RGB", (width, 14 + panel.shape[0]), (255, 255, 255))
    pil.paste(Image.fromarray(panel), (0, 14))
    ImageDraw.Draw(pil).text((2, 1), caption, fill=(0, 0, 0))
    return np.asarray(pil)


def error_caption(image_id, reference, errors):
    """The gallery's line above an image."""
    return (f"image {image_id} {reference}: {errors['missed']} missed, {errors['false']} false, "
            f"{errors['confused']} confused")


def stack_rows(rows, gap=6):
    """Rows of different widths one below the other on white.
    Returns: uint8 RGB [sum H + gaps, max W, 3]."""
    width = max(r.shape[1] for r in rows)
    height = sum(r.shape[0] for r in rows) + gap * (len(rows) - 1)
    canvas = np.full((height, width, 3), 255, np.uint8)
    y = 0
    for row in rows:
        canvas[y:y + row.shape[0], :row.shape[1]] = row
        y += row.shape[0] + gap
    return canvas


def plot_gallery(entries, class_names):
    """The worst images, one row each: ground truth | predictions.

    entries: [(image_id, reference, image uint8 [H, W, 3], gt dict, result
    dict, confusion matrix int [C, C])], in the order to show.
    Returns: uint8 RGB [H, W, 3], or None without entries.
    """
    if not entries:
        return None
    return stack_rows([gallery_row(image, gt, result, class_names,
                                   error_caption(image_id, reference, confusion_errors(matrix)))
                       for image_id, reference, image, gt, result, matrix in entries])
