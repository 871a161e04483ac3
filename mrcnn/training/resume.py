"""Optimizer state in checkpoints, so that a resumed run is the same run.

A checkpoint (matterport's HDF5 layout, see mrcnn.weights) carries, beside the
weights:
  root attributes  epoch (int, 1-based, the epochs done), mrcnn_config (the
                   Config as YAML), mrcnn_layers (the `layers=` regex trained),
                   mrcnn_trained_batchnorm_statistics (bool),
                   mrcnn_data_seed (int, the seed of the run's image order);
  group `optimizer` attribute `config` (JSON of keras.optimizers.serialize:
                   class, learning rate or schedule, momentum, clipnorm,
                   gradient_accumulation_steps; a LossScaleOptimizer's nests
                   the config of the optimizer it wraps under
                   `inner_optimizer`), attribute `variable_names`, and one
                   dataset per optimizer variable in `optimizer.variables`
                   order: `iteration` (int64 scalar, batches trained: with
                   gradient accumulation it counts the accumulated batches
                   too), `learning_rate`, then the slots of each trained
                   tensor (tensor's shape): SGD's momentum
                   `<layer>_<weight>_momentum`, Adam's `..._momentum` and
                   `..._velocity`, and with GRADIENT_ACCUMULATION_STEPS > 1
                   `..._gradient_accumulator` (the sum of the gradients of
                   the batches since the last update). Under mixed_float16
                   the LossScaleOptimizer's own variables come first, named
                   `loss_scale.<name>`: `loss_scale.dynamic_scale` (float32,
                   the loss scale), `loss_scale.step_counter` (int64, finite
                   steps since the scale last changed), and its unused
                   `loss_scale.iteration` and `loss_scale.learning_rate`.
Old tooling ignores the extra group (it is not listed in `layer_names`).

Restoring needs the optimizer built for the same trainable tensors: the same
`layers=` selection. Otherwise the optimizer starts fresh and the caller says so.
"""
import dataclasses
import json
import logging

import h5py
import numpy as np

logger = logging.getLogger(__name__)

OPTIMIZER_GROUP = "optimizer"
# A LossScaleOptimizer's own variables share the names `iteration` and
# `learning_rate` with those of the optimizer it wraps: they take this prefix.
LOSS_SCALE_PREFIX = "loss_scale."
# Set by the caller of each train() call; never taken from a checkpoint.
_NOT_RESTORED = ("learning_rate", LOSS_SCALE_PREFIX + "learning_rate")


@dataclasses.dataclass
class OptimizerState:
    """A snapshot of a Keras optimizer.

    config: keras.optimizers.serialize(optimizer) (JSON-able dict).
    variables: {variable name: np.ndarray} in optimizer.variables order.
    source: where it comes from, for messages (a file, or a train() call).
    layers: the `layers=` regex it was trained with, when known.
    """
    config: dict
    variables: dict
    source: str
    layers: str = None

    @property
    def class_name(self):
        """The optimizer that updates the weights ("SGD", "Adam"), also when
        a LossScaleOptimizer wrapped it."""
        return self._inner_config.get("class_name")

    @property
    def loss_scaled(self):
        """Whether the state is a LossScaleOptimizer's (mixed_float16)."""
        return self.config.get("class_name") == "LossScaleOptimizer"

    @property
    def _inner_config(self):
        if self.loss_scaled:
            return self.config.get("config", {}).get("inner_optimizer", {})
        return self.config

    @property
    def accumulation_steps(self):
        """The batches accumulated per update (1: none)."""
        return int(self._inner_config.get("config", {}).get("gradient_accumulation_steps") or 1)

    @property
    def iterations(self):
        """Batches trained (not updates, under gradient accumulation)."""
        return int(self.variables.get("iteration", 0))

    @property
    def loss_scale(self):
        """The dynamic loss scale (float), None without loss scaling."""
        value = self.variables.get(LOSS_SCALE_PREFIX + "dynamic_scale")
        return None if value is None else float(value)

    def learning_rate(self):
        """The float learning rate, or the LearningRateSchedule, trained with."""
        import keras

        value = self._inner_config.get("config", {}).get("learning_rate")
        if isinstance(value, dict):
            return keras.optimizers.schedules.deserialize(value)
        # Stored from a float32 variable: 0.0010000000474974513 -> 0.001
        return float(f"{float(value):.7g}")


