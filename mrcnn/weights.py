"""Reading and writing weights by layer name in matterport's HDF5 layout.

The layout (Keras 2's `save_weights` HDF5): the root attribute `layer_names`
lists layer groups; each group has an attribute `weight_names` and a dataset
per weight at `<group>/<weight name>`, e.g. `conv1/conv1/kernel:0`. Names may
be stored as fixed-length byte strings (old h5py) or variable-length strings
(h5py 3). matterport's shared RPN is the group `rpn_model`, whose weight names
carry the inner layers' names (`rpn_conv_shared/kernel:0`, ...).
"""
import logging
import os

import h5py
import numpy as np

logger = logging.getLogger(__name__)


def _as_str(value):
    return value.decode("utf8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def _str_list(attr):
    return [_as_str(v) for v in np.asarray(attr).reshape(-1)]


def read_layer_weights(h5):
    """Weights of a matterport-layout file, grouped by the layer they belong to.

    h5: an open h5py.File (or group) with the `layer_names` attribute.

    Returns: dict {layer name: list of (weight name, np.ndarray)} in stored
    order. Groups holding several layers (a nested model such as matterport's
    `rpn_model`) are split by the first part of each weight name.
    """
    if "layer_names" not in h5.attrs:
        raise ValueError(f"{getattr(h5, 'filename', h5)}: not a Keras-2 HDF5 weights file "
                         "(no 'layer_names' attribute)")
    layers = {}
    for group_name in _str_list(h5.attrs["layer_names"]):
        group = h5[group_name]
        weight_names = _str_list(group.attrs.get("weight_names", []))
        for weight_name in weight_names:
            owner = weight_name.split("/")[0] if "/" in weight_name else group_name
            # TimeDistributed wrappers and plain layers store their own name
            # first; only a nested model stores other layers' names.
            if owner != group_name and not _is_nested_model_group(weight_names, group_name):
                owner = group_name
            layers.setdefault(owner, []).append((weight_name, np.asarray(group[weight_name])))
    return layers


def _is_nested_model_group(weight_names, group_name):
    owners = {name.split("/")[0] for name in weight_names if "/" in name}
    return len(owners) > 1 or (owners and group_name not in owners and group_name.endswith("model"))


def save_weights_h5(model, path, attrs=None):
    """Write `model`'s weights in matterport's layout, atomically.

    model: a keras.Model. attrs: extra root attributes (e.g. epoch).
    The file is written next to `path` under a temporary name and renamed,
    so a killed process never leaves a half-written file at `path`.
    """
    tmp = f"{path}.tmp-{os.getpid()}"
    layer_names = [layer.name for layer in model.layers if layer.weights]
    with h5py.File(tmp, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode("utf8") for n in layer_names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"3"
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        for layer in model.layers:
            if not layer.weights:
                continue
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0" for w in layer.weights]
            group.attrs["weight_names"] = np.array([n.encode("utf8") for n in names])
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(weight.numpy()))
    os.replace(tmp, path)
    return path


def load_weights_h5(model, path, by_name=True, exclude=None):
    """Load a matterport-layout HDF5 file into `model`.

    by_name: match layers by name (required when the model differs from the
        one that saved the file, e.g. training vs inference graphs).
    exclude: layer names to skip.

    Layers whose weight shapes differ from the file's are skipped with a
    warning, never loaded wrongly. Returns a dict with counts: loaded,
    skipped (names and reasons) and missing (model layers not in the file).
    """
    exclude = set(exclude or [])
    with h5py.File(path, "r") as f:
        stored = read_layer_weights(f)
    report = {"loaded": [], "skipped": {}, "missing": []}
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name in exclude:
            report["skipped"][layer.name] = "excluded"
            continue
        if layer.name not in stored:
            report["missing"].append(layer.name)
            continue
        arrays = [a for _, a in stored[layer.name]]
        if len(arrays) != len(layer.weights):
            report["skipped"][layer.name] = (
                f"{len(arrays)} tensors in the file, {len(layer.weights)} in the model")
            continue
        mismatch = [(w.name, tuple(w.shape), a.shape) for w, a in zip(layer.weights, arrays)
                    if tuple(w.shape) != a.shape]
        if mismatch:
            name, want, got = mismatch[0]
            report["skipped"][layer.name] = f"{name}: model {want}, file {got}"
            continue
        for weight, array in zip(layer.weights, arrays):
            weight.assign(array)
        report["loaded"].append(layer.name)
    if report["skipped"]:
        for name, reason in report["skipped"].items():
            if reason != "excluded":
                logger.warning("Not loaded: %s (%s)", name, reason)
    logger.info("%s: loaded %d layers, skipped %d, left at initial values %d",
                os.path.basename(path), len(report["loaded"]), len(report["skipped"]),
                len(report["missing"]))
    return report
