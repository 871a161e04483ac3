"""matterport's inspection surface on Keras 3: ancestor() and run_graph() on
tensors of the inference graph, model.anchors, keras_model.save_weights to
an .h5 path, and the lines matterport printed."""
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from tiny import TinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn.boxes import denorm_boxes
from mrcnn.console import inform
from mrcnn.graph_inspection import LayerIntermediate


class OneImage(TinyConfig):
    IMAGES_PER_GPU = 1


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return modellib.MaskRCNN("inference", OneImage(), str(tmp_path_factory.mktemp("logs")))


@pytest.fixture(scope="module")
def image():
    return tiny_dataset(1, seed=4).load_image(0)


def test_ancestor_finds_the_proposal_layer_steps_by_matterport_names(model):
    pillar = model.keras_model.get_layer("ROI").output
    for step in ("pre_nms_anchors", "refined_anchors", "refined_anchors_clipped",
                 "rpn_non_max_suppression"):
        found = model.ancestor(pillar, f"ROI/{step}:0")
        assert isinstance(found, LayerIntermediate) and found.key == step
    # A layer's own output by "<layer>:<index>", upstream of the pillar.
    rpn_class = model.ancestor(pillar, "rpn_class:0")
    assert rpn_class is model.keras_model.get_layer("rpn_class").output
    assert model.ancestor(pillar, "ROI/no_such_step:0") is None
    # Nothing downstream of the pillar is its ancestor.
    assert model.ancestor(pillar, "mrcnn_detection:0") is None


def test_run_graph_values_of_the_proposal_steps_agree_with_each_other(model, image):
    pillar = model.keras_model.get_layer("ROI").output
    rpn = model.run_graph([image], [
        ("rpn_class", model.keras_model.get_layer("rpn_class").output),
        ("pre_nms_anchors", model.ancestor(pillar, "ROI/pre_nms_anchors:0")),
        ("refined_anchors", model.ancestor(pillar, "ROI/refined_anchors:0")),
        ("refined_anchors_clipped", model.ancestor(pillar, "ROI/refined_anchors_clipped:0")),
        ("post_nms_anchor_ix", model.ancestor(pillar, "ROI/rpn_non_max_suppression:0")),
        ("proposals", pillar),
    ])
    assert list(rpn)[:6] == ["rpn_class", "pre_nms_anchors", "refined_anchors",
                             "refined_anchors_clipped", "post_nms_anchor_ix", "proposals"]
    config = model.config
    anchors = model.anchors  # pixels, set by run_graph as matterport's get_anchors did
    assert anchors.shape == (rpn["rpn_class"].shape[1], 4)
    # The pre-NMS anchors are the best-scored anchors, best first.
    order = np.argsort(-rpn["rpn_class"][0, :, 1], kind="stable")[:config.PRE_NMS_LIMIT]
    normalized = model.get_anchors(image.shape)
    assert np.allclose(np.sort(rpn["pre_nms_anchors"][0], axis=0),
                       np.sort(normalized[order], axis=0), atol=1e-6)
    assert np.allclose(denorm_boxes(normalized, image.shape[:2]), np.round(anchors))
    # Clipping only moves coordinates into [0, 1].
    clipped = rpn["refined_anchors_clipped"][0]
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert np.allclose(clipped, np.clip(rpn["refined_anchors"][0], 0, 1))
    # NMS's indices pick the proposals out of the clipped boxes.
    ix = rpn["post_nms_anchor_ix"]
    assert ix.ndim == 1 and 0 < len(ix) <= config.POST_NMS_ROIS_INFERENCE
    assert np.allclose(clipped[ix], rpn["proposals"][0, :len(ix)])


def test_run_graph_gives_matterports_head_outputs(model, image):
    layer = model.keras_model.get_layer
    mrcnn = model.run_graph([image], [
        ("probs", layer("mrcnn_class").output),
        ("deltas", layer("mrcnn_bbox").output),
        ("masks", layer("mrcnn_mask").output),
        ("detections", layer("mrcnn_detection").output),
        ("by_name", "mrcnn_mask"),
    ])
    config = model.config
    rois, classes = config.POST_NMS_ROIS_INFERENCE, config.NUM_CLASSES
    assert mrcnn["probs"].shape == (1, rois, classes)
    assert np.allclose(mrcnn["probs"].sum(-1), 1, atol=1e-5)
    assert mrcnn["deltas"].shape == (1, rois, classes, 4)
    # matterport's mrcnn_mask: sigmoid probabilities of each detection.
    assert mrcnn["masks"].shape == (1, config.DETECTION_MAX_INSTANCES) + tuple(
        config.MASK_SHAPE) + (classes,)
    assert mrcnn["masks"].min() >= 0 and mrcnn["masks"].max() <= 1
    assert np.array_equal(mrcnn["masks"], mrcnn["by_name"])
    # The same values detect() turns into results, to float32 rounding: the
    # two are different graphs, and multi-threaded CPU kernels sum in the
    # order their threads finish (measured: up to 7e-6 apart).
    result = model.detect([image])[0]
    count = len(result["scores"])
    assert count > 0
    np.testing.assert_allclose(mrcnn["detections"][0, :count, 5], result["scores"], atol=1e-4)


