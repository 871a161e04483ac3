"""Evaluation: matterport's per-image VOC-style AP family, and COCO evaluation.

The compute_* functions take ground truth and predictions of one image in the
format that `MaskRCNN.detect()` returns and `load_image_gt()` gives;
`match_instances` / `image_confusion` match them regardless of class, for a
confusion matrix.

COCO evaluation of a whole Dataset through pycocotools (bbox and segm, per
class AP, precision-recall curves, confusion summary) lives in
`mrcnn.coco_eval` and `mrcnn.coco_report`; its public names are re-exported
here: `evaluate_coco`, `build_coco_gt`, `results_to_coco`,
`write_coco_results`, `evaluate_coco_results_file`, `format_metrics_table`,
`print_metrics_table`.
"""
import numpy as np

from mrcnn.boxes import compute_overlaps, compute_overlaps_masks

# The DETECTION_MIN_CONFIDENCE an evaluation detects with. AP is the area
# under the precision-recall curve of *all* detections ranked by score (COCO's
# definition; matterport's coco.py evaluated with 0 too): a deployment
# threshold cuts the curve short and measures something else.
EVALUATION_MIN_CONFIDENCE = 0.0


def trim_zeros(x):
    """It's common to have tensors larger than the available data and
    pad with zeros. This function removes rows that are all zeros.

    x: [rows, columns].
    """
    assert len(x.shape) == 2
    return x[~np.all(x == 0, axis=1)]


def compute_matches(gt_boxes, gt_class_ids, gt_masks,
                    pred_boxes, pred_class_ids, pred_scores, pred_masks,
                    iou_threshold=0.5, score_threshold=0.0):
    """Finds matches between prediction and ground truth instances.

    Returns:
        gt_match: 1-D array. For each GT box it has the index of the matched
                  predicted box, or -1.
        pred_match: 1-D array. For each predicted box, it has the index of
                    the matched ground truth box, or -1.
        overlaps: [pred_boxes, gt_boxes] IoU overlaps.
    """
    # Trim zero padding
    gt_boxes = trim_zeros(np.asarray(gt_boxes).reshape(-1, 4))
    gt_masks = gt_masks[..., :gt_boxes.shape[0]]
    pred_boxes = trim_zeros(np.asarray(pred_boxes).reshape(-1, 4))
    pred_scores = np.asarray(pred_scores)[:pred_boxes.shape[0]]
    # Sort predictions by score from high to low
    indices = np.argsort(pred_scores, kind="stable")[::-1]
    pred_boxes = pred_boxes[indices]
    pred_class_ids = np.asarray(pred_class_ids)[indices]
    pred_scores = pred_scores[indices]
    pred_masks = pred_masks[..., indices]

    # Compute IoU overlaps [pred_masks, gt_masks]
    overlaps = compute_overlaps_masks(pred_masks, gt_masks)

    # Loop through predictions and find matching ground truth boxes
    pred_match = -1 * np.ones([pred_boxes.shape[0]])
    gt_match = -1 * np.ones([gt_boxes.shape[0]])
    for i in range(len(pred_boxes)):
        # Find best matching ground truth box
        # 1. Sort matches by score
        sorted_ixs = np.argsort(overlaps[i], kind="stable")[::-1]
        # 2. Remove low scores
        low_score_idx = np.where(overlaps[i, sorted_ixs] < score_threshold)[0]
        if low_score_idx.size > 0:
            sorted_ixs = sorted_ixs[:low_score_idx[0]]
        # 3. Find the match
        for j in sorted_ixs:
            # If ground truth box is already matched, go to next one
            if gt_match[j] > -1:
                continue
            # If we reach IoU smaller than the threshold, end the loop
            iou = overlaps[i, j]
            if iou < iou_threshold:
                break
            # Do we have a match?
            if pred_class_ids[i] == gt_class_ids[j]:
                gt_match[j] = i
                pred_match[i] = j
                break

    return gt_match, pred_match, overlaps


