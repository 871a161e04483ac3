"""What a COCO evaluation tells beyond the 12 numbers: per-class AP,
precision-recall curves per class, a confusion summary, and a text table.

Used by `mrcnn.coco_eval`; the inputs are pycocotools objects after
`COCOeval.accumulate()`.
"""
import numpy as np
from pycocotools import mask as mask_utils

# The 12 numbers of COCOeval.stats, in its order.
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl",
              "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

# Labels of the background row and "missed" column of the confusion matrix.
BACKGROUND = "background"
MISSED = "missed"


def _mean_defined(values):
    # COCOeval marks "no ground truth" with -1; averaging it in would lie.
    values = np.asarray(values)
    values = values[values > -1]
    return float(np.mean(values)) if values.size else -1.0


def _class_name(class_names, class_id):
    return str(class_names[class_id]) if 0 <= class_id < len(class_names) else f"class {class_id}"


def per_class_metrics(evaluator, coco_dt, class_names):
    """Per-class AP table from an accumulated COCOeval.

    Returns: a list, one dict per category: {"class_id", "name", "AP",
    "AP50", "AP75", "AR100", "num_gt" (non-crowd), "num_det"}. Area "all",
    100 detections per image, like the headline AP.
    """
    precision = evaluator.eval["precision"]  # [T iou, R recall, K class, A area, M maxDets]
    recall = evaluator.eval["recall"]  # [T, K, A, M]
    iou_thrs = evaluator.params.iouThrs
    t50 = int(np.argmin(np.abs(iou_thrs - 0.5)))
    t75 = int(np.argmin(np.abs(iou_thrs - 0.75)))
    gt = evaluator.cocoGt
    rows = []
    for k, cat_id in enumerate(evaluator.params.catIds):
        rows.append({
            "class_id": int(cat_id),
            "name": _class_name(class_names, cat_id),
            "AP": _mean_defined(precision[:, :, k, 0, -1]),
            "AP50": _mean_defined(precision[t50, :, k, 0, -1]),
            "AP75": _mean_defined(precision[t75, :, k, 0, -1]),
            "AR100": _mean_defined(recall[:, k, 0, -1]),
            "num_gt": sum(1 for a in gt.loadAnns(gt.getAnnIds(catIds=[cat_id])) if not a["iscrowd"]),
            "num_det": len(coco_dt.getAnnIds(catIds=[cat_id])),
        })
    return rows


def pr_curves(evaluator, class_names):
    """Interpolated precision at COCO's 101 recall points, per class.

    Returns: {"recall": [101 floats], "classes": [{"class_id", "name",
    "precision_iou50", "precision_iou75", "precision_mean"}]}; precision is -1
    for a class without ground truth ("precision_mean" averages the IoU
    thresholds 0.5:0.95).
    """
    precision = evaluator.eval["precision"]
    iou_thrs = evaluator.params.iouThrs
    t50 = int(np.argmin(np.abs(iou_thrs - 0.5)))
    t75 = int(np.argmin(np.abs(iou_thrs - 0.75)))
    classes = []
    for k, cat_id in enumerate(evaluator.params.catIds):
        p = precision[:, :, k, 0, -1]  # [T, R]
        defined = (p > -1).all(axis=0)
        mean = np.where(defined, p.mean(axis=0), -1.0)
        classes.append({
            "class_id": int(cat_id), "name": _class_name(class_names, cat_id),
            "precision_iou50": np.round(p[t50], 6).tolist(),
            "precision_iou75": np.round(p[t75], 6).tolist(),
            "precision_mean": np.round(mean, 6).tolist()})
    return {"recall": np.round(evaluator.params.recThrs, 6).tolist(), "classes": classes}


def _ious(dets, gts, key, crowd):
    if not dets or not gts:
        return np.zeros((len(dets), len(gts)))
    return np.asarray(mask_utils.iou([d[key] for d in dets], [g[key] for g in gts],
                                     [int(crowd)] * len(gts))).reshape(len(dets), len(gts))