def capture_optimizer_state(optimizer, source, layers=None):
    """OptimizerState of a built optimizer, None for None or an unbuilt one."""
    import keras

    if optimizer is None or not optimizer.built:
        return None
    variables = {name: np.array(v.numpy()) for name, v in _named_variables(optimizer).items()}
    return OptimizerState(config=keras.optimizers.serialize(optimizer), variables=variables,
                          source=source, layers=layers)


def write_optimizer_state(h5file, optimizer, layers=None):
    """Add the `optimizer` group to an open h5py.File (nothing when the
    optimizer has not been built yet)."""
    state = capture_optimizer_state(optimizer, source=h5file.filename, layers=layers)
    if state is None:
        return
    group = h5file.create_group(OPTIMIZER_GROUP)
    group.attrs["config"] = json.dumps(state.config, default=_plain)
    group.attrs["variable_names"] = np.array([n.encode() for n in state.variables], dtype="S")
    if layers is not None:
        group.attrs["layers"] = layers
    for name, value in state.variables.items():
        group.create_dataset(name, data=value)


def remove_optimizer_state(path):
    """Rewrite checkpoint `path` without its optimizer state, atomically:
    the weights, their layout and the root attributes (epoch, config, data
    seed) stay as they were. HDF5 does not give back the space of a deleted
    group, hence the copy. Returns True when there was a state to remove."""
    from mrcnn.weights import atomic_h5_file

    with h5py.File(path, "r") as source:
        if OPTIMIZER_GROUP not in source:
            return False
        with atomic_h5_file(path) as copy:
            for key, value in source.attrs.items():
                copy.attrs[key] = value
            for name in source:
                if name != OPTIMIZER_GROUP:
                    source.copy(source[name], copy, name=name)
    return True


def read_optimizer_state(path):
    """OptimizerState stored in checkpoint `path`, or None when it has none
    (matterport files, files saved without training)."""
    with h5py.File(path, "r") as f:
        if OPTIMIZER_GROUP not in f:
            return None
        group = f[OPTIMIZER_GROUP]
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in np.asarray(group.attrs["variable_names"]).reshape(-1)]
        variables = {name: np.asarray(group[name]) for name in names}
        layers = group.attrs.get("layers")
        return OptimizerState(config=json.loads(group.attrs["config"]), variables=variables,
                              source=path, layers=None if layers is None else str(layers))


def restore_optimizer_state(optimizer, trainable_variables, state):
    """Build `optimizer` for `trainable_variables` and load `state` into it.

    The learning rate stays the one the optimizer was created with (the
    caller's choice); the iteration count, and with it any learning-rate
    schedule, and the momentum slots continue. Returns (restored: bool,
    reason: str saying why not, or what was restored).
    """
    if not optimizer.built:
        optimizer.build(trainable_variables)
    if state is None:
        return False, "no optimizer state to continue"
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    name = type(inner).__name__
    if state.class_name != name:
        return False, f"{state.source} holds a {state.class_name} state, this run uses {name}"
    steps = int(inner.gradient_accumulation_steps or 1)
    if state.accumulation_steps != steps:
        return False, (f"{state.source} accumulated the gradients of {state.accumulation_steps} "
                       f"batch(es) per update (GRADIENT_ACCUMULATION_STEPS), this run {steps}")
    current = {k: v for k, v in _named_variables(optimizer).items() if k not in _NOT_RESTORED}
    saved = {k: v for k, v in state.variables.items() if k not in _NOT_RESTORED}
    # The loss scale continues between mixed_float16 runs; a float32 or
    # bfloat16 run has none, and one resumed in float16 starts a new scale.
    current_scale, current = _split_loss_scale(current)
    saved_scale, saved = _split_loss_scale(saved)
    if list(current) != list(saved):
        return False, (f"{state.source} was trained with another set of layers "
                       f"({_layers_text(state.layers)}, {_slot_count(saved)} optimizer slots); "
                       f"this call trains {_slot_count(current)} tensors")
    for key, variable in current.items():
        if tuple(variable.shape) != saved[key].shape:
            return False, (f"{state.source}: optimizer variable {key} has shape "
                           f"{saved[key].shape}, the model now {tuple(variable.shape)}")
    for key, variable in current.items():
        variable.assign(saved[key])
    detail = f"iteration {state.iterations} and {_slot_count(saved)} optimizer slots"
    if current_scale and list(current_scale) == list(saved_scale):
        for key, variable in current_scale.items():
            variable.assign(saved_scale[key])
        detail += f", loss scale {state.loss_scale:g}"
    return True, detail


