"""Config.GRADIENT_ACCUMULATION_STEPS = k: k batches make one update with
the mean of their gradients, the update of one batch k times larger; a
partial accumulation at an epoch's end continues from the checkpoint."""
import contextlib
import os
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import DiscsAndBars, TinyConfig

import mrcnn.model as modellib
from mrcnn.config import Config, ConfigError
from mrcnn.data.pipeline import DataGenerator
from mrcnn.training.resume import read_optimizer_state
from mrcnn.weights import load_initial_weights

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "resume"))
from resume_fixtures import ResumeConfig, datasets  # noqa: E402

LEARNING_RATE = 0.02


class EveryCandidateConfig(TinyConfig):
    """Every per-image term of the losses is the same whether an image comes
    alone or with another: the losses average over anchors and ROIs, so each
    image must bring as many of each, and nothing may be drawn at random.
    Every anchor is a proposal (one ratio, 341 anchors, all kept: no NMS),
    all positive ROIs are taken and no negative one (ROI_POSITIVE_RATIO 1),
    and the two images share their objects' layout (same anchor and ROI
    counts) but not their pixels (different gradients)."""
    IMAGES_PER_GPU = 2
    RPN_ANCHOR_RATIOS = [1]
    PRE_NMS_LIMIT = 400
    POST_NMS_ROIS_TRAINING = 400
    RPN_NMS_THRESHOLD = 1.0
    TRAIN_ROIS_PER_IMAGE = 64
    ROI_POSITIVE_RATIO = 1.0
    AUGMENTATION = None


def same_layout_dataset(count, seed=0):
    """`count` images with a disc and a bar at the same places, on different
    noise."""
    dataset = DiscsAndBars()
    dataset.add_class("toy", 1, "disc")
    dataset.add_class("toy", 2, "bar")
    objects = [(1, 20, 22, 9), (2, 42, 36, 11)]
    for i in range(count):
        dataset.add_image("toy", i, None, objects=objects, height=64, width=64, seed=seed + i)
    dataset.prepare()
    return dataset


@contextlib.contextmanager
def deterministic_ops():
    """TensorFlow's deterministic kernels for the block: some multi-threaded
    CPU kernels sum in the order their threads finish, which moved single
    updates here by up to 6e-4 (0.3% of the update) between identical runs."""
    from tensorflow.python.framework import config as tf_config

    enabled = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not enabled:
            tf_config.disable_op_determinism()


def trainable(keras_model):
    return [w.numpy() for w in keras_model.trainable_weights]


@pytest.fixture(scope="module")
def updates(tmp_path_factory):
    """{run name: the trainable weights after it}, every run from the same
    initial weights with SGD without momentum, and "start"."""
    keras.utils.set_random_seed(0)
    config = EveryCandidateConfig()
    model = modellib.MaskRCNN("training", config, str(tmp_path_factory.mktemp("logs")))
    keras_model = model.keras_model
    # Zero box deltas: the proposals are the anchors themselves in both images.
    layer = keras_model.get_layer("rpn_bbox_pred")
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    batch = DataGenerator(same_layout_dataset(2), config, shuffle=False, seed=0, workers=1)[0]
    batch = batch[0] if isinstance(batch, tuple) else batch
    initial = keras_model.get_weights()
    # The precondition: both images bring the same numbers of ROIs.
    positives = np.sum(keras_model(batch, training=True)["target_class_ids"].numpy() > 0, axis=1)
    assert positives[0] == positives[1] > 0, positives

    def run(images, images_per_step, accumulation, clipnorm=None):
        keras_model.set_weights(initial)
        config.GRADIENT_ACCUMULATION_STEPS = accumulation
        config.GRADIENT_CLIP_NORM = clipnorm
        model.compile(LEARNING_RATE, momentum=0.0)
        # One step each: eager execution saves a graph trace per run.
        keras_model.run_eagerly = True
        steps = tf.data.Dataset.from_tensor_slices({k: v[images] for k, v in batch.items()})
        keras_model.fit(steps.batch(images_per_step), epochs=1, verbose=0, shuffle=False)
        return trainable(keras_model), keras_model.optimizer

    runs = {"start": trainable(keras_model)}
    with deterministic_ops():
        runs["batch of two"], _ = run([0, 1], 2, accumulation=1)
        runs["batch of two, again"], _ = run([0, 1], 2, accumulation=1)
        # The same update, its images in the other order: what float32
        # rounding alone changes (summation order in the batched kernels).
        runs["batch of two, swapped"], _ = run([1, 0], 2, accumulation=1)
        runs["accumulated"], runs["optimizer"] = run([0, 1], 1, accumulation=2)
        runs["two updates"], _ = run([0, 1], 1, accumulation=1)
        runs["clipped batch of two"], _ = run([0, 1], 2, accumulation=1, clipnorm=CLIP)
        runs["clipped, accumulated"], _ = run([0, 1], 1, accumulation=2, clipnorm=CLIP)
    runs["names"] = [w.path for w in keras_model.trainable_weights]
    return runs


CLIP = 1e-3


def largest_gap(a, b):
    return max(np.abs(x - y).max() for x, y in zip(a, b))


