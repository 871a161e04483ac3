"""Config.DTYPE_POLICY "mixed_float16": convolutions compute in float16,
training scales the loss dynamically (keras.optimizers.LossScaleOptimizer),
checkpoints stay float32 and carry the loss scale, which a resumed run
continues."""
import h5py
import keras
import numpy as np
import pytest
from tiny import TinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn.training.resume import read_optimizer_state
from mrcnn.weights import load_initial_weights

FLOAT16_LAYERS = ("conv1", "res4a_branch2a", "fpn_p2", "rpn_conv_shared", "mrcnn_class_conv1",
                  "mrcnn_mask_conv1", "mrcnn_mask_deconv")
FLOAT32_LAYERS = ("ROI", "proposal_targets", "roi_align_classifier", "rpn_class_raw",
                  "mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_mask")
# Keras starts at 2**15, at which this model's first two steps overflow
# (measured: with a growth interval of 3 steps the scale then stayed between
# 2**11 and 2**13). The tests start lower, where no step overflows unless
# told to.
START_SCALE = 2.0 ** 8
# A scale at which the float16 gradients overflow whatever the batch.
OVERFLOW = 2.0 ** 100
GROWTH_STEPS = 2


class Float16Config(TinyConfig):
    DTYPE_POLICY = "mixed_float16"
    IMAGES_PER_GPU = 1
    STEPS_PER_EPOCH = 4
    AUGMENTATION = None
    OPTIMIZER_STATE_CHECKPOINTS = None


class InferenceConfig(TinyConfig):
    IMAGES_PER_GPU = 1


class LossScaleProbe(keras.callbacks.Callback):
    """Grows the scale after GROWTH_STEPS finite steps instead of 2000, can
    set the scale to start with and make one batch's gradients overflow (by
    raising the scale for it, as a loss that large would), and records the
    optimizer after each batch."""

    def __init__(self, start_scale=None, overflow_at=None):
        super().__init__()
        self.start_scale = start_scale
        self.overflow_at = overflow_at
        self.records = []

    def on_train_begin(self, logs=None):
        # Read when the step is traced, at the first batch.
        self.model.optimizer.dynamic_growth_steps = GROWTH_STEPS
        if self.start_scale is not None:
            self.model.optimizer.dynamic_scale.assign(self.start_scale)
        self.at_start = self.record()

    def on_train_batch_begin(self, batch, logs=None):
        self.before = self.record()
        if batch == self.overflow_at:
            self.model.optimizer.dynamic_scale.assign(OVERFLOW)
        elif self.overflow_at is not None and batch == self.overflow_at + 1:
            # Back to the scale before the injected overflow, which a real
            # one would not have raised.
            self.model.optimizer.dynamic_scale.assign(self.records[self.overflow_at - 1]["scale"])

    def on_train_batch_end(self, batch, logs=None):
        record = self.record()
        record["updated"] = any(not np.array_equal(a, b)
                                for a, b in zip(self.before["weights"], record["weights"]))
        self.records.append(record)

    def record(self):
        optimizer = self.model.optimizer
        return {"scale": float(optimizer.dynamic_scale.numpy()),
                "counter": int(optimizer.step_counter.numpy()),
                "iterations": int(optimizer.iterations.numpy()),
                "weights": [w.numpy() for w in self.model.trainable_weights]}


@pytest.fixture(scope="module")
def trained_in_float16(tmp_path_factory):
    """One epoch of 4 steps under mixed_float16, the third one overflowing."""
    logs = tmp_path_factory.mktemp("logs")
    keras.utils.set_random_seed(0)
    model = modellib.MaskRCNN("training", Float16Config(), str(logs))
    probe = LossScaleProbe(start_scale=START_SCALE, overflow_at=2)
    history = model.train(tiny_dataset(4, seed=0), None, learning_rate=0.01, epochs=1,
                          layers="all", custom_callbacks=[probe])
    return model, history, probe, model.find_last()


