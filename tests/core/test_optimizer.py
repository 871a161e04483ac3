"""Config.OPTIMIZER, LEARNING_RATE_WARMUP_STEPS, GRADIENT_ACCUMULATION_STEPS
and DTYPE_POLICY mixed_float16: the optimizer train() builds, the warm-up's
values, optimizer states that continue across policies, an Adam run with
warm-up that resumes, and mrcnn's fused SGD and Adam against Keras's."""
import os
import sys

import keras
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "resume"))
from resume_fixtures import ResumeConfig, datasets  # noqa: E402

from mrcnn import model as modellib  # noqa: E402
from mrcnn.config import Config, ConfigError  # noqa: E402
from mrcnn.training import optimizer as fused  # noqa: E402
from mrcnn.training.optimizer import LinearWarmup, make_optimizer  # noqa: E402
from mrcnn.training.resume import (  # noqa: E402
    capture_optimizer_state,
    read_optimizer_state,
    restore_optimizer_state,
)
from mrcnn.weights import load_initial_weights  # noqa: E402


class AdamWarmupConfig(ResumeConfig):
    OPTIMIZER = "adam"  # names are case-insensitive
    LEARNING_RATE = 0.002
    LEARNING_RATE_WARMUP_STEPS = 10


def test_warmup_rises_linearly_then_holds():
    warmup = LinearWarmup(0.01, steps=4)
    values = [float(warmup(step)) for step in range(6)]
    assert values == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01])
    decay = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=1, decay_rate=0.5)
    nested = LinearWarmup(decay, steps=2)
    assert [float(nested(s)) for s in (0, 1, 2)] == pytest.approx([0.005, 0.005, 0.0025])
    # Through the JSON a checkpoint stores and back.
    again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(nested))
    assert isinstance(again, LinearWarmup) and again.steps == 2
    assert [float(again(s)) for s in (0, 1, 2)] == pytest.approx([0.005, 0.005, 0.0025])


def test_make_optimizer_follows_the_config():
    config = Config()
    sgd = make_optimizer(config, 0.01, clipnorm=5.0)
    assert type(sgd) is fused.SGD and isinstance(sgd, keras.optimizers.SGD)
    assert sgd.momentum == 0.9 and sgd.clipnorm == 5.0
    assert float(sgd.learning_rate) == pytest.approx(0.01)
    config.OPTIMIZER, config.LEARNING_RATE_WARMUP_STEPS = "Adam", 5
    adam = make_optimizer(config, 0.01, clipnorm=None)
    assert type(adam) is fused.Adam and isinstance(adam, keras.optimizers.Adam)
    assert adam.clipnorm is None
    assert float(adam.learning_rate) == pytest.approx(0.002)  # iteration 0: 1/5
    # A resumed warm-up schedule is used as it is, not wrapped again.
    resumed = make_optimizer(config, LinearWarmup(0.01, 5), clipnorm=None)
    assert float(resumed.learning_rate) == pytest.approx(0.002)


