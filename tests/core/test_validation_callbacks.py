"""Config-driven COCO evaluation and TensorBoard images during train()."""
import os

import numpy as np
from tensorboard_events import tensorboard_events
from tiny import TinyConfig, tiny_dataset

import mrcnn.model as modellib


def test_train_evaluates_logs_images_and_keeps_the_best(tmp_path):
    config = TinyConfig()
    config.STEPS_PER_EPOCH = 1
    config.EVAL_EVERY_EPOCHS = 1
    config.EVAL_LIMIT = 2
    config.SAVE_BEST_BY_MAP = True
    config.TENSORBOARD_IMAGES = 1
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    val = tiny_dataset(3, seed=1)
    history = model.train(tiny_dataset(4), val, learning_rate=0.01, epochs=1, layers="all")
    assert "val_mAP" in history.history and np.isfinite(history.history["val_mAP"][0])
    assert os.path.exists(os.path.join(model.log_dir, "mask_rcnn_tiny_best.h5"))
    # The best-by-mAP file is not an epoch checkpoint: resume ignores it.
    assert model.find_last().endswith("mask_rcnn_tiny_0001.h5")
    tags = set(tensorboard_events(model.log_dir, "validation"))
    assert "epoch_mAP" in tags
    assert any(tag.startswith("ground_truth_vs_prediction") for tag in tags)
    # The inference twin carries the training weights.
    twin = model._inference_twin.keras_model
    np.testing.assert_array_equal(twin.get_layer("mrcnn_mask").get_weights()[0],
                                  model.keras_model.get_layer("mrcnn_mask").get_weights()[0])