def test_float16_trains_with_finite_losses_and_float32_checkpoints(trained_in_float16):
    model, history, probe, checkpoint = trained_in_float16
    keras_model = model.keras_model
    assert type(keras_model.optimizer).__name__ == "LossScaleOptimizer"
    for name in FLOAT16_LAYERS:
        assert keras_model.get_layer(name).compute_dtype == "float16", name
    for name in FLOAT32_LAYERS:
        assert keras_model.get_layer(name).compute_dtype == "float32", name
    assert {w.dtype for w in keras_model.weights} == {"float32"}
    for name in ("loss", "rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss", "mrcnn_mask_loss"):
        assert np.all(np.isfinite(history.history[name])), name
    # The loss was scaled before differentiating and the gradients unscaled
    # after: the first step (lr 0.01) moves these float16 layers' kernels by
    # 7e-3 and 1.5e-2 (measured); unscaled twice, by START_SCALE times less.
    names = [w.path for w in keras_model.trainable_weights]
    for name in ("conv1", "res5a_branch2a"):
        index = names.index(f"{name}/kernel")
        change = np.abs(probe.records[0]["weights"][index] - probe.at_start["weights"][index])
        assert change.max() > 1e-3, (name, change.max())

    with h5py.File(checkpoint, "r") as f:
        kinds = set()
        f.visititems(lambda name, item: kinds.add(item.dtype.name)
                     if isinstance(item, h5py.Dataset) and not name.startswith("optimizer") else None)
    assert kinds == {"float32"}
    # A float32 model loads the checkpoint exactly.
    float32_model = modellib.MaskRCNN("inference", InferenceConfig(), model.model_dir)
    float32_model.load_weights(checkpoint, by_name=True)
    for name in ("conv1", "mrcnn_mask_deconv", "mrcnn_class_logits"):
        np.testing.assert_array_equal(float32_model.keras_model.get_layer(name).kernel.numpy(),
                                      keras_model.get_layer(name).kernel.numpy())


def test_an_overflow_skips_its_step_and_halves_the_scale(trained_in_float16):
    _, _, probe, _ = trained_in_float16
    scales = [r["scale"] for r in probe.records]
    # Doubled after GROWTH_STEPS finite steps; the overflowing third step
    # halved the injected scale and changed no weight; the fourth trained.
    assert scales == [START_SCALE, 2 * START_SCALE, OVERFLOW / 2, 2 * START_SCALE]
    assert [r["updated"] for r in probe.records] == [True, True, False, True]
    assert [r["counter"] for r in probe.records] == [1, 0, 0, 1]
    # The skipped step is not counted (nor is the learning rate's schedule moved).
    assert [r["iterations"] for r in probe.records] == [1, 2, 2, 3]


def test_resume_continues_the_loss_scale_and_the_iterations(trained_in_float16):
    model, _, probe, checkpoint = trained_in_float16
    state = read_optimizer_state(checkpoint)
    assert state.class_name == "SGD" and state.loss_scaled
    assert state.loss_scale == 2 * START_SCALE and state.iterations == 3
    assert int(state.variables["loss_scale.step_counter"]) == 1
    assert state.learning_rate() == pytest.approx(0.01)

    resumed = modellib.MaskRCNN("training", Float16Config(), model.model_dir)
    load_initial_weights(resumed, "last")
    resumed_probe = LossScaleProbe()
    resumed.train(tiny_dataset(4, seed=0), None, learning_rate=None, epochs=2, layers="all",
                  custom_callbacks=[resumed_probe])
    start = resumed_probe.at_start
    assert (start["scale"], start["counter"], start["iterations"]) == (2 * START_SCALE, 1, 3)
    # The step counter continued: the first step completes GROWTH_STEPS.
    assert [r["scale"] for r in resumed_probe.records] == [4 * START_SCALE] * 2 + [
        8 * START_SCALE] * 2
    assert resumed_probe.records[-1]["iterations"] == 7