def test_two_accumulated_batches_of_one_make_the_update_of_one_batch_of_two(updates):
    batch = updates["batch of two"]
    update = largest_gap(batch, updates["start"])
    # The comparisons below are of one computation each: a run repeats
    # bit for bit.
    assert largest_gap(batch, updates["batch of two, again"]) == 0
    rounding = largest_gap(batch, updates["batch of two, swapped"])
    assert update > 1e-2 and rounding < 1e-3 * update
    # Measured: 1.42e-4 of the update, the rounding 1.35e-4 (float32 sums of
    # gradients that largely cancel); two plain updates: 2.5 times it.
    assert largest_gap(updates["accumulated"], batch) < 3 * rounding + 1e-6 * update
    # Without accumulation the two batches of one make two updates.
    assert largest_gap(updates["two updates"], batch) > 0.5 * update
    # One update, two batches: `iteration` (what a checkpoint stores, what
    # the learning-rate schedule follows) counts batches.
    optimizer = updates["optimizer"]
    assert int(optimizer.iterations) == 1
    assert int(next(v for v in optimizer.variables if v.name == "iteration").numpy()) == 2


def test_clipping_applies_to_the_accumulated_mean(updates):
    """Each weight's update has the norm limit times the learning rate (every
    gradient here is longer than the limit): the mean of the two batches'
    gradients was clipped. Clipping each batch's gradient and averaging
    would give shorter updates wherever the two gradients differ."""
    start = updates["start"]
    for name in ("clipped batch of two", "clipped, accumulated"):
        norms = [np.linalg.norm(w - s) for w, s in zip(updates[name], start)]
        kernels = [n for n, path in zip(norms, updates["names"]) if path.endswith("kernel")]
        np.testing.assert_allclose(kernels, LEARNING_RATE * CLIP, rtol=1e-3, err_msg=name)
    # Equal to a few float32 steps of the weights (2e-5 updates of weights
    # near 0.2, whose spacing is 1.5e-8; measured: 6e-8).
    batch = updates["clipped batch of two"]
    assert largest_gap(updates["clipped, accumulated"], batch) < 0.01 * LEARNING_RATE * CLIP


class AccumulationConfig(ResumeConfig):
    """Three batches of one image per epoch, two per update: epoch 1 ends
    with one batch accumulated."""
    STEPS_PER_EPOCH = 3
    GRADIENT_ACCUMULATION_STEPS = 2
    AUGMENTATION = None


class Steps(keras.callbacks.Callback):
    """Records, at the start and after each batch, the trainable weights and
    the gradient accumulators."""

    def on_train_begin(self, logs=None):
        self.records = [self.record()]

    def on_train_batch_end(self, batch, logs=None):
        self.records.append(self.record())

    def record(self):
        optimizer = self.model.optimizer
        return ([w.numpy() for w in self.model.trainable_weights],
                {v.name: v.numpy() for v in optimizer.variables
                 if v.name.endswith("_gradient_accumulator")},
                int(next(v for v in optimizer.variables if v.name == "iteration").numpy()))


def test_a_partial_accumulation_continues_from_the_checkpoint(tmp_path):
    images = datasets()[0]
    model = modellib.MaskRCNN("training", AccumulationConfig(), str(tmp_path))
    model.train(images, None, learning_rate=0.01, epochs=1, layers="heads")
    state = read_optimizer_state(os.path.join(model.log_dir, "mask_rcnn_tiny_0001.h5"))
    assert state.iterations == 3 and state.accumulation_steps == 2
    saved = {k: v for k, v in state.variables.items() if k.endswith("_gradient_accumulator")}
    assert saved and max(np.abs(v).max() for v in saved.values()) > 0

    resumed = modellib.MaskRCNN("training", AccumulationConfig(), str(tmp_path))
    load_initial_weights(resumed, "last")
    steps = Steps()
    resumed.train(images, None, learning_rate=None, epochs=2, layers="heads",
                  custom_callbacks=[steps])
    (start, accumulators, iteration), *after = steps.records
    # The resumed optimizer holds the accumulated batch of epoch 1 ...
    assert iteration == 3
    for name, value in saved.items():
        np.testing.assert_array_equal(accumulators[name], value)
    # ... and completes that update with its first batch (batch 4 of the
    # run); then batch 5 accumulates and batch 6 updates.
    weights = [start] + [w for w, _, _ in after]
    changed = [largest_gap(later, earlier) > 0 for earlier, later in zip(weights, weights[1:])]
    assert changed == [True, False, True]
    emptied = [max(np.abs(v).max() for v in acc.values()) == 0 for _, acc, _ in after]
    assert emptied == [True, False, True]
    assert [i for _, _, i in after] == [4, 5, 6]


@pytest.mark.parametrize("value, message", [
    (0, "GRADIENT_ACCUMULATION_STEPS: is 0; it must be an integer >= 1"),
    (2.5, "GRADIENT_ACCUMULATION_STEPS: is 2.5; it must be an integer >= 1"),
])
def test_validate_names_a_bad_accumulation(value, message):
    config = Config()
    config.NUM_CLASSES = 2
    config.GRADIENT_ACCUMULATION_STEPS = value
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        config.validate()


def test_accumulation_runs_on_one_device():
    config = Config()
    config.NUM_CLASSES, config.GPU_COUNT, config.GRADIENT_ACCUMULATION_STEPS = 2, 2, 4
    with pytest.raises(ConfigError, match="GRADIENT_ACCUMULATION_STEPS: is 4 with GPU_COUNT 2"):
        config.validate()