def compute_ap(gt_boxes, gt_class_ids, gt_masks,
               pred_boxes, pred_class_ids, pred_scores, pred_masks,
               iou_threshold=0.5):
    """Compute Average Precision at a set IoU threshold (default 0.5).

    Returns:
    mAP: Mean Average Precision
    precisions: List of precisions at different class score thresholds.
    recalls: List of recall values at different class score thresholds.
    overlaps: [pred_boxes, gt_boxes] IoU overlaps.

    With no ground truth and no predictions the image is perfect (AP 1.0);
    with ground truth but no predictions, or predictions but no ground truth,
    AP is 0.0.
    """
    # Get matches and overlaps
    gt_match, pred_match, overlaps = compute_matches(
        gt_boxes, gt_class_ids, gt_masks,
        pred_boxes, pred_class_ids, pred_scores, pred_masks,
        iou_threshold)

    if len(gt_match) == 0 and len(pred_match) == 0:
        return 1.0, np.array([0, 1, 1]), np.array([0, 1, 1]), overlaps

    # Compute precision and recall at each prediction box step
    precisions = np.cumsum(pred_match > -1) / (np.arange(len(pred_match)) + 1)
    recalls = np.cumsum(pred_match > -1).astype(np.float32) / max(len(gt_match), 1)

    # Pad with start and end values to simplify the math
    precisions = np.concatenate([[0], precisions, [0]])
    recalls = np.concatenate([[0], recalls, [1]])

    # Ensure precision values decrease but don't increase. This way, the
    # precision value at each recall threshold is the maximum it can be
    # for all following recall thresholds, as specified by the VOC paper.
    for i in range(len(precisions) - 2, -1, -1):
        precisions[i] = np.maximum(precisions[i], precisions[i + 1])

    # Compute mean AP over recall range
    indices = np.where(recalls[:-1] != recalls[1:])[0] + 1
    mAP = np.sum((recalls[indices] - recalls[indices - 1]) * precisions[indices])
    return float(mAP), precisions, recalls, overlaps


def compute_ap_range(gt_box, gt_class_id, gt_mask,
                     pred_box, pred_class_id, pred_score, pred_mask,
                     iou_thresholds=None, verbose=1):
    """Compute AP over a range or IoU thresholds. Default range is 0.5-0.95."""
    # Default is 0.5 to 0.95 with increments of 0.05
    iou_thresholds = iou_thresholds if iou_thresholds is not None else np.arange(0.5, 1.0, 0.05)

    # Compute AP over range of IoU thresholds
    AP = []
    for iou_threshold in iou_thresholds:
        ap, precisions, recalls, overlaps = compute_ap(
            gt_box, gt_class_id, gt_mask,
            pred_box, pred_class_id, pred_score, pred_mask,
            iou_threshold=iou_threshold)
        if verbose:
            print("AP @{:.2f}:\t {:.3f}".format(iou_threshold, ap))
        AP.append(ap)
    AP = np.array(AP).mean()
    if verbose:
        print("AP @{:.2f}-{:.2f}:\t {:.3f}".format(
            iou_thresholds[0], iou_thresholds[-1], AP))
    return AP


def compute_recall(pred_boxes, gt_boxes, iou):
    """Compute the recall at the given IoU threshold. It's an indication
    of how many GT boxes were found by the given prediction boxes.

    pred_boxes: [N, (y1, x1, y2, x2)] in image coordinates
    gt_boxes: [N, (y1, x1, y2, x2)] in image coordinates

    Returns: (recall, positive_ids)
    """
    # Measure overlaps
    overlaps = compute_overlaps(pred_boxes, gt_boxes)
    if overlaps.shape[1] == 0:
        return 1.0, np.zeros([0], dtype=np.int64)
    iou_max = np.max(overlaps, axis=1) if overlaps.shape[0] else np.zeros([0])
    iou_argmax = np.argmax(overlaps, axis=1) if overlaps.shape[0] else np.zeros([0], np.int64)
    positive_ids = np.where(iou_max >= iou)[0]
    matched_gt_boxes = iou_argmax[positive_ids]

    recall = len(set(matched_gt_boxes)) / gt_boxes.shape[0]
    return recall, positive_ids


def instance_overlaps(gt, pred, iou_type="segm"):
    """IoU of every prediction with every ground-truth instance of one image.

    gt, pred: result dicts ("rois" [N, (y1, x1, y2, x2)], "masks" bool
        [H, W, N]); ground truth drawn from `load_mask` has the same keys.
    iou_type: "segm" compares masks, "bbox" boxes.
    Returns: float [num_pred, num_gt].
    """
    pred_boxes = np.asarray(pred["rois"]).reshape(-1, 4)
    gt_boxes = np.asarray(gt["rois"]).reshape(-1, 4)
    if len(pred_boxes) == 0 or len(gt_boxes) == 0:
        return np.zeros((len(pred_boxes), len(gt_boxes)))
    if iou_type == "bbox":
        return compute_overlaps(pred_boxes.astype(np.float64), gt_boxes.astype(np.float64))
    return compute_overlaps_masks(np.asarray(pred["masks"]), np.asarray(gt["masks"]))


