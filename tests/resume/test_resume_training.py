"""Train 2 epochs, stop, resume to 4 with --weights=last: the same run."""
import glob
import logging
import os

import keras
import numpy as np
import pytest
from resume_fixtures import ResumeConfig, datasets
from tensorboard_events import tag_steps

from mrcnn import model as modellib
from mrcnn.training.resume import read_optimizer_state
from mrcnn.weights import load_initial_weights

STEPS = ResumeConfig.STEPS_PER_EPOCH
MOMENT = "mrcnn_class_logits_kernel_momentum"


class OptimizerAtStart(keras.callbacks.Callback):
    """Records the optimizer variables when fit() starts."""

    def on_train_begin(self, logs=None):
        self.values = {v.name: np.array(v.numpy()) for v in self.model.optimizer.variables}


def epoch_steps(log_dir, subdir="train"):
    """Steps of the epoch_loss summaries TensorBoard wrote in log_dir/subdir."""
    return tag_steps(log_dir, subdir, "epoch_loss")


def checkpoints(log_dir):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(log_dir, "*.h5*")))


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    """A run stopped after epoch 2: (model_dir, run folder, the model)."""
    model_dir = str(tmp_path_factory.mktemp("logs"))
    model = modellib.MaskRCNN("training", ResumeConfig(), model_dir)
    model.train(*datasets(), learning_rate=0.01, epochs=2, layers="heads")
    return model_dir, model.log_dir, model


def test_resume_with_last_continues_the_run(two_epochs, tmp_path):
    model_dir, run_dir, original = two_epochs
    resumed = modellib.MaskRCNN("training", ResumeConfig(), model_dir)
    fresh_seed = resumed.data_seed
    load_initial_weights(resumed, "last")
    assert (resumed.epoch, resumed.log_dir) == (2, run_dir)
    # The run's data seed came back: its image order continues (see
    # test_a_resumed_generator_draws_what_the_uninterrupted_one_drew).
    assert resumed.data_seed == original.data_seed != fresh_seed

    at_start = OptimizerAtStart()
    resumed.train(*datasets(), learning_rate=None, epochs=4, layers="heads",
                  custom_callbacks=[at_start])

    # Epochs 3 and 4 ran, in the same folder, numbered on.
    assert checkpoints(run_dir) == [f"mask_rcnn_tiny_{e:04d}.h5" for e in (1, 2, 3, 4)]
    states = [read_optimizer_state(os.path.join(run_dir, f"mask_rcnn_tiny_{e:04d}.h5"))
              for e in (1, 2, 3, 4)]
    assert [s.iterations for s in states] == [STEPS, 2 * STEPS, 3 * STEPS, 4 * STEPS]
    # The optimizer started from epoch 2's state exactly, momentum included,
    # with the checkpoint's learning rate (learning_rate=None).
    assert int(at_start.values["iteration"]) == 2 * STEPS
    np.testing.assert_array_equal(at_start.values[MOMENT], states[1].variables[MOMENT])
    assert np.abs(states[1].variables[MOMENT]).sum() > 0
    assert float(at_start.values["learning_rate"]) == pytest.approx(0.01)
    assert int(resumed.keras_model.optimizer.iterations) == 4 * STEPS
    # TensorBoard: one point per epoch, 0..3, no jump back to epoch 1.
    assert epoch_steps(run_dir) == [0, 1, 2, 3]
    assert epoch_steps(run_dir, "validation") == [0, 1, 2, 3]

    # An uninterrupted 4-epoch run has the same structure.
    straight = modellib.MaskRCNN("training", ResumeConfig(), tmp_path)
    straight.train(*datasets(), learning_rate=0.01, epochs=4, layers="heads")
    assert checkpoints(straight.log_dir) == checkpoints(run_dir)
    final = read_optimizer_state(os.path.join(straight.log_dir, "mask_rcnn_tiny_0004.h5"))
    assert final.iterations == states[3].iterations
    assert {k: v.shape for k, v in final.variables.items()} == \
        {k: v.shape for k, v in states[3].variables.items()}
    settings = [{k: v for k, v in s.config["config"].items() if k != "name"}
                for s in (final, states[3])]
    assert settings[0] == settings[1] and settings[0]["momentum"] == 0.9
    assert epoch_steps(straight.log_dir) == [0, 1, 2, 3]


