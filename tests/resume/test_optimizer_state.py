"""Optimizer state through a checkpoint file, on a two-layer Keras model."""
import h5py
import keras
import numpy as np
import pytest

from mrcnn.training.resume import (capture_optimizer_state, config_differences,
                                   read_optimizer_state, restore_optimizer_state,
                                   write_optimizer_state)


def small_model():
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4, name="fc1")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="fc2")(x))


def trained_optimizer(model, learning_rate=0.1, steps=3):
    optimizer = keras.optimizers.SGD(learning_rate, momentum=0.9, clipnorm=5.0)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        grads = [rng.standard_normal(v.shape).astype("float32") for v in model.trainable_variables]
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return optimizer


def through_file(tmp_path, optimizer, layers=None):
    path = str(tmp_path / "ckpt.h5")
    with h5py.File(path, "w") as f:
        write_optimizer_state(f, optimizer, layers)
    return read_optimizer_state(path)


def test_iterations_and_momentum_continue_learning_rate_stays(tmp_path):
    model = small_model()
    old = trained_optimizer(model)
    state = through_file(tmp_path, old, layers="heads")
    assert state.iterations == 3 and state.layers == "heads" and state.learning_rate() == 0.1

    new = keras.optimizers.SGD(0.05, momentum=0.9, clipnorm=5.0)
    restored, detail = restore_optimizer_state(new, model.trainable_variables, state)
    assert restored and detail == "iteration 3 and 4 optimizer slots"
    assert int(new.iterations) == 3
    assert float(new.learning_rate) == pytest.approx(0.05)  # the caller's choice
    for before, after in zip(old.variables[2:], new.variables[2:]):
        assert before.name == after.name and "momentum" in after.name
        np.testing.assert_array_equal(after.numpy(), before.numpy())
        assert np.abs(after.numpy()).sum() > 0


def test_other_trainable_set_starts_fresh(tmp_path):
    model = small_model()
    state = through_file(tmp_path, trained_optimizer(model), layers=r"(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)")
    model.get_layer("fc1").trainable = False
    new = keras.optimizers.SGD(0.1, momentum=0.9)
    restored, detail = restore_optimizer_state(new, model.trainable_variables, state)
    assert not restored and new.built and int(new.iterations) == 0
    assert "another set of layers (layers='heads', 4 optimizer slots); this call trains 2" in detail


def test_other_optimizer_class_starts_fresh(tmp_path):
    model = small_model()
    state = capture_optimizer_state(trained_optimizer(model), "the previous train() call")
    restored, detail = restore_optimizer_state(keras.optimizers.Adam(), model.trainable_variables,
                                               state)
    assert not restored and "holds a SGD state, this run uses Adam" in detail


def test_schedule_continues_from_the_iteration_count(tmp_path):
    model = small_model()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    old = keras.optimizers.SGD(schedule, momentum=0.9)
    old.build(model.trainable_variables)
    old.iterations.assign(6)
    state = through_file(tmp_path, old)
    resumed_schedule = state.learning_rate()
    assert resumed_schedule.get_config() == schedule.get_config()
    new = keras.optimizers.SGD(resumed_schedule, momentum=0.9)
    assert restore_optimizer_state(new, model.trainable_variables, state)[0]
    assert float(new.learning_rate) == pytest.approx(0.1 * 0.5 ** 3)


def test_unbuilt_optimizer_writes_nothing(tmp_path):
    assert through_file(tmp_path, keras.optimizers.SGD(0.1)) is None
    assert capture_optimizer_state(None, "x") is None


def test_config_differences():
    from resume_fixtures import ResumeConfig

    saved = ResumeConfig().to_yaml()
    config = ResumeConfig()
    config.LEARNING_RATE = 0.001
    config.STEPS_PER_EPOCH = 5
    assert config_differences(saved, config) == ["LEARNING_RATE: 0.01 -> 0.001",
                                                 "STEPS_PER_EPOCH: 2 -> 5"]