def match_instances(overlaps, pred_scores, iou_threshold=0.5):
    """Class-agnostic greedy matching, as a confusion matrix needs it.

    Predictions, best score first, each take the still unmatched ground-truth
    instance they overlap most, when that IoU >= `iou_threshold`; the class
    plays no part (unlike `compute_matches`), so a right mask with a wrong
    class is a confusion, not a miss plus a false positive.

    overlaps: float [num_pred, num_gt] IoU (`instance_overlaps`).
    pred_scores: float [num_pred]. Ties keep the given order.
    Returns: (gt_match int64 [num_gt]: the matched prediction's index or -1,
    pred_match int64 [num_pred]: the matched ground truth's index or -1).
    """
    overlaps = np.asarray(overlaps, dtype=np.float64)
    gt_match = np.full(overlaps.shape[1], -1, np.int64)
    pred_match = np.full(overlaps.shape[0], -1, np.int64)
    for i in np.argsort(-np.asarray(pred_scores, dtype=np.float64), kind="stable"):
        candidates = np.where((gt_match == -1) & (overlaps[i] >= iou_threshold))[0]
        if candidates.size:
            j = candidates[np.argmax(overlaps[i, candidates])]
            gt_match[j], pred_match[i] = i, j
    return gt_match, pred_match


def confusion_matrix(gt_class_ids, pred_class_ids, gt_match, pred_match, num_classes):
    """Counts of (ground-truth class, predicted class) from `match_instances`.

    Row 0 / column 0 are background: [0, p] counts predictions of class p
    that matched nothing (false positives), [g, 0] ground truth of class g
    that nothing matched (missed). The layout of coco_report's
    ``confusion["matrix"]``, so matrices of images add up.
    Returns: int64 [num_classes, num_classes], rows ground truth, columns
    prediction.
    """
    gt_class_ids = np.asarray(gt_class_ids, np.int64)
    pred_class_ids = np.asarray(pred_class_ids, np.int64)
    matrix = np.zeros((num_classes, num_classes), np.int64)
    for j, i in enumerate(np.asarray(gt_match)):
        matrix[gt_class_ids[j], pred_class_ids[i] if i >= 0 else 0] += 1
    for i in np.where(np.asarray(pred_match) < 0)[0]:
        matrix[0, pred_class_ids[i]] += 1
    return matrix


def image_confusion(gt, pred, num_classes, iou_type="segm", iou_threshold=0.5,
                    score_threshold=0.0):
    """`confusion_matrix` of one image: predictions scoring >=
    `score_threshold` matched class-agnostically to the ground truth.

    gt, pred: result dicts (see `instance_overlaps`; pred with "scores").
    Returns: int64 [num_classes, num_classes].
    """
    keep = np.asarray(pred["scores"], np.float64) >= score_threshold
    kept = {"rois": np.asarray(pred["rois"]).reshape(-1, 4)[keep],
            "masks": None if pred.get("masks") is None else np.asarray(pred["masks"])[..., keep]}
    scores = np.asarray(pred["scores"])[keep]
    gt_match, pred_match = match_instances(instance_overlaps(gt, kept, iou_type), scores,
                                           iou_threshold)
    return confusion_matrix(gt["class_ids"], np.asarray(pred["class_ids"])[keep], gt_match,
                            pred_match, num_classes)


def confusion_errors(matrix):
    """What went wrong in a `confusion_matrix`: {"missed": ground truth
    nothing matched, "false": predictions that matched nothing, "confused":
    matches of the wrong class, "errors": their sum} (ints)."""
    matrix = np.asarray(matrix)
    inner = matrix[1:, 1:]
    out = {"missed": int(matrix[1:, 0].sum()), "false": int(matrix[0, 1:].sum()),
           "confused": int(inner.sum() - np.trace(inner))}
    out["errors"] = out["missed"] + out["false"] + out["confused"]
    return out


# COCO evaluation, re-exported so `from mrcnn.evaluation import evaluate_coco` works.
from mrcnn.coco_eval import (  # noqa: E402,F401
    build_coco_gt,
    evaluate_coco,
    evaluate_coco_results_file,
    results_to_coco,
    write_coco_results,
)
from mrcnn.coco_report import format_metrics_table, print_metrics_table  # noqa: E402,F401