def _named_variables(optimizer):
    """{name in a checkpoint: variable} in `optimizer.variables` order: the
    variable's name, with LOSS_SCALE_PREFIX for a LossScaleOptimizer's own."""
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is None:
        return {v.name: v for v in optimizer.variables}
    wrapped = {id(v) for v in inner.variables}
    return {(v.name if id(v) in wrapped else LOSS_SCALE_PREFIX + v.name): v
            for v in optimizer.variables}


def _split_loss_scale(variables):
    """({loss-scale entries}, {the others}) of a {name: value} dict."""
    scale = {k: v for k, v in variables.items() if k.startswith(LOSS_SCALE_PREFIX)}
    return scale, {k: v for k, v in variables.items() if k not in scale}


def _plain(value):
    # numpy scalars in an optimizer config
    return value.item() if hasattr(value, "item") else str(value)


def _slot_count(variables):
    return sum(1 for name in variables if name != "iteration")


def _layers_text(layers):
    from mrcnn.training.layers import LAYER_REGEX

    # Say "heads" rather than its regex.
    names = [name for name, regex in LAYER_REGEX.items() if regex == layers]
    if names:
        return f"layers={names[0]!r}"
    return f"layers={layers!r}" if layers else "another layers= selection"


# Settings that define the network's weights or what its classes mean: a run
# continues only under the same values (mrcnn.model.MaskRCNN.load_weights).
ARCHITECTURE_SETTINGS = (
    "NUM_CLASSES", "CLASS_NAMES", "BACKBONE", "BACKBONE_STRIDES", "TOP_DOWN_PYRAMID_SIZE",
    "RPN_CONV_CHANNELS", "RPN_ANCHOR_RATIOS", "RPN_ANCHOR_STRIDE", "FPN_CLASSIF_FC_LAYERS_SIZE",
    "MASK_HEAD_CONV_CHANNELS", "POOL_SIZE", "MASK_POOL_SIZE", "MASK_SHAPE",
    "IMAGE_CHANNEL_COUNT",
)


def architecture_differences(saved_yaml, config):
    """['NAME: saved -> current', ...] for ARCHITECTURE_SETTINGS that differ
    between a checkpoint's config YAML and `config`. Settings the checkpoint
    does not record (written before they existed, or CLASS_NAMES left unset)
    are not compared; None (a file without a saved config) differs in none."""
    import yaml

    saved = yaml.safe_load(saved_yaml or "") or {}
    current = yaml.safe_load(config.to_yaml()) or {}
    return [f"{key}: {saved[key]!r} -> {current.get(key)!r}"
            for key in ARCHITECTURE_SETTINGS
            if saved.get(key) is not None and _normalised(saved[key]) != _normalised(current.get(key))]


def _normalised(value):
    """Lists and tuples compare equal (YAML keeps no tuples)."""
    if isinstance(value, (list, tuple)):
        return [_normalised(v) for v in value]
    return value


def config_differences(saved_yaml, config):
    """['NAME: saved -> current', ...] for settings that differ between a
    checkpoint's config YAML and `config`."""
    import yaml

    saved = yaml.safe_load(saved_yaml) or {}
    current = yaml.safe_load(config.to_yaml()) or {}
    return [f"{key}: {saved.get(key)!r} -> {current.get(key)!r}"
            for key in sorted(set(saved) | set(current)) if saved.get(key) != current.get(key)]
