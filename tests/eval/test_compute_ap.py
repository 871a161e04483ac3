"""matterport's per-image AP: perfect and shifted predictions, hand-computed."""
import numpy as np
import pytest

from mrcnn.boxes import extract_bboxes
from mrcnn.evaluation import compute_ap, compute_ap_range, compute_matches, compute_recall


def masks_of(*squares, shape=(40, 40)):
    out = np.zeros(shape + (len(squares),), bool)
    for i, (y, x, s) in enumerate(squares):
        out[y:y + s, x:x + s, i] = True
    return out


def test_perfect_prediction_is_one():
    gt = masks_of((2, 2, 10), (20, 20, 12))
    ids = np.array([1, 2])
    ap, precisions, recalls, overlaps = compute_ap(
        extract_bboxes(gt), ids, gt, extract_bboxes(gt), ids, np.array([0.9, 0.8]), gt)
    assert ap == 1.0
    assert np.diag(overlaps) == pytest.approx([1.0, 1.0])
    assert compute_ap_range(extract_bboxes(gt), ids, gt, extract_bboxes(gt), ids,
                            np.array([0.9, 0.8]), gt, verbose=0) == pytest.approx(1.0)


def test_shifted_prediction_hand_computed():
    # Two ground truths; three predictions by score: a hit, a miss (shifted
    # 6 px: IoU 4*10/(2*100-40) = 0.25 < 0.5), a hit.
    gt = masks_of((2, 2, 10), (20, 20, 10))
    pred = masks_of((2, 2, 10), (20, 26, 10), (21, 20, 10))
    gt_ids, pred_ids = np.array([1, 1]), np.array([1, 1, 1])
    scores = np.array([0.9, 0.8, 0.7])
    ap, precisions, recalls, overlaps = compute_ap(
        extract_bboxes(gt), gt_ids, gt, extract_bboxes(pred), pred_ids, scores, pred)
    assert overlaps[1, 1] == pytest.approx(0.25)
    assert overlaps[2, 1] == pytest.approx(90 / 110)
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP = 0.5 * 1 + 0.5 * 2/3
    assert ap == pytest.approx(0.5 + 0.5 * 2 / 3)
    # At IoU 0.85 the third prediction (IoU 0.818) misses too.
    ap85, *_ = compute_ap(extract_bboxes(gt), gt_ids, gt, extract_bboxes(pred), pred_ids,
                          scores, pred, iou_threshold=0.85)
    assert ap85 == pytest.approx(0.5)


def test_matches_wrong_class_and_empty_cases():
    gt = masks_of((2, 2, 10))
    gt_match, pred_match, _ = compute_matches(
        extract_bboxes(gt), np.array([1]), gt, extract_bboxes(gt), np.array([2]),
        np.array([0.9]), gt)
    assert gt_match.tolist() == [-1] and pred_match.tolist() == [-1]
    none = np.zeros((40, 40, 0), bool)
    assert compute_ap(np.zeros((0, 4)), np.zeros(0), none, np.zeros((0, 4)), np.zeros(0),
                      np.zeros(0), none)[0] == 1.0
    assert compute_ap(extract_bboxes(gt), np.array([1]), gt, np.zeros((0, 4)), np.zeros(0),
                      np.zeros(0), none)[0] == 0.0


def test_compute_recall():
    gt_boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    recall, positive = compute_recall(np.array([[0, 0, 10, 10], [50, 50, 60, 60]]), gt_boxes, 0.5)
    assert recall == 0.5 and positive.tolist() == [0]
