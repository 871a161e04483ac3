"""Training that diverges stops (issue 13, item 2): a non-finite loss raises
TrainingDiverged naming the step and the batch's images, no checkpoint of
non-finite weights is written, and such a file is refused when loaded.

One tiny model, one train() call of two 2-step epochs: the first epoch at a
sane learning rate (checkpoint 1); from the first step of epoch 2 the rate
is 1e38, whose update overflows the weights (float32 tops out at 3.4e38;
clipping keeps each gradient's norm at 5), so that the loss of epoch 2's
second batch is NaN.
"""
import glob
import os

import h5py
import keras
import numpy as np
import pytest
from tiny import TinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn.errors import TrainingDiverged, WeightsFileError
from mrcnn.training.callbacks import EpochCheckpoint
from mrcnn.weights import first_non_finite, load_weights_h5, read_layer_weights, save_weights_h5

EXPLODING_LEARNING_RATE = 1e38


class TwoStepConfig(TinyConfig):
    STEPS_PER_EPOCH = 2
    VALIDATION_STEPS = 1
    LEARNING_RATE = 1e-4


class ToyFiles(type(tiny_dataset())):
    """The tiny discs and bars, with file-like references to find in messages."""

    def image_reference(self, image_id):
        return f"toy_{image_id:02d}.png"


def toy_files(count=6, seed=0):
    dataset = ToyFiles()
    dataset.load(count, seed=seed)
    dataset.prepare()
    return dataset


class ExplodesAfter(keras.optimizers.schedules.LearningRateSchedule):
    """1e-4 for the first `steps` optimizer steps, then EXPLODING_LEARNING_RATE."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, step):
        return keras.ops.where(step < self.steps, 1e-4, EXPLODING_LEARNING_RATE)

    def get_config(self):
        # Checkpoints store the optimizer's schedule.
        return {"steps": self.steps}


@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    """(model, exception info, logs folder) after an exploding second epoch."""
    logs = tmp_path_factory.mktemp("logs")
    keras.utils.set_random_seed(0)
    model = modellib.MaskRCNN("training", TwoStepConfig(), logs)
    with pytest.raises(TrainingDiverged) as info:
        model.train(toy_files(6), None, learning_rate=ExplodesAfter(TwoStepConfig.STEPS_PER_EPOCH),
                    epochs=3, layers="all")
    return model, info, logs


def checkpoint_files(logs):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(str(logs), "*", "*.h5")))


def test_a_nan_loss_stops_training_and_names_the_step_and_images(diverged):
    model, info, _ = diverged
    error = info.value
    message = str(error)
    assert (error.epoch, error.batch) == (2, 2)
    assert "epoch 2, batch 2" in message and "the loss is nan" in message.lower()
    # The batch's images, as the generator loaded them: 2 of the 6 files.
    assert len(error.image_refs) == TwoStepConfig.IMAGES_PER_GPU
    assert all(ref.startswith("toy_") and ref.endswith(".png") for ref in error.image_refs)
    assert ", ".join(error.image_refs) in message
    assert "learning rate too high (now 1e+38" in message
    assert "GRADIENT_CLIP_NORM=5.0" in message and "mrcnn validate" in message
    # The epoch counter stays at the last finished epoch.
    assert model.epoch == 1


def test_the_last_finite_checkpoint_stays_the_newest(diverged):
    model, info, logs = diverged
    assert checkpoint_files(logs) == ["mask_rcnn_tiny_0001.h5"]
    assert info.value.last_checkpoint == model.find_last()
    assert os.path.basename(info.value.last_checkpoint) == "mask_rcnn_tiny_0001.h5"
    assert f"The last good checkpoint is {info.value.last_checkpoint}" in str(info.value)
    with h5py.File(info.value.last_checkpoint, "r") as f:
        stored = read_layer_weights(f)
    assert first_non_finite((name, a) for name, weights in stored.items() for _, a in weights) is None


def test_epoch_checkpoint_refuses_non_finite_weights(diverged, tmp_path):
    model, _, logs = diverged
    # After the explosion the network itself is not finite.
    bad = first_non_finite((w.path, keras.ops.convert_to_numpy(w))
                           for w in model.keras_model.weights)
    assert bad is not None
    callback = EpochCheckpoint(model, str(tmp_path / "mask_rcnn_tiny_{epoch:04d}.h5"))
    callback.set_model(model.keras_model)
    with pytest.raises(TrainingDiverged, match=r"not finite after epoch 2 \(first: "):
        callback.on_epoch_end(1)
    assert os.listdir(tmp_path) == []
    assert model.epoch == 1


def test_a_non_finite_weight_file_is_refused_at_load_time(diverged, tmp_path):
    model, _, _ = diverged
    path = tmp_path / "nan.h5"
    # Written with the low-level writer, as an older version of mrcnn did.
    save_weights_h5(model.keras_model, path)
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.keras_model.weights[:3]]
    with pytest.raises(WeightsFileError, match=r"nan\.h5: holds non-finite values \(NaN or inf\), "
                                               r"first in \w+"):
        load_weights_h5(model.keras_model, path)
    # Nothing was assigned.
    after = [keras.ops.convert_to_numpy(w) for w in model.keras_model.weights[:3]]
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(before, after))


def test_first_non_finite_names_the_array():
    arrays = [("a", np.ones(3)), ("b", np.array([1.0, np.inf])), ("c", np.array([np.nan]))]
    assert first_non_finite(arrays) == "b"
    assert first_non_finite([("steps", np.array([3], np.int64))]) is None
