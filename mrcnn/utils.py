"""matterport's `mrcnn.utils`, kept as one import path for old code.

Everything here lives in a module of its own; this file only gathers the
names that tutorials import as `from mrcnn import utils`.
"""
from mrcnn.boxes import (  # noqa: F401
    apply_box_deltas,
    box_refinement,
    compute_iou,
    compute_overlaps,
    compute_overlaps_masks,
    denorm_boxes,
    extract_bboxes,
    non_max_suppression,
    norm_boxes,
)
from mrcnn.data.dataset import Dataset  # noqa: F401
from mrcnn.data.resize import (  # noqa: F401
    expand_mask,
    minimize_mask,
    resize,
    resize_image,
    resize_mask,
    unmold_mask,
)
from mrcnn.evaluation import (  # noqa: F401
    compute_ap,
    compute_ap_range,
    compute_matches,
    compute_recall,
    trim_zeros,
)
from mrcnn.modeling.anchors import generate_anchors, generate_pyramid_anchors  # noqa: F401

# The URL of matterport's COCO weights, kept for code that reads it from here.
COCO_MODEL_URL = "https://github.com/matterport/Mask_RCNN/releases/download/v2.0/mask_rcnn_coco.h5"