def test_run_graph_on_molded_images_with_their_metas(model, image):
    molded, metas, _ = model.mold_inputs([image])
    by_images = model.run_graph([image], [("rois", "rpn_rois")])
    by_molded = model.run_graph(molded, [("rois", "rpn_rois")], image_metas=metas)
    assert np.array_equal(by_images["rois"], by_molded["rois"])


def test_run_graph_refuses_what_is_not_a_tensor_of_the_graph(model, image):
    with pytest.raises(ValueError, match="neither an output"):
        model.run_graph([image], [("x", "no_such_layer")])
    with pytest.raises(TypeError, match="KerasTensors of the inference model"):
        model.run_graph([image], [("x", np.zeros(3))])


def test_detect_keeps_the_anchors_in_pixels(model, image):
    model.anchors = None
    model.detect([image])
    side = model.config.IMAGE_MAX_DIM
    assert model.anchors.shape[1] == 4 and model.anchors.shape[0] > 100
    centres = (model.anchors[:, :2] + model.anchors[:, 2:]) / 2
    assert centres.min() >= 0 and centres.max() <= side


def test_keras_model_save_weights_to_h5_writes_matterports_layout(tmp_path, image):
    import h5py

    train = tiny_dataset(4, seed=0)
    config = TinyConfig()
    trainer = modellib.MaskRCNN("training", config, str(tmp_path / "logs"))
    trainer.train(train, None, learning_rate=0.01, epochs=1, layers="all", verbose=0)
    path = tmp_path / "mask_rcnn_shapes.h5"
    trainer.keras_model.save_weights(str(path))  # train_shapes' last cell
    with h5py.File(path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
        assert "mrcnn_class_logits" in names and "rpn_model" in names
        assert int(f.attrs["epoch"]) == 1  # the owner's attributes go with it
    with pytest.raises(FileExistsError, match="overwrite=True"):
        trainer.keras_model.save_weights(str(path), overwrite=False)

    last = modellib.MaskRCNN("inference", OneImage(), str(tmp_path / "logs"))
    last.load_weights(last.find_last(), by_name=True)
    saved = modellib.MaskRCNN("inference", OneImage(), str(tmp_path / "logs"))
    saved.load_weights(str(path), by_name=True)
    a, b = last.detect([image])[0], saved.detect([image])[0]
    assert len(a["scores"]) > 0 and np.allclose(a["scores"], b["scores"], atol=1e-6)
    assert np.array_equal(a["rois"], b["rois"])
    # Keras 3's own format keeps its own name.
    native = tmp_path / "native.weights.h5"
    saved.keras_model.save_weights(str(native))
    with h5py.File(native, "r") as f:
        assert "layer_names" not in f.attrs


def test_inform_prints_without_logging_and_logs_with_it(capsys, caplog):
    logger = logging.getLogger("mrcnn.test_inform")
    logger.propagate = False  # no handler anywhere: a plain script
    try:
        inform(logger, "Checkpoint Path: %s", "x.h5")
    finally:
        logger.propagate = True
    assert capsys.readouterr().out == "Checkpoint Path: x.h5\n"
    with caplog.at_level(logging.INFO, logger="mrcnn"):
        inform(logger, "Checkpoint Path: %s", "y.h5")
    assert capsys.readouterr().out == ""
    assert "Checkpoint Path: y.h5" in caplog.text


def test_class_heads_skipped_for_inference_are_a_warning(tmp_path):
    """A script that loads weights of another class count into an inference
    model is told its class predictions are untrained (stderr: Python's
    last-resort handler shows warnings when nothing is configured)."""
    core = os.path.dirname(os.path.abspath(__file__))
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {core!r})
        import tiny_backbone
        from tiny import TinyConfig
        import mrcnn.model as modellib

        class Other(TinyConfig):
            NUM_CLASSES = 5
            IMAGES_PER_GPU = 1

        class Mine(TinyConfig):
            IMAGES_PER_GPU = 1

        modellib.MaskRCNN("training", Other(), {str(tmp_path)!r}).save_weights_h5({str(tmp_path / 'other.h5')!r})
        for mode in ("training", "inference"):
            print("MODE", mode, flush=True)
            modellib.MaskRCNN(mode, Mine(), {str(tmp_path)!r}).load_weights(
                {str(tmp_path / 'other.h5')!r}, by_name=True)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    training_part = run.stdout.split("MODE inference")[0]
    assert "Not loaded from other.h5: mrcnn_bbox_fc, mrcnn_class_logits" in training_part
    assert "class predictions are untrained" in run.stderr
    assert run.stderr.count("Not loaded from other.h5") == 1
