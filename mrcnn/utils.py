"""matterport's `mrcnn.utils`, kept as one import path for old code.

Everything here lives in a module of its own; this file only gathers the
names that tutorials import as `from mrcnn import utils`.
"""
from mrcnn.anchors import generate_anchors, generate_pyramid_anchors  # noqa: F401
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
from mrcnn.modeling.batching import batch_slice  # noqa: F401
from mrcnn.modeling.box_ops import box_refinement_graph  # noqa: F401
from mrcnn.weights import COCO_URL as COCO_MODEL_URL  # noqa: E402,F401


def download_trained_weights(coco_model_path, verbose=1):
    """Download COCO trained weights from Releases (matterport's helper).

    coco_model_path: local path of COCO trained weights. Offline, the error
    gives the URL and this path to put the file at.
    """
    import os

    from mrcnn.weights import download

    if os.path.exists(coco_model_path):
        return coco_model_path
    return download(COCO_MODEL_URL, coco_model_path, progress=bool(verbose))