def test_a_resumed_generator_draws_what_the_uninterrupted_one_drew():
    from mrcnn.data.pipeline import DataGenerator

    train, _ = datasets()
    config = ResumeConfig()
    config.STEPS_PER_EPOCH = 3

    def epoch_orders(generator, epochs=4):
        """The image order of each epoch; leaves the generator at the last."""
        orders = [generator._order]
        for _ in range(epochs - 1):
            generator.on_epoch_end()
            orders.append(generator._order)
        return np.concatenate(orders).tolist(), {tuple(o) for o in orders}

    straight = DataGenerator(train, config, seed=7, workers=1)
    orders, distinct = epoch_orders(straight)
    assert len(distinct) > 1  # each epoch draws anew
    resumed = DataGenerator(train, config, seed=7, workers=1, initial_epoch=3)
    np.testing.assert_array_equal(resumed._order, straight._order)
    for index in range(len(straight)):
        expected, got = straight[index], resumed[index]
        for key in expected:  # images and the sampled RPN targets alike
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert epoch_orders(DataGenerator(train, config, seed=8, workers=1))[0] != orders


def test_in_process_train_calls_continue_the_optimizer(two_epochs):
    _, run_dir, model = two_epochs
    optimizer = model.keras_model.optimizer
    momentum = {v.name: np.array(v.numpy()) for v in optimizer.variables}
    model.set_trainable("heads", verbose=0)
    model._prepare_optimizer(0.01)
    assert model.keras_model.optimizer is not optimizer
    assert int(model.keras_model.optimizer.iterations) == 2 * STEPS
    for v in model.keras_model.optimizer.variables:
        np.testing.assert_array_equal(v.numpy(), momentum[v.name])


def test_resume_with_other_layers_warns_and_starts_fresh(two_epochs, caplog):
    model_dir, run_dir, _ = two_epochs
    resumed = modellib.MaskRCNN("training", ResumeConfig(), model_dir)
    resumed.load_weights(os.path.join(run_dir, "mask_rcnn_tiny_0002.h5"), by_name=True)
    resumed.set_trainable("4+", verbose=0)
    with caplog.at_level(logging.WARNING):
        resumed._prepare_optimizer(None)
    assert int(resumed.keras_model.optimizer.iterations) == 0
    assert resumed.epoch == 2
    message = caplog.records[-1].getMessage()
    assert "The optimizer starts fresh" in message and "layers='heads'" in message
    assert "the epoch count continues at 2" in message


def test_settings_changed_since_the_run_are_named(two_epochs, caplog):
    model_dir, run_dir, _ = two_epochs
    config = ResumeConfig()
    config.LEARNING_MOMENTUM = 0.8
    resumed = modellib.MaskRCNN("training", config, model_dir)
    with caplog.at_level(logging.WARNING):
        resumed.load_weights(os.path.join(run_dir, "mask_rcnn_tiny_0001.h5"), by_name=True)
    assert "settings that differ from its run: LEARNING_MOMENTUM: 0.9 -> 0.8" in caplog.text


def test_weights_from_another_run_start_a_new_one(two_epochs, tmp_path):
    _, run_dir, _ = two_epochs
    config = ResumeConfig()
    config.NAME = "other"
    model = modellib.MaskRCNN("training", config, tmp_path)
    model.load_weights(os.path.join(run_dir, "mask_rcnn_tiny_0002.h5"), by_name=True)
    assert model.epoch == 0
    assert os.path.dirname(model.log_dir) == str(tmp_path)
    assert os.path.basename(model.log_dir).startswith("other")
    # From-scratch BatchNorm statistics keep training in the new run.
    assert model.pretrained_batchnorm is False