def _updated(optimizer, steps):
    """Variables and slots after `steps` apply_gradients calls of `optimizer`
    on fixed variables and gradients (some above clipnorm 1, some below);
    the last call inside a tf.function, as fit() runs it."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    shapes = [(3, 3, 4, 5), (5,), (7, 2)]
    variables = [keras.Variable(rng.normal(0, 1, s).astype(np.float32), name=f"w{i}")
                 for i, s in enumerate(shapes)]
    scales = [1.0, 0.01, 0.3]
    for step in range(steps):
        gradients = [tf.constant(rng.normal(0, scale, v.shape).astype(np.float32))
                     for v, scale in zip(variables, scales)]
        if step == steps - 1:
            tf.function(lambda: optimizer.apply_gradients(zip(gradients, variables)))()
        else:
            optimizer.apply_gradients(zip(gradients, variables))
    return [v.numpy() for v in variables] + [v.numpy() for v in optimizer.variables]


@pytest.mark.parametrize("make", [
    lambda module, accumulate: module.SGD(0.1, momentum=0.9, clipnorm=1.0,
                                          gradient_accumulation_steps=accumulate),
    lambda module, accumulate: module.SGD(0.1, momentum=0.9, nesterov=True, clipnorm=1.0,
                                          gradient_accumulation_steps=accumulate),
    lambda module, accumulate: module.SGD(0.1, clipnorm=1.0,
                                          gradient_accumulation_steps=accumulate),
    lambda module, accumulate: module.Adam(0.01, clipnorm=1.0,
                                           gradient_accumulation_steps=accumulate),
    lambda module, accumulate: module.Adam(0.01, gradient_accumulation_steps=accumulate),
], ids=["sgd-momentum", "sgd-nesterov", "sgd", "adam", "adam-no-clip"])
@pytest.mark.parametrize("accumulate", [None, 2], ids=["", "accumulate-2"])
def test_fused_updates_equal_keras_optimizers(make, accumulate):
    """The fused kernels and the one-pass clipping give Keras's numbers: the
    variables and every optimizer slot after the same steps."""
    expected = _updated(make(keras.optimizers, accumulate), steps=4)
    got = _updated(make(fused, accumulate), steps=4)
    assert len(got) == len(expected)
    for value, reference in zip(got, expected):
        np.testing.assert_allclose(value, reference, rtol=1e-5, atol=1e-6)
    # The steps changed the variables (a comparison of untouched values
    # would pass without any update).
    assert not np.allclose(got[0], _updated(make(fused, accumulate), steps=0)[0])


@pytest.mark.parametrize("optimizer, kernel", [
    (lambda: fused.SGD(0.1, momentum=0.9, clipnorm=1.0), "ResourceApplyKerasMomentum"),
    (lambda: fused.Adam(0.01, clipnorm=1.0), "ResourceApplyAdam"),
], ids=["sgd", "adam"])
def test_each_variable_is_updated_by_one_fused_kernel(optimizer, kernel):
    import tensorflow as tf

    optimizer = optimizer()
    variables = [keras.Variable(np.ones((4, 3), np.float32)), keras.Variable(np.ones(3, np.float32))]
    optimizer.build(variables)
    gradients = [tf.ones((4, 3)), tf.ones(3)]
    graph = tf.function(lambda: optimizer.apply_gradients(zip(gradients, variables))) \
        .get_concrete_function().graph
    ops = [op.type for op in graph.get_operations()]
    assert ops.count(kernel) == 2
    assert ops.count("L2Loss") == 2  # clipnorm's norms, one pass each
    # No element-wise variable updates besides the iteration count.
    assert ops.count("AssignAddVariableOp") <= 1 and "AssignSubVariableOp" not in ops


def test_clip_by_norm_scales_only_gradients_above_the_limit():
    import tensorflow as tf

    big = tf.constant([[3.0, 4.0]])          # norm 5
    small = tf.constant([0.3, 0.4])          # norm 0.5
    np.testing.assert_allclose(fused.clip_by_norm(big, 1.0).numpy(), [[0.6, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(fused.clip_by_norm(small, 1.0).numpy(), [0.3, 0.4], rtol=1e-6)
    np.testing.assert_array_equal(fused.clip_by_norm(tf.zeros([3]), 1.0).numpy(), [0, 0, 0])


def test_float16_wraps_the_optimizer_in_loss_scaling_and_accumulation_is_keras():
    config = Config()
    config.DTYPE_POLICY, config.GRADIENT_ACCUMULATION_STEPS = "mixed_float16", 4
    optimizer = make_optimizer(config, 0.01, clipnorm=5.0)
    assert type(optimizer) is keras.optimizers.LossScaleOptimizer
    inner = optimizer.inner_optimizer
    assert type(inner) is fused.SGD and inner.clipnorm == 5.0
    assert inner.gradient_accumulation_steps == 4
    # No accumulation is Keras's None (it refuses 1).
    assert make_optimizer(Config(), 0.01, clipnorm=None).gradient_accumulation_steps is None


def test_accumulation_is_refused_under_several_replicas(monkeypatch):
    """A TF_CONFIG cluster sets GPU_COUNT after Config.validate: the
    optimizer, made in the strategy's scope, says it in one line."""
    import tensorflow as tf

    class TwoReplicas:
        num_replicas_in_sync = 2

    monkeypatch.setattr(tf.distribute, "get_strategy", TwoReplicas)
    config = Config()
    config.GRADIENT_ACCUMULATION_STEPS = 4
    with pytest.raises(ConfigError, match="Config.GRADIENT_ACCUMULATION_STEPS: is 4 with 2 "
                                          "replicas; Keras accumulates on one device only"):
        make_optimizer(config, 0.01, clipnorm=None)
    config.GRADIENT_ACCUMULATION_STEPS = 1
    assert make_optimizer(config, 0.01, clipnorm=None).gradient_accumulation_steps is None


def small_model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2, name="fc")(inputs))


def stepped(optimizer, model, steps=3):
    """`optimizer` after `steps` SGD steps of random gradients (finite)."""
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        grads = [rng.standard_normal(v.shape).astype("float32") for v in model.trainable_variables]
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return optimizer


def optimizer_for(policy, accumulation=1):
    config = Config()
    config.DTYPE_POLICY, config.GRADIENT_ACCUMULATION_STEPS = policy, accumulation
    return make_optimizer(config, 0.01, clipnorm=5.0)


