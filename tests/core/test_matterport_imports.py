"""The import paths and helpers that matterport tutorials use."""
import urllib.error

import pytest


def test_tutorial_import_paths():
    from mrcnn import utils, visualize  # noqa: F401
    from mrcnn.config import Config  # noqa: F401
    import mrcnn.model as modellib
    from mrcnn.model import log  # noqa: F401

    for name in ("MaskRCNN", "load_image_gt", "mold_image", "compose_image_meta", "log",
                 "parse_image_meta", "unmold_image", "build_rpn_targets", "data_generator",
                 "generate_random_rois", "build_detection_targets"):
        assert callable(getattr(modellib, name)), name
    for name in ("ancestor", "run_graph", "detect", "find_last", "set_trainable", "get_anchors"):
        assert callable(getattr(modellib.MaskRCNN, name)), name
    for name in ("Dataset", "compute_ap", "compute_ap_range", "compute_recall", "compute_matches",
                 "compute_overlaps", "compute_overlaps_masks", "compute_iou", "extract_bboxes",
                 "resize_image", "resize_mask", "minimize_mask", "expand_mask",
                 "non_max_suppression", "box_refinement", "generate_pyramid_anchors",
                 "download_trained_weights", "norm_boxes", "denorm_boxes"):
        assert callable(getattr(utils, name)), name


def test_download_trained_weights_offline_names_url_and_path(tmp_path, monkeypatch):
    from mrcnn import utils, weights

    def offline(url):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(weights, "_urlopen", offline)
    target = tmp_path / "mask_rcnn_coco.h5"
    with pytest.raises(FileNotFoundError) as error:
        utils.download_trained_weights(str(target))
    assert utils.COCO_MODEL_URL in str(error.value) and str(target) in str(error.value)
    assert not target.exists() and not list(tmp_path.iterdir())