def test_continuing_from_an_earlier_epoch_keeps_the_later_checkpoints(two_epochs):
    model_dir, run_dir, _ = two_epochs
    before = checkpoints(run_dir)
    assert "mask_rcnn_tiny_0002.h5" in before
    resumed = modellib.MaskRCNN("training", ResumeConfig(), model_dir)
    resumed.load_weights(os.path.join(run_dir, "mask_rcnn_tiny_0001.h5"), by_name=True)
    assert (resumed.epoch, resumed.log_dir) == (1, run_dir)
    # Epoch 2 of the run exists: this continuation writes beside it.
    branch = resumed.prepare_log_dir()
    try:
        assert branch != run_dir and os.path.dirname(branch) == os.path.dirname(run_dir)
        assert resumed.checkpoint_path == os.path.join(branch, "mask_rcnn_tiny_{epoch:04d}.h5")
        assert resumed.epoch == 1
        assert checkpoints(run_dir) == before
    finally:
        os.rmdir(branch)


def test_a_checkpoint_of_another_network_starts_a_new_run(two_epochs, tmp_path, caplog):
    _, run_dir, _ = two_epochs
    config = ResumeConfig()
    config.FPN_CLASSIF_FC_LAYERS_SIZE = 32
    model = modellib.MaskRCNN("training", config, tmp_path)
    path = os.path.join(run_dir, "mask_rcnn_tiny_0002.h5")
    with caplog.at_level(logging.WARNING):
        model.load_weights(path, by_name=True)
    assert model.epoch == 0 and os.path.dirname(model.log_dir) == str(tmp_path)
    assert "FPN_CLASSIF_FC_LAYERS_SIZE: 64 -> 32" in caplog.text and "a new run starts" in caplog.text
    with pytest.raises(ValueError, match="Cannot continue the run"):
        model.load_weights(path, by_name=True, continue_run=True)
    # A new run on purpose, from the run's own network.
    same = modellib.MaskRCNN("training", ResumeConfig(), tmp_path)
    same.load_weights(path, by_name=True, continue_run=False)
    assert same.epoch == 0 and os.path.dirname(same.log_dir) == str(tmp_path)


def test_a_new_run_never_writes_into_another_runs_folder(tmp_path):
    model = modellib.MaskRCNN("training", ResumeConfig(), tmp_path)
    # Another run, started in the same minute, holds the folder already.
    taken = model.log_dir
    os.makedirs(taken)
    with open(os.path.join(taken, "other_run.txt"), "w") as f:
        f.write("not yours")
    model.train(*datasets(), learning_rate=0.01, epochs=1, layers="heads")
    model.train(*datasets(), learning_rate=0.01, epochs=2, layers="heads")
    assert model.log_dir != taken and os.path.dirname(model.log_dir) == str(tmp_path)
    assert os.listdir(taken) == ["other_run.txt"]
    # Both train() calls of this model are one run, in its own folder.
    assert checkpoints(model.log_dir) == ["mask_rcnn_tiny_0001.h5", "mask_rcnn_tiny_0002.h5"]
    assert model.checkpoint_path.startswith(model.log_dir)
    assert epoch_steps(model.log_dir) == [0, 1]
    assert model.find_last() == os.path.join(model.log_dir, "mask_rcnn_tiny_0002.h5")


def test_learning_rate_schedule_continues_on_resume(tmp_path):
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([3], [0.02, 0.002])
    model = modellib.MaskRCNN("training", ResumeConfig(), tmp_path)
    model.set_trainable("heads", verbose=0)
    model._prepare_optimizer(schedule)
    model.keras_model.optimizer.iterations.assign(5)
    model.epoch = 3
    os.makedirs(model.log_dir)
    path = model.save_weights_h5(model.checkpoint_path.format(epoch=3), include_optimizer=True)

    resumed = modellib.MaskRCNN("training", ResumeConfig(), tmp_path)
    resumed.load_weights(path, by_name=True)
    resumed.set_trainable("heads", verbose=0)
    learning_rate = resumed._prepare_optimizer(None)
    assert learning_rate.get_config() == schedule.get_config()
    assert (resumed.epoch, int(resumed.keras_model.optimizer.iterations)) == (3, 5)
    assert float(resumed.keras_model.optimizer.learning_rate) == pytest.approx(0.002)


