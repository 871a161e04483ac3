"""Pictures of an evaluation (mrcnn.evaluation_plots) and the class-agnostic
matching behind the confusion matrix and the worst images
(mrcnn.evaluation.match_instances / image_confusion)."""
import contextlib
import io

import numpy as np
import pytest
from eval_shapes import H, MemoryDataset, W, disk, gt_results, make_dataset, square
from pycocotools.cocoeval import COCOeval

from mrcnn import evaluation_plots as plots
from mrcnn.boxes import extract_bboxes
from mrcnn.coco_eval import build_coco_gt, load_results, results_to_coco
from mrcnn.commands.evaluate import WorstImages, ground_truth
from mrcnn.evaluation import (
    confusion_errors,
    confusion_matrix,
    evaluate_coco,
    image_confusion,
    match_instances,
)
from mrcnn.visualize import class_colors


def result(masks, class_ids, scores):
    masks = np.stack(masks, -1)
    return {"rois": extract_bboxes(masks), "class_ids": np.array(class_ids, np.int32),
            "scores": np.array(scores, np.float32), "masks": masks}


def constructed():
    """One image: a square found as a square, a disc called a square, a small
    square nobody found, a false circle elsewhere, and a low-score square on
    the missed one (below the 0.5 threshold)."""
    ds = MemoryDataset()
    ds.add_class("shapes", 1, "square")
    ds.add_class("shapes", 2, "circle")
    ds.add([square(5, 5, 20), disk(40, 55, 12), square(45, 5, 10)], [1, 2, 1])
    ds.prepare()
    pred = result([square(6, 5, 20), disk(41, 55, 12), disk(12, 60, 6), square(45, 5, 10)],
                  [1, 1, 2, 1], [0.9, 0.8, 0.7, 0.3])
    return ds, pred


# Rows ground truth, columns prediction, index 0 background.
EXPECTED = np.array([[0, 0, 1],   # the false circle
                     [1, 1, 0],   # square found; square missed
                     [0, 1, 0]])  # circle called a square


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_confusion_matrix_of_a_constructed_image_is_exact(iou_type):
    ds, pred = constructed()
    gt = ground_truth(ds, 0)
    matrix = image_confusion(gt, pred, 3, iou_type, score_threshold=0.5)
    np.testing.assert_array_equal(matrix, EXPECTED)
    assert confusion_errors(matrix) == {"missed": 1, "false": 1, "confused": 1, "errors": 3}
    # At threshold 0 the low-score square finds the missed one.
    found = image_confusion(gt, pred, 3, iou_type, score_threshold=0.0)
    np.testing.assert_array_equal(found, [[0, 0, 1], [0, 2, 0], [0, 1, 0]])
    # The COCO evaluation's confusion block (metrics.json, the plotted one) agrees.
    m = evaluate_coco(ds, results=[pred], iou_type=iou_type, progress=False,
                      confusion_score_threshold=0.5)
    np.testing.assert_array_equal(m[iou_type]["confusion"]["matrix"], EXPECTED)


def test_matching_is_greedy_by_score_and_ignores_the_class():
    # Prediction 1 scores higher and takes ground truth 0 although
    # prediction 0 overlaps it more; prediction 0 then takes ground truth 1.
    overlaps = np.array([[0.9, 0.6, 0.0],
                         [0.7, 0.0, 0.0],
                         [0.0, 0.0, 0.4]])
    gt_match, pred_match = match_instances(overlaps, [0.5, 0.9, 0.8], iou_threshold=0.5)
    np.testing.assert_array_equal(gt_match, [1, 0, -1])
    np.testing.assert_array_equal(pred_match, [1, 0, -1])
    # Every prediction says class 1: ground truth 1 (class 2) is confused.
    matrix = confusion_matrix([1, 2, 2], [1, 1, 1], gt_match, pred_match, 3)
    np.testing.assert_array_equal(matrix, [[0, 1, 0], [0, 1, 0], [1, 1, 0]])
    assert match_instances(np.zeros((0, 2)), [])[0].tolist() == [-1, -1]


def noisy_results(ds, seed=0):
    """Shifted masks, a false circle per image, random scores, a square
    called a circle in image 0."""
    rng = np.random.default_rng(seed)
    out = []
    for r in gt_results(ds):
        masks = r["masks"].copy()
        for i in range(masks.shape[-1]):
            masks[..., i] = np.roll(masks[..., i], rng.integers(-4, 5, 2), axis=(0, 1))
        extra = square(int(rng.integers(0, 40)), int(rng.integers(0, 60)), 12)
        masks = np.concatenate([masks, extra[..., None]], -1)
        class_ids = np.append(r["class_ids"], 2).astype(np.int32)
        out.append({"rois": extract_bboxes(masks), "class_ids": class_ids,
                    "scores": rng.uniform(0.3, 1.0, len(class_ids)).astype(np.float32),
                    "masks": masks})
    out[0]["class_ids"][0] = 2
    return out


