"""In training, the mask head's convolutions run on the positive ROIs only:
their mask logits are those of the head applied to every slot, the other
slots' are zero, and no loss reads those."""
import keras
import numpy as np
import tensorflow as tf
from tiny import TinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn.data.pipeline import DataGenerator


class ManyPositivesConfig(TinyConfig):
    # Every proposal overlapping a disc or bar enough is positive: with
    # few ROIs and a high positive ratio, some mask slots hold negatives.
    TRAIN_ROIS_PER_IMAGE = 16
    ROI_POSITIVE_RATIO = 0.5


def test_the_mask_head_computes_the_positive_rois_only(tmp_path):
    keras.utils.set_random_seed(0)
    config = ManyPositivesConfig()
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    keras_model = model.keras_model
    batch = DataGenerator(tiny_dataset(4, seed=1), config, seed=0, workers=1)[0]
    # One call, so that the sampled ROIs are the same for every output.
    probe = keras.Model(keras_model.inputs, [
        keras_model.get_layer("roi_align_mask").output,
        keras_model.get_layer("mrcnn_mask_logits").output,
        keras_model.get_layer("proposal_targets").output[1]])
    pooled, logits, class_ids = (t.numpy() for t in probe(batch, training=True))
    slots = int(config.TRAIN_ROIS_PER_IMAGE * config.ROI_POSITIVE_RATIO)
    class_ids = class_ids[:, :slots]
    assert logits.shape[:2] == class_ids.shape == (config.BATCH_SIZE, slots)
    positive = class_ids > 0
    assert 0 < positive.sum() < positive.size, "the test needs positives and negatives"

    # The head's layers applied to every slot.
    x = tf.reshape(pooled, (-1,) + pooled.shape[2:])
    for i in range(1, 5):
        x = keras_model.get_layer(f"mrcnn_mask_conv{i}")(x)
        x = tf.nn.relu(keras_model.get_layer(f"mrcnn_mask_bn{i}")(x, training=True))
    x = keras_model.get_layer("mrcnn_mask")(keras_model.get_layer("mrcnn_mask_deconv")(x))
    everywhere = x.numpy().reshape(logits.shape)

    np.testing.assert_allclose(logits[positive], everywhere[positive], atol=1e-4)
    assert np.all(logits[~positive] == 0)
    assert np.abs(everywhere[~positive]).max() > 1e-3  # not zero by themselves