def test_a_float16_state_names_the_loss_scale_apart_and_continues_under_any_policy():
    model = small_model()
    old = stepped(optimizer_for("mixed_float16", accumulation=2), model)
    state = capture_optimizer_state(old, "the previous train() call")
    # The scaler's own `iteration` and `learning_rate` do not shadow the SGD's.
    assert list(state.variables)[:4] == ["loss_scale.iteration", "loss_scale.learning_rate",
                                         "loss_scale.step_counter", "loss_scale.dynamic_scale"]
    assert state.class_name == "SGD" and state.loss_scaled and state.accumulation_steps == 2
    assert state.iterations == 3 and state.loss_scale == 2.0 ** 15
    assert state.learning_rate() == pytest.approx(0.01)
    old.dynamic_scale.assign(512.0)
    state = capture_optimizer_state(old, "the previous train() call")

    again = optimizer_for("mixed_float16", accumulation=2)
    restored, detail = restore_optimizer_state(again, model.trainable_variables, state)
    assert restored and detail.endswith("loss scale 512")
    assert float(again.dynamic_scale.numpy()) == 512.0 and int(again.step_counter.numpy()) == 3
    for before, after in zip(old.inner_optimizer.variables, again.inner_optimizer.variables):
        np.testing.assert_array_equal(after.numpy(), before.numpy())
    # A float32 run continues the SGD state and leaves the scale behind; a
    # float16 run of a float32 state starts its own scale.
    float32 = optimizer_for("float32", accumulation=2)
    assert restore_optimizer_state(float32, model.trainable_variables, state)[0]
    assert int(float32.iterations) == 1  # 3 batches, 1 update
    resumed = optimizer_for("mixed_float16", accumulation=2)
    restored, detail = restore_optimizer_state(
        resumed, model.trainable_variables,
        capture_optimizer_state(float32, "the previous train() call"))
    assert restored and "loss scale" not in detail
    assert float(resumed.dynamic_scale.numpy()) == 2.0 ** 15


def test_another_accumulation_starts_a_fresh_optimizer():
    model = small_model()
    state = capture_optimizer_state(stepped(optimizer_for("float32", accumulation=2), model),
                                    "mask_rcnn_x_0001.h5")
    restored, detail = restore_optimizer_state(optimizer_for("float32", accumulation=4),
                                               model.trainable_variables, state)
    assert not restored
    assert detail == ("mask_rcnn_x_0001.h5 accumulated the gradients of 2 batch(es) per update "
                      "(GRADIENT_ACCUMULATION_STEPS), this run 4")


@pytest.mark.parametrize("field, value, message", [
    ("OPTIMIZER", "rmsprop", "OPTIMIZER: is 'rmsprop'; use one of ['SGD', 'Adam']"),
    ("LEARNING_RATE_WARMUP_STEPS", -1, "LEARNING_RATE_WARMUP_STEPS: is -1"),
])
def test_validate_names_the_bad_setting(field, value, message):
    config = Config()
    config.NUM_CLASSES = 2
    setattr(config, field, value)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config.validate()


def test_adam_with_warmup_trains_and_resumes_where_it_stopped(tmp_path):
    steps = AdamWarmupConfig.STEPS_PER_EPOCH
    model = modellib.MaskRCNN("training", AdamWarmupConfig(), str(tmp_path))
    # No validation set: its evaluation would trace one more graph per call.
    images = datasets()[0]
    history = model.train(images, None, learning_rate=0.002, epochs=1, layers="heads")
    optimizer = model.keras_model.optimizer
    assert type(optimizer) is fused.Adam
    # After `steps` iterations the warm-up is at (steps + 1) / 10 of the rate.
    assert history.history["learning_rate"] == pytest.approx([0.002 * (steps + 1) / 10])
    state = read_optimizer_state(os.path.join(model.log_dir, "mask_rcnn_tiny_0001.h5"))
    assert state.class_name == "Adam" and state.iterations == steps
    moments = [name for name in state.variables if name.endswith("_momentum")]
    velocities = [name for name in state.variables if name.endswith("_velocity")]
    assert moments and len(moments) == len(velocities)

    resumed = modellib.MaskRCNN("training", AdamWarmupConfig(), str(tmp_path))
    load_initial_weights(resumed, "last")
    started = {}

    class AtStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            started.update({v.name: np.array(v.numpy()) for v in self.model.optimizer.variables})
            started["lr"] = float(self.model.optimizer.learning_rate)

    history = resumed.train(images, None, learning_rate=None, epochs=2, layers="heads",
                            custom_callbacks=[AtStart()])
    # The Adam moments and the iteration continued; the warm-up did not restart.
    assert int(started["iteration"]) == steps
    for name in moments + velocities:
        np.testing.assert_array_equal(started[name], state.variables[name])
    assert started["lr"] == pytest.approx(0.002 * (steps + 1) / 10)
    assert history.history["learning_rate"] == pytest.approx([0.002 * (2 * steps + 1) / 10])
    schedule = resumed.keras_model.optimizer._learning_rate
    assert isinstance(schedule, LinearWarmup) and not isinstance(schedule.learning_rate,
                                                                 LinearWarmup)
