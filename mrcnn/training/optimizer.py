"""The optimizer a training run uses: Config.OPTIMIZER, with gradient
clipping, an optional linear learning-rate warm-up, gradient accumulation
(GRADIENT_ACCUMULATION_STEPS) and, under DTYPE_POLICY "mixed_float16",
dynamic loss scaling.

matterport trained with SGD and momentum (LEARNING_MOMENTUM), which stays
the default. Adam is the other choice: from scratch on small data it learns
the second stage much faster (measured on the shapes sample:
docs/normalization.md). WEIGHT_DECAY stays an L2 term of the loss with
either.

Both wrappers are Keras's own. Accumulation is the inner optimizer's
`gradient_accumulation_steps`: its `iteration` variable counts batches (the
learning rate and LinearWarmup follow it), `optimizer.iterations` counts
updates, and clipping applies to the accumulated mean. Loss scaling is
keras.optimizers.LossScaleOptimizer around it: the training step multiplies
the loss by `optimizer.scale_loss`, the optimizer divides the gradients back,
skips a batch whose gradients are not finite (halving the scale; the
accumulation then waits for the next batch) and doubles the scale after
`dynamic_growth_steps` (2000) finite batches in a row.
"""
import keras
import tensorflow as tf

from mrcnn.config import OPTIMIZERS, ConfigError, optimizer_class_name
from mrcnn.modeling.precision import resolve_precision


@keras.saving.register_keras_serializable(package="mrcnn")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`learning_rate` (a float or a schedule) scaled by (step + 1) / steps
    for the first `steps` optimizer iterations, then unchanged.

    A function of the optimizer's iteration count: it continues on resume,
    and a stage that starts a fresh optimizer warms up again.
    """

    def __init__(self, learning_rate, steps):
        self.learning_rate = learning_rate
        self.steps = int(steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        base = self.learning_rate
        if isinstance(base, keras.optimizers.schedules.LearningRateSchedule):
            base = base(step)
        return base * keras.ops.minimum(1.0, (step + 1.0) / float(self.steps))

    def get_config(self):
        base = self.learning_rate
        if isinstance(base, keras.optimizers.schedules.LearningRateSchedule):
            base = keras.optimizers.schedules.serialize(base)
        return {"learning_rate": base, "steps": self.steps}

    @classmethod
    def from_config(cls, config):
        base = config["learning_rate"]
        if isinstance(base, dict):
            base = keras.optimizers.schedules.deserialize(base)
        return cls(base, config["steps"])


def make_optimizer(config, learning_rate, clipnorm, momentum=None):
    """A new Keras optimizer for `config`.

    config: uses OPTIMIZER, LEARNING_RATE_WARMUP_STEPS,
        GRADIENT_ACCUMULATION_STEPS and DTYPE_POLICY.
    learning_rate: float or LearningRateSchedule (a resumed LinearWarmup is
        not wrapped twice).
    clipnorm: the gradient norm limit, or None.
    momentum: SGD's momentum (default LEARNING_MOMENTUM).
    Returns SGD or Adam, inside a keras.optimizers.LossScaleOptimizer under
    "mixed_float16". Raises ConfigError for accumulation under a strategy of
    several replicas (call it in the training strategy's scope).
    """
    name = optimizer_class_name(config.OPTIMIZER)
    warmup = int(config.LEARNING_RATE_WARMUP_STEPS or 0)
    if warmup and not isinstance(learning_rate, LinearWarmup):
        learning_rate = LinearWarmup(learning_rate, warmup)
    # Keras takes None for no accumulation (and refuses 1).
    accumulation = int(config.GRADIENT_ACCUMULATION_STEPS)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if accumulation > 1 and replicas > 1:
        # Config.validate refuses GPU_COUNT > 1; a TF_CONFIG cluster gets here.
        raise ConfigError(f"{type(config).__name__}.GRADIENT_ACCUMULATION_STEPS: is "
                          f"{accumulation} with {replicas} replicas; Keras accumulates on one "
                          "device only: set it to 1")
    common = dict(learning_rate=learning_rate, clipnorm=clipnorm,
                  gradient_accumulation_steps=accumulation if accumulation > 1 else None)
    if name == "SGD":
        optimizer = keras.optimizers.SGD(
            momentum=config.LEARNING_MOMENTUM if momentum is None else momentum, **common)
    elif name == "Adam":
        optimizer = keras.optimizers.Adam(**common)
    else:
        raise ValueError(f"Config.OPTIMIZER is {config.OPTIMIZER!r}; use one of {OPTIMIZERS}")
    if resolve_precision(config.DTYPE_POLICY).policy == "mixed_float16":
        # float16 gradients below ~6e-8 round to zero: scale the loss up.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