class CheckpointContents(keras.callbacks.Callback):
    """Records each checkpoint's weights and root attributes right after
    EpochCheckpoint wrote it (user callbacks run after it)."""

    def __init__(self, mrcnn_model):
        super().__init__()
        self.mrcnn_model = mrcnn_model
        self.contents = {}

    def on_epoch_end(self, epoch, logs=None):
        path = self.mrcnn_model.checkpoint_path.format(epoch=epoch + 1)
        self.contents[os.path.basename(path)] = checkpoint_contents(path)


def checkpoint_contents(path):
    """({dataset path: array} outside the optimizer group, {root attribute: value})."""
    import h5py

    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: arrays.__setitem__(name, np.array(item))
                     if isinstance(item, h5py.Dataset) and not name.startswith("optimizer/")
                     else None)
        attrs = {key: np.array(value).tolist() for key, value in f.attrs.items()}
    return arrays, attrs


def test_old_checkpoints_keep_the_weights_without_the_optimizer_state(tmp_path, caplog):
    from mrcnn.training.resume import read_optimizer_state

    config = ResumeConfig()
    config.OPTIMIZER_STATE_CHECKPOINTS = 1
    model = modellib.MaskRCNN("training", config, tmp_path)
    recorder = CheckpointContents(model)
    model.train(*datasets(), learning_rate=0.01, epochs=3, layers="heads",
                custom_callbacks=[recorder])

    names = [f"mask_rcnn_tiny_{e:04d}.h5" for e in (1, 2, 3)]
    assert checkpoints(model.log_dir) == names  # no temporary file left
    paths = [os.path.join(model.log_dir, name) for name in names]
    assert [read_optimizer_state(p) is not None for p in paths] == [False, False, True]
    # Rewritten without the state, the old files hold what was written.
    for name, path in zip(names, paths):
        arrays, attrs = checkpoint_contents(path)
        written_arrays, written_attrs = recorder.contents[name]
        assert attrs == written_attrs
        assert arrays.keys() == written_arrays.keys() and arrays
        for key, value in arrays.items():
            np.testing.assert_array_equal(value, written_arrays[key], err_msg=f"{name}: {key}")
    # The space the state took is given back (HDF5 would keep it if the
    # group were merely deleted).
    state_bytes = sum(v.nbytes for v in read_optimizer_state(paths[2]).variables.values())
    assert state_bytes > 5e5
    assert os.path.getsize(paths[2]) - os.path.getsize(paths[0]) > 0.9 * state_bytes

    # The newest resumes exactly; an older one continues its epoch count
    # with a fresh optimizer, and says so.
    resumed = modellib.MaskRCNN("training", config, tmp_path)
    load_initial_weights(resumed, "last")
    resumed.set_trainable("heads", verbose=0)
    resumed._prepare_optimizer(None)
    assert int(resumed.keras_model.optimizer.iterations) == 3 * STEPS
    older = modellib.MaskRCNN("training", config, tmp_path)
    with caplog.at_level(logging.WARNING):
        older.load_weights(paths[1], by_name=True)
    assert older.epoch == 2
    assert "holds no optimizer state" in caplog.text and "OPTIMIZER_STATE_CHECKPOINTS" in caplog.text
    older.set_trainable("heads", verbose=0)
    older._prepare_optimizer(None)
    assert int(older.keras_model.optimizer.iterations) == 0
    written = recorder.contents[names[1]][0]
    for name in ("mrcnn_class_logits", "mrcnn_mask"):
        np.testing.assert_array_equal(older.keras_model.get_layer(name).get_weights()[0],
                                      written[f"{name}/{name}/kernel:0"])