def test_pr_curve_data_is_pycocotools_precision():
    ds = make_dataset()
    results = noisy_results(ds)
    m = evaluate_coco(ds, results=results, iou_type="segm", progress=False)
    data = plots.pr_curve_data(m["segm"]["pr_curves"])

    gt = build_coco_gt(ds)
    ev = COCOeval(gt, load_results(gt, results_to_coco(ds, ds.image_ids, results)), "segm")
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"]  # [T, R, K, A, M]
    np.testing.assert_allclose(data["recall"], ev.params.recThrs, atol=1e-6)
    assert data["class_ids"] == list(ev.params.catIds) == [1, 2]
    np.testing.assert_allclose(data["iou50"]["per_class"], precision[0, :, :, 0, -1].T, atol=1e-6)
    np.testing.assert_allclose(data["iou50_95"]["per_class"],
                               precision[:, :, :, 0, -1].mean(axis=0).T, atol=1e-6)
    np.testing.assert_allclose(data["iou50"]["all"], precision[0, :, :, 0, -1].mean(axis=1),
                               atol=1e-6)
    # The curves are not trivial, and their means are COCO's headline numbers.
    assert 0.2 < m["segm"]["AP50"] < 1 and data["iou50"]["all"].std() > 0
    assert np.mean(data["iou50"]["all"]) == pytest.approx(m["segm"]["AP50"], abs=1e-5)
    assert np.mean(data["iou50_95"]["all"]) == pytest.approx(m["segm"]["AP"], abs=1e-5)


def colour_pixels(pixels, rgb, tolerance=3):
    return int((np.abs(pixels.astype(int) - np.array(rgb)).max(-1) <= tolerance).sum())


def test_pictures_are_drawn_and_written(tmp_path):
    from PIL import Image

    ds = make_dataset()
    m = evaluate_coco(ds, results=noisy_results(ds), iou_type="segm", progress=False)
    num_classes = len(ds.class_names)

    pr = plots.plot_pr_curves(m["segm"]["pr_curves"], num_classes, "segm")
    assert pr.dtype == np.uint8 and pr.ndim == 3 and pr.std() > 10
    assert colour_pixels(pr, plots.ALL_CLASSES_RGB) > 200  # the bold all-classes lines
    for class_id in (1, 2):
        assert colour_pixels(pr, plots._class_rgb(class_id, num_classes)) > 50
    bars = plots.plot_per_class_ap(m["segm"]["per_class"])
    assert colour_pixels(bars, plots.AP_RGB, 0) > 500 and colour_pixels(bars, plots.AP50_RGB, 0) > 500
    confusion = plots.plot_confusion(m["segm"]["confusion"])
    assert colour_pixels(confusion, (8, 48, 107), 2) > 500  # Blues' darkest: the largest cell

    path = plots.save_png(bars, str(tmp_path / "sub" / "per_class_ap_segm.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), bars)


def test_row_normalised_rows_sum_to_one_or_zero():
    normalised = plots.row_normalised([[0, 0, 0], [1, 3, 0], [0, 2, 2]])
    np.testing.assert_allclose(normalised, [[0, 0, 0], [0.25, 0.75, 0], [0, 0.5, 0.5]])


def test_per_class_ap_bars_follow_the_values():
    rows = [{"name": "square", "AP": 0.8, "AP50": 0.2}, {"name": "circle", "AP": -1, "AP50": -1}]
    bars = plots.plot_per_class_ap(rows)
    # Coloured pixels per column: the bars are the tall columns (the legend's
    # patches are short).
    ap, ap50 = ((np.abs(bars.astype(int) - rgb).max(-1) == 0).sum(axis=0)
                for rgb in (plots.AP_RGB, plots.AP50_RGB))
    assert ap.max() == pytest.approx(4 * ap50.max(), rel=0.05)
    # One bar of each colour: none for the class without ground truth.
    for counts in (ap, ap50):
        tall = np.nonzero(counts > 30)[0]
        assert tall.size > 20 and tall.max() - tall.min() + 1 == tall.size
    assert np.nonzero(ap > 30)[0].max() < np.nonzero(ap50 > 30)[0].min()


def test_gallery_shows_the_image_with_most_errors_first():
    ds = make_dataset()
    results = gt_results(ds)
    # Image 2: two false circles and its square missed; image 1: one missed.
    results[2] = result([square(0, 60, 10), square(40, 0, 8), *np.moveaxis(results[2]["masks"][
        ..., :2], -1, 0)], [2, 2, 2, 2], [0.9, 0.8, 0.9, 0.9])
    results[1] = {k: (v[..., :1] if k == "masks" else v[:1]) for k, v in results[1].items()}
    worst = WorstImages(2, len(ds.class_names), "segm", score_threshold=0.5)
    for image_id in ds.image_ids:
        worst.add(image_id, f"img{image_id}", ds.load_image(image_id), ground_truth(ds, image_id),
                  results[image_id])
    assert worst.errors[2] == {"missed": 1, "false": 2, "confused": 0, "errors": 3}
    assert worst.errors[0]["errors"] == 0 and worst.errors[1]["errors"] == 1
    assert [e[0] for e in worst.kept] == [2, 1]
    assert plots.worst_images(worst.errors, 8) == [2, 1]

    gallery = plots.plot_gallery(worst.kept, ds.class_names)
    first = plots.gallery_row(ds.load_image(2), ground_truth(ds, 2), worst.kept[0][4],
                              ds.class_names, "image 2 img2: 1 missed, 2 false, 0 confused")
    np.testing.assert_array_equal(gallery[:first.shape[0]], first)
    # The false circles are drawn on the prediction side in the circle's colour.
    circle = tuple(int(round(v * 255)) for v in class_colors(len(ds.class_names))[2])
    prediction_side = first[:, W + 4:]
    assert colour_pixels(prediction_side[26:, :], circle, 0) > colour_pixels(
        first[26:, :W], circle, 0)
    assert gallery.shape[0] > 2 * H