def confusion_summary(coco_gt, coco_dt, iou_type, class_names,
                      score_threshold=0.5, iou_threshold=0.5):
    """Which class is predicted for which ground truth.

    Detections with score >= `score_threshold`, best first, are matched to
    the unmatched ground-truth instance (of any class) they overlap most,
    when IoU >= `iou_threshold`. A detection matching nothing is a
    background detection (row 0) unless it lies on a crowd region (then
    ignored, as COCO does); a ground truth matching nothing is missed
    (column 0).

    Returns: {"labels": class names (index 0: background / missed),
    "matrix": [num_classes][num_classes] counts, rows = ground truth,
    columns = prediction, "top_confusions": off-diagonal cells, largest
    first, as {"gt", "predicted", "count"}, "score_threshold",
    "iou_threshold", "unknown_class_detections"}.
    """
    key = "segmentation" if iou_type == "segm" else "bbox"
    n = len(class_names)
    matrix = np.zeros((n, n), dtype=np.int64)
    unknown = 0
    for image_id in coco_gt.getImgIds():
        gts = coco_gt.imgToAnns.get(image_id, [])
        normal = [g for g in gts if not g["iscrowd"]]
        crowd = [g for g in gts if g["iscrowd"]]
        dets = sorted((d for d in coco_dt.imgToAnns.get(image_id, [])
                       if d["score"] >= score_threshold), key=lambda d: -d["score"])
        ious = _ious(dets, normal, key, crowd=False)
        crowd_ious = _ious(dets, crowd, key, crowd=True)
        matched = np.zeros(len(normal), dtype=bool)
        for i, det in enumerate(dets):
            pred = int(det["category_id"])
            if not 0 < pred < n:
                unknown += 1
                continue
            candidates = np.where(~matched & (ious[i] >= iou_threshold))[0]
            if candidates.size:
                j = candidates[np.argmax(ious[i, candidates])]
                matched[j] = True
                matrix[int(normal[j]["category_id"]), pred] += 1
            elif not (crowd_ious.shape[1] and crowd_ious[i].max() >= iou_threshold):
                matrix[0, pred] += 1
        for j in np.where(~matched)[0]:
            matrix[int(normal[j]["category_id"]), 0] += 1
    labels = [BACKGROUND] + [str(c) for c in class_names[1:]]
    top = []
    for g, p in zip(*np.nonzero(matrix)):
        if g != p:
            top.append({"gt": labels[g], "predicted": MISSED if p == 0 else labels[p],
                        "count": int(matrix[g, p])})
    top.sort(key=lambda c: -c["count"])
    return {"labels": labels, "matrix": matrix.tolist(), "top_confusions": top,
            "score_threshold": float(score_threshold), "iou_threshold": float(iou_threshold),
            "unknown_class_detections": unknown}


def _fmt(value):
    return "    -" if value is None or value < 0 else f"{value:5.3f}"


def format_metrics_table(metrics, per_class=True, max_confusions=10):
    """The metrics of `evaluate_coco` as a text table (a str, no printing)."""
    lines = [f"COCO evaluation on {metrics['num_images']} images, "
             f"{metrics['num_detections']} detections"]
    if metrics.get("seconds_per_image"):
        lines[0] += f", {metrics['seconds_per_image']:.3f} s/image"
    if metrics.get("skipped_empty_gt"):
        lines.append(f"({metrics['skipped_empty_gt']} empty ground-truth masks left out)")
    lines.append("      " + " ".join(f"{n:>5}" for n in STAT_NAMES))
    for t in metrics["iou_types"]:
        lines.append(f"{t:<5} " + " ".join(_fmt(metrics[t][n]) for n in STAT_NAMES))
    for t in metrics["iou_types"] if per_class else ():
        rows = metrics[t]["per_class"]
        width = max([len(r["name"]) for r in rows] + [5])
        lines.append("")
        lines.append(f"Per-class {t}:")
        lines.append(f"  {'class':<{width}}    AP  AP50  AP75 AR100     gt    det")
        for r in rows:
            lines.append(f"  {r['name']:<{width}} " + " ".join(
                _fmt(r[k]) for k in ("AP", "AP50", "AP75", "AR100"))
                + f" {r['num_gt']:6d} {r['num_det']:6d}")
        conf = metrics[t]["confusion"]
        if conf["top_confusions"] and max_confusions:
            lines.append(f"Confusions {t} (score >= {conf['score_threshold']:g}, "
                         f"IoU >= {conf['iou_threshold']:g}): ground truth -> predicted")
            for c in conf["top_confusions"][:max_confusions]:
                lines.append(f"  {c['gt']} -> {c['predicted']}: {c['count']}")
    return "\n".join(lines)


def print_metrics_table(metrics, file=None, **kwargs):
    """Print `format_metrics_table(metrics)` (to stdout or `file`)."""
    print(format_metrics_table(metrics, **kwargs), file=file)
