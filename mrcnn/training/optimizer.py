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

The optimizers are this module's SGD and Adam: subclasses of Keras's with
the same names, formulas and state, since checkpoints record the class name
and resume compares it. Each variable's update is one fused TensorFlow
kernel (ResourceApplyKerasMomentum, ResourceApplyAdam) instead of Keras's
chain of element-wise ops, and `clipnorm` takes each gradient's norm in one
pass. On ResNet-50's 27M parameters those passes over memory were a third
of the shapes sample's training step (docs/performance.md, "The optimizer
update").
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


def _tf_variable(variable):
    """The tf.Variable of a Keras variable; inside a tf.distribute update,
    Keras passes the device's tf.Variable itself."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def clip_by_norm(gradient, clip_norm):
    """`gradient` scaled to norm `clip_norm` if its norm is larger (Keras's
    per-variable `clipnorm`): the norm from one pass (tf.nn.l2_loss) and one
    multiply, where Keras squares, sums, multiplies and divides.

    gradient: float tensor of any shape. Returns a tensor like it.
    """
    norm = tf.sqrt(2.0 * tf.nn.l2_loss(gradient))
    clip_norm = tf.cast(clip_norm, gradient.dtype)
    return gradient * (clip_norm / tf.maximum(norm, clip_norm))


class _FusedClipping:
    """Mixin: `clipnorm` through clip_by_norm for dense gradients."""

    def _clip_gradients(self, grads):
        if not (self.clipnorm and self.clipnorm > 0) or any(
                isinstance(g, tf.IndexedSlices) for g in grads):
            return super()._clip_gradients(grads)
        return [None if g is None else clip_by_norm(g, self.clipnorm) for g in grads]


@keras.saving.register_keras_serializable(package="mrcnn")
class SGD(_FusedClipping, keras.optimizers.SGD):
    """keras.optimizers.SGD whose momentum update is TensorFlow's fused
    ResourceApplyKerasMomentum (the same formula: m = momentum * m - lr * g;
    var += m, or var += momentum * m - lr * g with nesterov). Without
    momentum, or for sparse gradients, it is Keras's update."""

    def update_step(self, gradient, variable, learning_rate):
        if self.momentum == 0 or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = tf.as_dtype(variable.dtype)
        momentum = self.momentums[self._get_variable_index(variable)]
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=_tf_variable(variable).handle, accum=_tf_variable(momentum).handle,
            lr=tf.cast(learning_rate, dtype), grad=tf.cast(gradient, dtype),
            momentum=tf.cast(self.momentum, dtype), use_nesterov=bool(self.nesterov))


@keras.saving.register_keras_serializable(package="mrcnn")
class Adam(_FusedClipping, keras.optimizers.Adam):
    """keras.optimizers.Adam whose update is TensorFlow's fused
    ResourceApplyAdam (the same formula: m and v as moving averages of g and
    g², var -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) +
    epsilon)). With amsgrad, or for sparse gradients, it is Keras's update."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = tf.as_dtype(variable.dtype)
        index = self._get_variable_index(variable)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_tf_variable(variable).handle, m=_tf_variable(self._momentums[index]).handle,
            v=_tf_variable(self._velocities[index]).handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))


def make_optimizer(config, learning_rate, clipnorm, momentum=None):
    """A new Keras optimizer for `config`.

    config: uses OPTIMIZER, LEARNING_RATE_WARMUP_STEPS,
        GRADIENT_ACCUMULATION_STEPS and DTYPE_POLICY.
    learning_rate: float or LearningRateSchedule (a resumed LinearWarmup is
        not wrapped twice).
    clipnorm: the gradient norm limit, or None.
    momentum: SGD's momentum (default LEARNING_MOMENTUM).
    Returns this module's SGD or Adam, inside a
    keras.optimizers.LossScaleOptimizer under "mixed_float16". Raises
    ConfigError for accumulation under a strategy of several replicas (call
    it in the training strategy's scope).
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
        optimizer = SGD(
            momentum=config.LEARNING_MOMENTUM if momentum is None else momentum, **common)
    elif name == "Adam":
        optimizer = Adam(**common)
    else:
        raise ValueError(f"Config.OPTIMIZER is {config.OPTIMIZER!r}; use one of {OPTIMIZERS}")
    if resolve_precision(config.DTYPE_POLICY).policy == "mixed_float16":
        # float16 gradients below ~6e-8 round to zero: scale the loss up.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
