"""Training targets computed in NumPy beside the model: the RPN's, and the
heads' (matterport's build_detection_targets, for inspection)."""
import numpy as np

from mrcnn.boxes import box_refinement, compute_overlaps
from mrcnn.data.resize import expand_mask, resize


def build_rpn_targets(image_shape, anchors, gt_class_ids, gt_boxes, config, rng=None):
    """Given the anchors and GT boxes, compute overlaps and identify positive
    anchors and deltas to refine them to match their corresponding GT boxes.

    anchors: [num_anchors, (y1, x1, y2, x2)] in pixels
    gt_class_ids: [num_gt_boxes] Integer class IDs (negative: crowd).
    gt_boxes: [num_gt_boxes, (y1, x1, y2, x2)] in pixels

    Returns:
    rpn_match: int32 [N] matches between anchors and GT boxes.
               1 = positive anchor, -1 = negative anchor, 0 = neutral
    rpn_bbox: float32 [RPN_TRAIN_ANCHORS_PER_IMAGE, (dy, dx, log(dh), log(dw))]
              Anchor bbox deltas of the positive anchors, in the order of
              the positive anchors in `rpn_match`, zero padded.
    """
    rng = rng if rng is not None else np.random
    # RPN Match: 1 = positive anchor, -1 = negative anchor, 0 = neutral
    rpn_match = np.zeros([anchors.shape[0]], dtype=np.int32)
    # RPN bounding boxes: [max anchors per image, (dy, dx, log(dh), log(dw))]
    rpn_bbox = np.zeros((config.RPN_TRAIN_ANCHORS_PER_IMAGE, 4), dtype=np.float32)

    gt_class_ids = np.asarray(gt_class_ids).reshape(-1)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float32).reshape(-1, 4)

    # Handle COCO crowds
    # A crowd box in COCO is a bounding box around several instances. Exclude
    # them from training. A crowd box is given a negative class ID.
    crowd_ix = np.where(gt_class_ids < 0)[0]
    if crowd_ix.shape[0] > 0:
        # Filter out crowds from ground truth class IDs and boxes
        non_crowd_ix = np.where(gt_class_ids > 0)[0]
        crowd_boxes = gt_boxes[crowd_ix]
        gt_boxes = gt_boxes[non_crowd_ix]
        # Compute overlaps with crowd boxes [anchors, crowds]
        crowd_overlaps = compute_overlaps(anchors, crowd_boxes)
        crowd_iou_max = np.amax(crowd_overlaps, axis=1)
        no_crowd_bool = (crowd_iou_max < 0.001)
    else:
        # All anchors don't intersect a crowd
        no_crowd_bool = np.ones([anchors.shape[0]], dtype=bool)

    if gt_boxes.shape[0] == 0:
        # A negative image: every anchor not under a crowd is background.
        rpn_match[no_crowd_bool] = -1
    else:
        # Compute overlaps [num_anchors, num_gt_boxes]
        overlaps = compute_overlaps(anchors, gt_boxes)

        # Match anchors to GT Boxes
        # If an anchor overlaps a GT box with IoU >= 0.7 then it's positive.
        # If an anchor overlaps a GT box with IoU < 0.3 then it's negative.
        # Neutral anchors are those that don't match the conditions above,
        # and they don't influence the loss function.
        # However, don't keep any GT box unmatched (rare, but happens). Instead,
        # match it to the closest anchor (even if its max IoU is < 0.3).
        #
        # 1. Set negative anchors first. They get overwritten below if a GT box is
        # matched to them. Skip boxes in crowd areas.
        anchor_iou_argmax = np.argmax(overlaps, axis=1)
        anchor_iou_max = overlaps[np.arange(overlaps.shape[0]), anchor_iou_argmax]
        rpn_match[(anchor_iou_max < 0.3) & (no_crowd_bool)] = -1
        # 2. Set an anchor for each GT box (regardless of IoU value).
        # If multiple anchors have the same IoU match all of them
        gt_iou_max = np.max(overlaps, axis=0)
        gt_iou_argmax = np.argwhere((overlaps == gt_iou_max[None, :]) & (gt_iou_max[None, :] > 0))[:, 0]
        rpn_match[gt_iou_argmax] = 1
        # 3. Set anchors with high overlap as positive.
        rpn_match[anchor_iou_max >= 0.7] = 1

    # Subsample to balance positive and negative anchors
    # Don't let positives be more than half the anchors
    ids = np.where(rpn_match == 1)[0]
    extra = len(ids) - (config.RPN_TRAIN_ANCHORS_PER_IMAGE // 2)
    if extra > 0:
        # Reset the extra ones to neutral
        ids = rng.choice(ids, extra, replace=False)
        rpn_match[ids] = 0
    # Same for negative proposals
    ids = np.where(rpn_match == -1)[0]
    extra = len(ids) - (config.RPN_TRAIN_ANCHORS_PER_IMAGE - np.sum(rpn_match == 1))
    if extra > 0:
        # Rest the extra ones to neutral
        ids = rng.choice(ids, extra, replace=False)
        rpn_match[ids] = 0

    # For positive anchors, compute shift and scale needed to transform them
    # to match the corresponding GT boxes.
    ids = np.where(rpn_match == 1)[0]
    if ids.shape[0]:
        gt = gt_boxes[anchor_iou_argmax[ids]]
        deltas = box_refinement(anchors[ids], gt)
        rpn_bbox[:ids.shape[0]] = deltas / np.asarray(config.RPN_BBOX_STD_DEV, dtype=np.float32)
    return rpn_match, rpn_bbox


def _generator(rng):
    """`rng` if given, else a Generator drawn from NumPy's global state, so
    that np.random.seed() still makes runs repeatable (matterport drew from
    the global state)."""
    if rng is not None:
        return rng
    return np.random.default_rng(np.random.randint(0, 2**31 - 1))


def _random_spans(rng, low, high, count):
    """int32 [count, 2] sorted pairs (start, end) with low <= start < end <= high,
    uniform over all such pairs."""
    start = rng.integers(low, high + 1, count)
    end = rng.integers(low, high, count)
    # Shift the second draw past the first: two distinct values, uniformly.
    end = end + (end >= start)
    return np.sort(np.stack([start, end], axis=1), axis=1).astype(np.int32)


def generate_random_rois(image_shape, count, gt_class_ids, gt_boxes, rng=None):
    """Generates ROI proposals similar to what a region proposal network
    would generate: 90% of them split evenly among the GT boxes, each drawn
    inside its box grown by the box's own height and width on every side,
    and the rest anywhere in the image.

    image_shape: [height, width, depth] of the image.
    count: int, number of ROIs to generate.
    gt_class_ids: int [N] ground truth class IDs (unused: matterport's signature).
    gt_boxes: int [N, (y1, x1, y2, x2)] ground truth boxes in pixels. With
        N = 0 all ROIs are drawn anywhere in the image.
    rng: optional numpy Generator.

    Returns: int32 [count, (y1, x1, y2, x2)] ROIs in pixels, inside the image
    (0 <= y1 < y2 <= height, same for x), each with non-zero height and width.
    """
    rng = _generator(rng)
    height, width = int(image_shape[0]), int(image_shape[1])
    gt_boxes = np.asarray(gt_boxes).reshape(-1, 4)
    rois = np.zeros((count, 4), dtype=np.int32)
    per_box = int(0.9 * count / gt_boxes.shape[0]) if gt_boxes.shape[0] else 0
    for i, (y1, x1, y2, x2) in enumerate(gt_boxes.astype(np.int64)):
        h, w = y2 - y1, x2 - x1
        top, bottom = max(y1 - h, 0), min(y2 + h, height)
        left, right = max(x1 - w, 0), min(x2 + w, width)
        # A box of zero height or width (an instance cropped to a line) still
        # needs a span of two pixels to draw from.
        top, bottom = min(top, height - 1), max(bottom, min(top, height - 1) + 1)
        left, right = min(left, width - 1), max(right, min(left, width - 1) + 1)
        ys = _random_spans(rng, top, bottom, per_box)
        xs = _random_spans(rng, left, right, per_box)
        rois[per_box * i:per_box * (i + 1)] = np.stack(
            [ys[:, 0], xs[:, 0], ys[:, 1], xs[:, 1]], axis=1)
    rest = count - per_box * gt_boxes.shape[0]
    if rest > 0:
        ys = _random_spans(rng, 0, height, rest)
        xs = _random_spans(rng, 0, width, rest)
        rois[count - rest:] = np.stack([ys[:, 0], xs[:, 0], ys[:, 1], xs[:, 1]], axis=1)
    return rois


def _crop(mask, box):
    """float32 [y2 - y1, x2 - x1]: `mask` (bool [H, W]) inside `box`, zero
    where the box reaches past the mask's edges."""
    y1, x1, y2, x2 = (int(v) for v in box)
    out = np.zeros((y2 - y1, x2 - x1), dtype=np.float32)
    h, w = mask.shape
    cy1, cx1, cy2, cx2 = max(y1, 0), max(x1, 0), min(y2, h), min(x2, w)
    if cy2 > cy1 and cx2 > cx1:
        out[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1] = mask[cy1:cy2, cx1:cx2]
    return out


def build_detection_targets(rpn_rois, gt_class_ids, gt_boxes, gt_masks, config, rng=None):
    """Generate targets for training Stage 2 classifier and mask heads, in
    NumPy. Not used in normal training (DetectionTargetLayer does this in the
    model); useful for debugging or to train the heads without the RPN.

    ROIs with IoU >= 0.5 with a GT box are positive (class and refinement of
    their best-IoU GT box), the others negative. ROI_POSITIVE_RATIO of
    TRAIN_ROIS_PER_IMAGE are positives when there are enough, the rest
    negatives; when there are too few ROIs, kept ROIs are repeated (negatives
    if any). Positives come first. Crowds (negative class ids) and zero
    padding in the GT arrays are ignored.

    rpn_rois: int [N, (y1, x1, y2, x2)] proposals in pixels, N > 0.
    gt_class_ids: int [instance count] class IDs.
    gt_boxes: int [instance count, (y1, x1, y2, x2)] in pixels.
    gt_masks: bool [height, width, instance count], full size or mini-masks
        (config.USE_MINI_MASK).
    rng: optional numpy Generator.

    Returns:
    rois: int32 [TRAIN_ROIS_PER_IMAGE, (y1, x1, y2, x2)]
    class_ids: int32 [TRAIN_ROIS_PER_IMAGE]; 0 for negatives.
    bboxes: float32 [TRAIN_ROIS_PER_IMAGE, NUM_CLASSES, (dy, dx, log(dh), log(dw))]
        class-specific refinements divided by BBOX_STD_DEV: row [i, class_ids[i]]
        of a positive, zero elsewhere.
    masks: float32 [TRAIN_ROIS_PER_IMAGE, MASK_SHAPE[0], MASK_SHAPE[1], NUM_CLASSES]
        the GT mask cropped to the ROI and resized bilinearly (values in
        [0, 1], not thresholded, as matterport's), in channel class_ids[i]
        of a positive, zero elsewhere.
    """
    rng = _generator(rng)
    rpn_rois = np.asarray(rpn_rois).reshape(-1, 4)
    if rpn_rois.dtype.kind == "f":
        rpn_rois = np.round(rpn_rois)
    rpn_rois = rpn_rois.astype(np.int32)
    if rpn_rois.shape[0] == 0:
        raise ValueError("build_detection_targets needs at least one ROI")
    gt_class_ids = np.asarray(gt_class_ids).reshape(-1)
    gt_boxes = np.asarray(gt_boxes).reshape(-1, 4).astype(np.int32)
    gt_masks = np.asarray(gt_masks, dtype=bool)

    instance_ids = np.where(gt_class_ids > 0)[0]
    if instance_ids.shape[0] == 0:
        raise ValueError("build_detection_targets: the image must contain instances")
    gt_class_ids = gt_class_ids[instance_ids].astype(np.int32)
    gt_boxes = gt_boxes[instance_ids]
    gt_masks = gt_masks[:, :, instance_ids]

    overlaps = compute_overlaps(rpn_rois, gt_boxes)
    best_gt = np.argmax(overlaps, axis=1)
    best_iou = overlaps[np.arange(overlaps.shape[0]), best_gt]
    fg_ids = np.where(best_iou >= 0.5)[0]
    bg_ids = np.where(best_iou < 0.5)[0]

    total = config.TRAIN_ROIS_PER_IMAGE
    fg_count = int(total * config.ROI_POSITIVE_RATIO)
    if fg_ids.shape[0] > fg_count:
        fg_ids = rng.choice(fg_ids, fg_count, replace=False)
    if bg_ids.shape[0] > total - fg_ids.shape[0]:
        bg_ids = rng.choice(bg_ids, total - fg_ids.shape[0], replace=False)
    keep = np.concatenate([fg_ids, bg_ids]).astype(np.int64)
    if keep.shape[0] < total:
        # Too few ROIs for the desired balance: repeat some (matterport's way).
        pool = bg_ids if bg_ids.shape[0] else fg_ids
        keep = np.concatenate([keep, rng.choice(pool, total - keep.shape[0], replace=True)])

    rois = rpn_rois[keep]
    positive = best_iou[keep] >= 0.5
    assignment = best_gt[keep]
    class_ids = np.where(positive, gt_class_ids[assignment], 0).astype(np.int32)

    pos_ids = np.where(positive)[0]
    bboxes = np.zeros((total, config.NUM_CLASSES, 4), dtype=np.float32)
    deltas = box_refinement(rois[pos_ids], gt_boxes[assignment[pos_ids]])
    bboxes[pos_ids, class_ids[pos_ids]] = deltas / np.asarray(config.BBOX_STD_DEV, np.float32)

    masks = np.zeros((total,) + tuple(config.MASK_SHAPE[:2]) + (config.NUM_CLASSES,),
                     dtype=np.float32)
    # Each GT mask at image scale, shifted by (y, x): with mini masks, the
    # mask expanded to its box, whose top-left corner is the origin.
    regions = {}
    for i in pos_ids:
        gt_id = assignment[i]
        if gt_id not in regions:
            if config.USE_MINI_MASK:
                y1, x1, y2, x2 = gt_boxes[gt_id]
                box = np.array([[0, 0, y2 - y1, x2 - x1]])
                region = expand_mask(box, gt_masks[:, :, gt_id:gt_id + 1], (y2 - y1, x2 - x1))
                regions[gt_id] = (region[:, :, 0], y1, x1)
            else:
                regions[gt_id] = (gt_masks[:, :, gt_id], 0, 0)
        region, dy, dx = regions[gt_id]
        roi = rois[i] - np.array([dy, dx, dy, dx])
        masks[i, :, :, class_ids[i]] = resize(_crop(region, roi), tuple(config.MASK_SHAPE[:2]))
    return rois, class_ids, bboxes, masks
