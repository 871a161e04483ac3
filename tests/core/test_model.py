"""The MaskRCNN model end to end on tiny images: names, training, checkpoints,
TensorBoard, inference at the original size."""
import glob
import os

import numpy as np
import pytest
from tensorboard_events import tensorboard_events
from tiny import ResNetTinyConfig, TinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn import utils
from mrcnn.config import Config

MATTERPORT_NAMES = [
    "conv1", "bn_conv1", "res2a_branch2a", "bn2a_branch2a", "res2a_branch1", "res3d_branch2c",
    "res4f_branch2c", "res5c_branch2c", "fpn_c5p5", "fpn_c2p2", "fpn_p2", "fpn_p5",
    "rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred", "mrcnn_class_conv1",
    "mrcnn_class_bn1", "mrcnn_class_conv2", "mrcnn_class_bn2", "mrcnn_class_logits",
    "mrcnn_bbox_fc", "mrcnn_mask_conv1", "mrcnn_mask_bn4", "mrcnn_mask_deconv", "mrcnn_mask"]


class TinyInferenceConfig(TinyConfig):
    IMAGES_PER_GPU = 2
    IMAGE_RESIZE_MODE = "square"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained 2 epochs on data that includes negative images."""
    logs = tmp_path_factory.mktemp("logs")
    config = TinyConfig()
    model = modellib.MaskRCNN("training", config, str(logs))
    train = tiny_dataset(8, seed=0, empty_every=3)
    val = tiny_dataset(4, seed=1, empty_every=2)
    history = model.train(train, val, learning_rate=0.01, epochs=2, layers="all")
    return model, history, str(logs)


def test_layer_names_are_matterports():
    model = modellib.MaskRCNN("training", ResNetTinyConfig(), "/tmp/unused-logs")
    names = {layer.name for layer in model.keras_model.layers}
    missing = [n for n in MATTERPORT_NAMES if n not in names]
    assert not missing
    # resnet50 has stage-4 blocks a..f only; resnet101 would have up to res4w.
    assert "res4g_branch2a" not in names
    # Anchors are constants, never weights.
    assert not [w for w in model.keras_model.weights if "anchor" in w.path.lower()]


def test_resnet101_has_22_identity_blocks_in_stage4():
    config = TinyConfig()
    config.BACKBONE = "resnet101"
    model = modellib.MaskRCNN("inference", config, "/tmp/unused-logs")
    names = {layer.name for layer in model.keras_model.layers}
    assert "res4w_branch2c" in names and "res4x_branch2c" not in names


def test_mask_head_and_rpn_widths_follow_the_config(tmp_path):
    """MASK_HEAD_CONV_CHANNELS and RPN_CONV_CHANNELS size the mask head and
    the RPN in both modes, so an inference model loads the training model's
    checkpoint completely."""
    config = TinyConfig()
    config.MASK_HEAD_CONV_CHANNELS = 16
    config.RPN_CONV_CHANNELS = 24
    training = modellib.MaskRCNN("training", config, str(tmp_path))
    pool = config.TOP_DOWN_PYRAMID_SIZE
    anchors = len(config.RPN_ANCHOR_RATIOS)
    kernels = {name: tuple(training.keras_model.get_layer(name).kernel.shape)
               for name in ("mrcnn_mask_conv1", "mrcnn_mask_conv4", "mrcnn_mask_deconv",
                            "mrcnn_mask", "rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred")}
    assert kernels == {"mrcnn_mask_conv1": (3, 3, pool, 16), "mrcnn_mask_conv4": (3, 3, 16, 16),
                       # Conv2DTranspose kernels are (h, w, out, in).
                       "mrcnn_mask_deconv": (2, 2, 16, 16),
                       "mrcnn_mask": (1, 1, 16, config.NUM_CLASSES),
                       "rpn_conv_shared": (3, 3, pool, 24),
                       "rpn_class_raw": (1, 1, 24, 2 * anchors),
                       "rpn_bbox_pred": (1, 1, 24, 4 * anchors)}
    path = str(tmp_path / "narrow_heads.h5")
    training.save_weights_h5(path)
    inference_config = TinyInferenceConfig()
    inference_config.MASK_HEAD_CONV_CHANNELS = 16
    inference_config.RPN_CONV_CHANNELS = 24
    inference = modellib.MaskRCNN("inference", inference_config, str(tmp_path))
    inference.load_weights(path, by_name=True)
    for name in ("mrcnn_mask_conv3", "rpn_conv_shared", "rpn_bbox_pred"):
        np.testing.assert_array_equal(inference.keras_model.get_layer(name).kernel.numpy(),
                                      training.keras_model.get_layer(name).kernel.numpy())
    # The defaults stay matterport's 256 and 512, which COCO weights need.
    default = Config()
    assert (default.MASK_HEAD_CONV_CHANNELS, default.RPN_CONV_CHANNELS) == (256, 512)


def test_training_reports_losses_and_writes_checkpoints(trained):
    model, history, logs = trained
    for name in ("loss", "rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss",
                 "mrcnn_bbox_loss", "mrcnn_mask_loss", "val_loss", "val_mrcnn_mask_loss"):
        values = history.history[name]
        assert len(values) == 2 and np.all(np.isfinite(values)), name
    assert model.epoch == 2
    checkpoints = sorted(os.path.basename(p) for p in glob.glob(os.path.join(model.log_dir, "*.h5")))
    assert checkpoints == ["mask_rcnn_tiny_0001.h5", "mask_rcnn_tiny_0002.h5"]
    assert model.find_last().endswith("mask_rcnn_tiny_0002.h5")


def test_a_run_stopped_early_is_at_the_epoch_it_stopped_and_continues_from_it(tmp_path):
    import keras

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    config = TinyConfig()
    config.STEPS_PER_EPOCH = 1
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    history = model.train(tiny_dataset(4), None, learning_rate=0.01, epochs=3, layers="heads",
                          custom_callbacks=[StopAfterFirstEpoch()])
    assert len(history.history["loss"]) == 1 and model.epoch == 1
    # The next call trains epochs 2 and 3 of the same run.
    history = model.train(tiny_dataset(4), None, learning_rate=0.01, epochs=3, layers="heads")
    assert len(history.history["loss"]) == 2 and model.epoch == 3
    checkpoints = sorted(os.path.basename(p) for p in glob.glob(os.path.join(model.log_dir, "*.h5")))
    assert checkpoints == [f"mask_rcnn_tiny_000{i}.h5" for i in (1, 2, 3)]


def test_tensorboard_gets_losses_validation_losses_and_learning_rate(trained):
    model, _, _ = trained
    tags = {split: set(tensorboard_events(model.log_dir, split)) for split in ("train", "validation")}
    assert {"epoch_loss", "epoch_mrcnn_mask_loss", "epoch_learning_rate"} <= tags["train"]
    assert {"epoch_loss", "epoch_rpn_class_loss"} <= tags["validation"]


def test_heads_training_leaves_the_backbone_untouched(tmp_path):
    config = TinyConfig()
    config.STEPS_PER_EPOCH = 1
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    km = model.keras_model
    before = {n: km.get_layer(n).get_weights()[0].copy() for n in ("conv1", "mrcnn_mask")}
    model.train(tiny_dataset(4), None, learning_rate=0.05, epochs=1, layers="heads")
    assert np.array_equal(km.get_layer("conv1").get_weights()[0], before["conv1"])
    assert not np.array_equal(km.get_layer("mrcnn_mask").get_weights()[0], before["mrcnn_mask"])


def test_detect_returns_results_at_the_original_image_size(trained):
    _, _, logs = trained
    config = TinyInferenceConfig()
    model = modellib.MaskRCNN("inference", config, logs)
    model.load_weights(model.find_last(), by_name=True)
    rng = np.random.default_rng(0)
    # Three images (not a multiple of BATCH_SIZE), none of them 64x64.
    images = [rng.integers(0, 255, shape).astype(np.uint8)
              for shape in [(96, 64, 3), (40, 50, 3), (130, 70, 3)]]
    results = model.detect(images)
    assert len(results) == 3
    for image, r in zip(images, results):
        h, w = image.shape[:2]
        n = len(r["class_ids"])
        assert r["masks"].shape == (h, w, n) and r["masks"].dtype == bool
        assert r["rois"].shape == (n, 4) and r["scores"].shape == (n,)
        if n:
            assert r["rois"][:, [0, 2]].min() >= 0 and r["rois"][:, [0, 2]].max() <= h
            assert r["rois"][:, [1, 3]].min() >= 0 and r["rois"][:, [1, 3]].max() <= w
            assert np.all((r["class_ids"] >= 1) & (r["class_ids"] < config.NUM_CLASSES))


def test_detect_on_images_without_detections_returns_empty_results(trained):
    """No score reaches DETECTION_MIN_CONFIDENCE = 1: the mask head gets no ROI
    (TensorFlow's CPU Conv2D mishandles an empty batch; this must not crash)."""
    _, _, logs = trained

    class NothingPassesConfig(TinyInferenceConfig):
        DETECTION_MIN_CONFIDENCE = 1.0

    model = modellib.MaskRCNN("inference", NothingPassesConfig(), logs)
    model.load_weights(model.find_last(), by_name=True)
    images = [np.zeros((64, 64, 3), np.uint8), np.full((80, 48, 3), 128, np.uint8)]
    for image, r in zip(images, model.detect(images)):
        assert r["class_ids"].shape == (0,) and r["scores"].shape == (0,)
        assert r["rois"].shape == (0, 4)
        assert r["masks"].shape == image.shape[:2] + (0,)


def test_unmold_detections_maps_boxes_back_through_the_window():
    from mrcnn.data.molding import unmold_detections

    # A 32x64 image in a 64x64 input: scale 1, padded 16 rows top and bottom.
    original, molded, window = (32, 64, 3), (64, 64, 3), (16, 0, 48, 64)
    box_px = np.array([[20, 8, 36, 40]])  # in the molded image
    detections = np.zeros((8, 6), np.float32)
    detections[0, :4] = utils.norm_boxes(box_px, molded[:2])[0]
    detections[0, 4:] = [2, 0.9]
    masks = np.ones((8, 28, 28, 3), np.float32)
    rois, class_ids, scores, full = unmold_detections(detections, masks, original, molded, window)
    np.testing.assert_array_equal(rois, [[4, 8, 20, 40]])
    assert class_ids.tolist() == [2] and scores.tolist() == [pytest.approx(0.9)]
    assert full.shape == (32, 64, 1)
    assert full[4:20, 8:40, 0].all() and full[:, :, 0].sum() == 16 * 32


def test_mold_inputs_resizes_pads_and_records_the_window():
    from mrcnn.data.molding import mold_inputs

    config = TinyInferenceConfig()
    image = np.full((32, 48, 3), 200, np.uint8)
    molded, metas, windows = mold_inputs([image], config)
    # 48 px wide -> 64: scale 4/3, the 43-row image centred in 64 rows.
    assert molded.shape == (1, 64, 64, 3) and molded.dtype == np.float32
    np.testing.assert_array_equal(windows, [[10, 0, 53, 64]])
    np.testing.assert_allclose(molded[0, 10, 0], 200 - np.asarray(config.MEAN_PIXEL), rtol=1e-6)
    np.testing.assert_allclose(molded[0, 0, 0], -np.asarray(config.MEAN_PIXEL), rtol=1e-6)
    meta = modellib.parse_image_meta(metas)
    assert meta["original_image_shape"].tolist() == [[32, 48, 3]]
    assert meta["window"].tolist() == [[10, 0, 53, 64]]
    assert meta["scale"][0] == pytest.approx(64 / 48)


def test_paste_masks_puts_each_mask_in_its_clipped_box():
    from mrcnn.data.resize import paste_masks

    shape = (50, 70, 3)
    half = np.zeros((28, 28), np.float32)
    half[:, :14] = 0.9  # left half above the 0.5 threshold
    masks = np.stack([half, np.ones((28, 28)), half, np.ones((28, 28))])
    boxes = np.array([[10, 10, 38, 38],   # 28x28: no resizing
                      [-5, -8, 20, 15],   # partly outside: clipped
                      [20, 20, 20, 30],   # zero height: nothing
                      [60, 80, 70, 90]])  # outside the image: nothing
    pasted = paste_masks(masks, boxes, shape)
    assert pasted.shape == (50, 70, 4) and pasted.dtype == bool
    assert pasted[10:38, 10:24, 0].all() and pasted[..., 0].sum() == 28 * 14
    assert pasted[:20, :15, 1].all() and pasted[..., 1].sum() == 20 * 15
    assert not pasted[..., 2:].any()
    # The same as matterport's one-mask-at-a-time unmold_mask.
    for i in range(4):
        np.testing.assert_array_equal(pasted[..., i], utils.unmold_mask(masks[i], boxes[i], shape))
    assert paste_masks(np.zeros((0, 28, 28)), np.zeros((0, 4), int), shape).shape == (50, 70, 0)
