"""Weight files: matterport's HDF5 layout, keras.applications ResNets, and
where `--weights=coco|imagenet|last|none|PATH` comes from.

The layout (Keras 2's `save_weights` HDF5): the root attribute `layer_names`
lists layer groups; each group has an attribute `weight_names` and a dataset
per weight at `<group>/<weight name>`, e.g. `conv1/conv1/kernel:0`. Names may
be stored as fixed-length byte strings (old h5py) or variable-length strings
(h5py 3). matterport's shared RPN is the group `rpn_model`, whose weight names
carry the inner layers' names (`rpn_conv_shared/kernel:0`, ...); its
TimeDistributed heads store their weights under the wrapper's name.

Three kinds of file share that layout and are told apart by their content:
matterport's (`mask_rcnn_coco.h5` and old checkpoints), keras.applications'
ResNet50/101 notop files (`conv1_conv`, `conv2_block1_1_conv`, ... renamed
here to matterport's backbone names) and this project's checkpoints (root
attribute `mrcnn_config`).
"""
import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import urllib.error
import urllib.request

import h5py
import numpy as np

from mrcnn.backbones import get_backbone, registered_backbones
from mrcnn.console import inform
from mrcnn.errors import WeightsFileError
from mrcnn.normalizations import registered_normalizations

logger = logging.getLogger(__name__)

LAYOUT_MATTERPORT = "matterport"
LAYOUT_KERAS_APPLICATIONS = "keras.applications"
LAYOUT_MRCNN = "mrcnn checkpoint"

# Layers whose shapes follow NUM_CLASSES; skipped when the file has another count.
CLASS_HEADS = ("mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_mask")
# matterport's shared RPN sub-model and the layers it holds.
RPN_GROUP = "rpn_model"
RPN_LAYERS = ("rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred")
# The first layer of each part whose width a Config field sets: the last axis
# of its kernel in a file says what the field was when the file was written.
WIDTH_SETTINGS = {
    "fpn_c5p5": "TOP_DOWN_PYRAMID_SIZE",
    "rpn_conv_shared": "RPN_CONV_CHANNELS",
    "mrcnn_class_conv1": "FPN_CLASSIF_FC_LAYERS_SIZE",
    "mrcnn_mask_conv1": "MASK_HEAD_CONV_CHANNELS",
}

COCO_FILE = "mask_rcnn_coco.h5"
COCO_URL = "https://github.com/matterport/Mask_RCNN/releases/download/v2.0/mask_rcnn_coco.h5"
KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
WEIGHTS_DIR_ENV = "MRCNN_WEIGHTS_DIR"


class WeightsUnavailableError(FileNotFoundError):
    """A named weight file is neither cached nor downloadable; the message
    gives the URL and the path to put the file at."""


# ---- reading the HDF5 layout ------------------------------------------------
def _as_str(value):
    return value.decode("utf8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def _str_list(attr):
    return [_as_str(v) for v in np.asarray(attr).reshape(-1)]


def _weights_root(h5, path):
    """The group holding `layer_names`: the root of a save_weights file, or
    `model_weights` of a Keras 2 full-model file."""
    if "layer_names" in h5.attrs:
        return h5
    if "model_weights" in h5 and "layer_names" in h5["model_weights"].attrs:
        return h5["model_weights"]
    if "layers" in h5 or "vars" in h5:
        raise WeightsFileError(f"{path} is a Keras 3 `.weights.h5` file, which holds no layer names; "
                         "load it into the identical model with model.keras_model.load_weights()")
    raise WeightsFileError(f"{path}: not a Keras-2 HDF5 weights file (no 'layer_names' attribute); "
                     "expected mask_rcnn_coco.h5, a keras.applications ResNet file or a "
                     "checkpoint of this project")


def read_layer_weights(h5):
    """Weights of a matterport-layout file, grouped by the layer they belong to.

    h5: an open h5py.File (or group) with the `layer_names` attribute, or a
        Keras 2 full-model file (weights under `model_weights`).

    Returns: dict {layer name: list of (weight name, np.ndarray)} in stored
    order. Groups holding several layers (a nested model such as matterport's
    `rpn_model`) are split by the first part of each weight name.
    """
    root = _weights_root(h5, getattr(h5, "filename", h5))
    layers = {}
    for group_name in _str_list(root.attrs["layer_names"]):
        group = root[group_name]
        weight_names = _str_list(group.attrs.get("weight_names", []))
        nested = _is_nested_model_group(weight_names, group_name)
        for weight_name in weight_names:
            # TimeDistributed wrappers and plain layers store their own name
            # first; only a nested model stores other layers' names.
            owner = weight_name.split("/")[0] if nested else group_name
            layers.setdefault(owner, []).append((weight_name, np.asarray(group[weight_name])))
    return layers


def _is_nested_model_group(weight_names, group_name):
    owners = {name.split("/")[0] for name in weight_names if "/" in name}
    return len(owners) > 1 or bool(owners and group_name not in owners
                                   and group_name.endswith("model"))


# ---- keras.applications ResNet names -> matterport names --------------------
_KERAS_APP_BLOCK = re.compile(r"^conv(\d)_block(\d+)_(\d)_(conv|bn)$")
_BRANCH = {"0": "1", "1": "2a", "2": "2b", "3": "2c"}


def keras_applications_to_matterport(name):
    """`conv4_block23_3_bn` -> `bn4w_branch2c`, `conv1_conv` -> `conv1`;
    None for names outside the ResNet backbone."""
    if name == "conv1_conv":
        return "conv1"
    if name == "conv1_bn":
        return "bn_conv1"
    m = _KERAS_APP_BLOCK.match(name)
    if not m:
        return None
    stage, block, branch, kind = m.groups()
    # Block 1 is matterport's conv block 'a', the identity blocks follow: b, c, ...
    letter = chr(ord("a") + int(block) - 1)
    prefix = "res" if kind == "conv" else "bn"
    return f"{prefix}{stage}{letter}_branch{_BRANCH[branch]}"


def detect_layout(h5, stored):
    """LAYOUT_MRCNN, LAYOUT_KERAS_APPLICATIONS or LAYOUT_MATTERPORT."""
    if "mrcnn_config" in h5.attrs:
        return LAYOUT_MRCNN
    if "conv1_conv" in stored or any(_KERAS_APP_BLOCK.match(n) for n in stored):
        return LAYOUT_KERAS_APPLICATIONS
    return LAYOUT_MATTERPORT


def _rename_keras_applications(stored):
    renamed = {}
    for name, weights in stored.items():
        renamed[keras_applications_to_matterport(name) or name] = weights
    return renamed


# ---- loading ------------------------------------------------------------------
@dataclasses.dataclass
class LoadReport:
    """What `load_weights_h5` did, tensor by tensor.

    loaded: paths of the model's tensors that now hold the file's values
        (e.g. "conv1/kernel").
    skipped: {file layer name: reason} for the file's layers not loaded.
    skipped_tensors: how many of the file's tensors those layers hold.
    initial: paths of the model's tensors left at their initial values.
    file_num_classes: the class count of the file's heads (None without heads).
    attrs: the file's root attributes as str/int/float (epoch, mrcnn_config, ...).
    """
    path: str
    layout: str
    loaded: list = dataclasses.field(default_factory=list)
    skipped: dict = dataclasses.field(default_factory=dict)
    skipped_tensors: int = 0
    initial: list = dataclasses.field(default_factory=list)
    file_num_classes: int = None
    has_bn_conv1: bool = False
    width_hints: list = dataclasses.field(default_factory=list)
    attrs: dict = dataclasses.field(default_factory=dict)

    @property
    def pretrained_batchnorm(self):
        """True when the file carries pretrained BatchNorm statistics (COCO,
        ImageNet, or a checkpoint of a run that kept them frozen)."""
        return bool(self.has_bn_conv1 and not self.attrs.get("mrcnn_trained_batchnorm_statistics"))

    @property
    def normalization(self):
        """What the file's BatchNorm layers computed: a checkpoint's record,
        "batch" for other files with BatchNorm weights (COCO, ImageNet,
        matterport's), None for files without them."""
        recorded = self.attrs.get("mrcnn_normalization")
        if isinstance(recorded, bytes):
            recorded = recorded.decode()
        if recorded in registered_normalizations():
            return recorded
        return "batch" if self.has_bn_conv1 else None

    def summary(self):
        return (f"{os.path.basename(self.path)} ({self.layout} layout): loaded "
                f"{len(self.loaded)} tensors, skipped {self.skipped_tensors}, left at initial "
                f"values {len(self.initial)}")


def file_num_classes(stored):
    """NUM_CLASSES of the heads in `stored` (read_layer_weights' dict), or None."""
    shapes = {name: [a.shape for _, a in weights] for name, weights in stored.items()}
    if shapes.get("mrcnn_class_logits"):
        return int(shapes["mrcnn_class_logits"][0][-1])
    if shapes.get("mrcnn_mask"):
        return int(shapes["mrcnn_mask"][0][-1])
    if shapes.get("mrcnn_bbox_fc"):
        return int(shapes["mrcnn_bbox_fc"][0][-1]) // 4
    return None


def _model_num_classes(model):
    for layer in model.layers:
        if layer.name == "mrcnn_class_logits" and layer.weights:
            return int(layer.weights[0].shape[-1])
    return None


def _match_weights(layer, arrays):
    """Pair the layer's variables with the file's (name, array) list.

    Returns (pairs, reason): pairs [(variable, array)] or None with a reason.
    Weights pair by their short names (kernel, gamma, ...) when all match,
    otherwise in stored order, as Keras 2 did.
    """
    if len(arrays) != len(layer.weights):
        return None, f"{len(arrays)} tensors in the file, {len(layer.weights)} in the model"
    by_name = {name.split("/")[-1].split(":")[0]: array for name, array in arrays}
    if all(w.name in by_name for w in layer.weights):
        pairs = [(w, by_name[w.name]) for w in layer.weights]
    else:
        pairs = list(zip(layer.weights, (a for _, a in arrays)))
    for weight, array in pairs:
        if tuple(weight.shape) != array.shape:
            return None, f"{weight.name}: file {array.shape}, model {tuple(weight.shape)}"
    return pairs, None


def _root_attrs(h5):
    out = {}
    for key, value in h5.attrs.items():
        if key in ("layer_names",):
            continue
        value = np.asarray(value)
        if value.dtype.kind in "SOU":
            values = [_as_str(v) for v in value.reshape(-1)]
        else:
            values = value.reshape(-1).tolist()
        out[key] = values[0] if len(values) == 1 else values
    return out


def read_weights_file(path):
    """Read a weight file (any of the layouts above) without a model.

    Returns (stored, report): stored is {layer name: [(weight name,
    np.ndarray)]} under matterport's layer names; report a LoadReport with
    what the file says of itself (layout, attrs, class count, BatchNorm),
    nothing loaded yet. Raises WeightsFileError for a damaged file.
    """
    path = os.fspath(path)
    with open_weights_file(path) as h5:
        try:
            stored = read_layer_weights(h5)
        except (OSError, KeyError, RuntimeError) as e:
            # h5py opens a truncated file and fails on its first missing block.
            raise WeightsFileError(f"{path}: damaged HDF5 weight file, a weight cannot be read "
                                   f"({e}); copy or download it again") from e
        report = LoadReport(path=path, layout=detect_layout(h5, stored), attrs=_root_attrs(h5))
    if report.layout == LAYOUT_KERAS_APPLICATIONS:
        stored = _rename_keras_applications(stored)
    report.has_bn_conv1 = "bn_conv1" in stored
    report.file_num_classes = file_num_classes(stored)
    return stored, report


def load_weights_h5(model, path, by_name=True, exclude=None, inference=False, read=None):
    """Load an HDF5 weight file (any of the layouts above) into `model`.

    model: a keras.Model with matterport layer names.
    by_name: take the layers that fit and leave the others at their initial
        values. Without it the file must fit the whole model (every layer with
        weights present, same shapes) or a ValueError says what does not; then
        nothing is loaded.
    exclude: layer names to skip (matterport's fine-tuning idiom).
    inference: the model predicts (not trains): class heads skipped for
        another class count are then a warning, not information.
    read: read_weights_file(path)'s result, when already read.

    Layers whose shapes differ are never loaded: when the file's class count
    differs from the model's, the class-specific heads (CLASS_HEADS) are
    skipped with the reason logged; other mismatches are skipped with one
    warning. Returns a LoadReport; its summary is logged.
    """
    path = os.fspath(path)
    exclude = set(exclude or [])
    stored, report = read if read is not None else read_weights_file(path)
    model_classes = _model_num_classes(model)
    class_mismatch = (report.file_num_classes is not None and model_classes is not None
                      and report.file_num_classes != model_classes)

    assignments, problems, loaded_layers = [], [], []
    model_layers = {layer.name: layer for layer in model.layers if layer.weights}
    for name, layer in model_layers.items():
        if name not in stored:
            report.initial += [w.path for w in layer.weights]
            problems.append(f"{name}: not in the file")
            continue
        if name in exclude:
            reason = "excluded"
        elif class_mismatch and name in CLASS_HEADS:
            reason = (f"class-specific head: the file has {report.file_num_classes} classes, "
                      f"the model NUM_CLASSES={model_classes}")
        else:
            pairs, reason = _match_weights(layer, stored[name])
        if reason:
            report.skipped[name] = reason
            report.initial += [w.path for w in layer.weights]
            problems.append(f"{name}: {reason}")
            continue
        assignments += pairs
        loaded_layers.append(name)
    for name in stored:
        if name not in model_layers:
            report.skipped[name] = "no such layer in this model"
    report.skipped_tensors = sum(len(stored[name]) for name in report.skipped)
    report.width_hints = _width_hints(stored, model_layers, report.skipped)

    _refuse_unrelated_file(report, stored, model_layers, loaded_layers, exclude)
    if not by_name and problems:
        raise ValueError(
            f"{path} ({report.layout} layout) does not fit this model: "
            f"{_shorten(problems, 4)}. Load it with by_name=True to take the layers that fit "
            "(and exclude=[...] to leave some at their initial values)")
    bad = first_non_finite((v.path, a) for v, a in assignments)
    if bad:
        raise WeightsFileError(f"{path}: holds non-finite values (NaN or inf), first in {bad}; "
                               "it was written by a run that diverged: use an earlier checkpoint")
    for variable, array in assignments:
        variable.assign(array)
    report.loaded = [v.path for v, _ in assignments]
    _log_report(report, inference=inference)
    return report


def copy_weights_by_name(source, target):
    """Assign the weights of `source`'s layers to `target`'s layers of the
    same names (two builds of one network: training and inference, or
    before and after a change of normalization). Returns the number of
    layers copied."""
    layers = {layer.name: layer for layer in source.layers if layer.weights}
    copied = 0
    for layer in target.layers:
        if layer.weights and layer.name in layers:
            for variable, value in zip(layer.weights, layers[layer.name].weights):
                variable.assign(value)
            copied += 1
    return copied


@contextlib.contextmanager
def open_weights_file(path):
    """The h5py.File of a weight file open for reading; WeightsFileError
    naming the file when it is not HDF5 (empty, truncated, another format)."""
    try:
        h5 = h5py.File(path, "r")
    except OSError as e:
        size = os.path.getsize(path) if os.path.isfile(path) else None
        if size == 0:
            what = "an empty file"
        elif "truncated" in str(e):
            what = f"truncated: {size} bytes, the copy or download stopped early"
        else:
            what = f"{size} bytes that are not HDF5"
        raise WeightsFileError(f"{path}: cannot be read as an HDF5 weight file ({what}: {e}); "
                               "give mask_rcnn_coco.h5, a keras.applications ResNet file or a "
                               "checkpoint of this project") from e
    with h5:
        yield h5


def check_weights_file(path):
    """Open `path` and read its layer list without loading any array, so that
    a command refuses a bad --weights file before it builds the network.
    Raises WeightsFileError naming the file. Returns the number of layers
    with weights the file lists."""
    with open_weights_file(path) as h5:
        root = _weights_root(h5, path)
        try:
            names = _str_list(root.attrs["layer_names"])
            return sum(1 for name in names if len(root[name].attrs.get("weight_names", [])))
        except (OSError, KeyError, RuntimeError) as e:
            raise WeightsFileError(f"{path}: damaged HDF5 weight file, its layer list cannot be "
                                   f"read ({e}); copy or download it again") from e


def first_non_finite(named_arrays):
    """The name of the first array holding NaN or inf, or None.

    named_arrays: iterable of (name, array-like of floats). Integer arrays
    (counters) are always finite.
    """
    for name, array in named_arrays:
        array = np.asarray(array)
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            return name
    return None


# A file that looks like a backbone (ImageNet) or a whole network (COCO,
# matterport) must fill at least this share of the model's backbone layers
# that are not excluded; less means another architecture.
MIN_BACKBONE_SHARE = 0.5
_BACKBONE_LAYER = re.compile(r"^(conv1|bn_conv1|res\d.*|bn\d.*)$")


def _refuse_unrelated_file(report, stored, model_layers, loaded_layers, exclude):
    """WeightsFileError when the file has nothing for this model: no layer
    loads although none was excluded or skipped for its class count, or a
    file with backbone layers fills less than MIN_BACKBONE_SHARE of it."""
    expected_skips = [name for name, reason in report.skipped.items()
                      if reason == "excluded" or reason.startswith("class-specific")]
    backbone = [name for name in model_layers
                if _BACKBONE_LAYER.match(name) and name not in exclude]
    file_backbone = [name for name in stored if _BACKBONE_LAYER.match(name)]
    share = (len([n for n in backbone if n in loaded_layers]) / len(backbone)
             if backbone else 1.0)
    if loaded_layers and not (file_backbone and share < MIN_BACKBONE_SHARE):
        return
    if not loaded_layers and expected_skips:
        return
    with_weights = [name for name, weights in stored.items() if weights]
    contains = (f"the file holds {len(with_weights)} layers with weights "
                f"({_shorten(with_weights, 4) or 'none'})")
    wanted = [name for name in model_layers if name not in exclude]
    expects = f"this model expects {len(wanted)} ({_shorten(wanted, 4)})"
    if loaded_layers:
        fault = (f"fills only {share:.0%} of this model's backbone (at least "
                 f"{MIN_BACKBONE_SHARE:.0%} expected): another BACKBONE or architecture?")
    else:
        fault = "fits no layer of this model"
    raise WeightsFileError(f"{report.path} ({report.layout} layout) {fault}; {contains}, "
                           f"{expects}. Give a weight file of this network, or --weights=none")


def _width_hints(stored, model_layers, skipped):
    """["RPN_CONV_CHANNELS=512 (the file's rpn_conv_shared; the model's: 256)", ...]
    for the width settings whose first layer was skipped for its shape."""
    hints = []
    for name, setting in WIDTH_SETTINGS.items():
        if skipped.get(name, "excluded") == "excluded" or name not in model_layers:
            continue
        file_width = stored[name][0][1].shape[-1]
        model_width = model_layers[name].weights[0].shape[-1]
        if file_width != model_width:
            hints.append(f"{setting}={file_width} (the file's {name}; the model's: {model_width})")
    return hints


def _shorten(items, limit=6):
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _log_report(report, inference=False):
    # Excluded layers and heads skipped for another class count are what the
    # user asked for (info, one line per reason); anything else may be a
    # wrong file (one warning for all shape problems, one for unknown layers).
    expected, mismatched, unknown = {}, [], []
    for name, reason in report.skipped.items():
        if reason == "excluded" or reason.startswith("class-specific"):
            expected.setdefault(reason, []).append(name)
        elif reason == "no such layer in this model":
            unknown.append(name)
        else:
            mismatched.append(f"{name} ({reason})")
    file_name = os.path.basename(report.path)
    for reason, names in expected.items():
        # Untrained class heads make an inference model's predictions
        # meaningless; when training they are the fine-tuning recipe.
        if inference and reason.startswith("class-specific"):
            logger.warning("Not loaded from %s: %s (%s): the model's class predictions are "
                           "untrained", file_name, _shorten(names), reason)
        else:
            inform(logger, "Not loaded from %s: %s (%s)", file_name, _shorten(names), reason)
    if mismatched:
        hint = (f". The file was written with {', '.join(report.width_hints)}: set that in the "
                "config to load these layers" if report.width_hints else "")
        logger.warning("Not loaded from %s, shapes differ from the model's: %s%s", file_name,
                       "; ".join(mismatched), hint)
    if unknown:
        logger.warning("%s has %d layers this model does not have (another BACKBONE or "
                       "architecture?): %s", file_name, len(unknown), _shorten(unknown))
    logger.info(report.summary())


# ---- writing ------------------------------------------------------------------
def _matterport_groups(model):
    """[(group name, [(weight name, variable)])] in model order, the RPN's
    layers in one `rpn_model` group as matterport's code expects them."""
    groups, rpn = [], None
    for layer in model.layers:
        if not layer.weights:
            continue
        entries = [(f"{layer.name}/{w.name}:0", w) for w in layer.weights]
        if layer.name in RPN_LAYERS:
            if rpn is None:
                rpn = (RPN_GROUP, [])
                groups.append(rpn)
            rpn[1].extend(entries)
        else:
            groups.append((layer.name, entries))
    return groups


def _byte_strings(names):
    # Fixed-length byte strings: what Keras 2 wrote and what its loaders
    # `.decode()` (variable-length strings break them under h5py 3).
    return np.array([n.encode("utf8") for n in names], dtype="S")


def save_weights_h5(model, path, attrs=None, extra=None):
    """Write `model`'s weights in matterport's layout, atomically.

    model: a keras.Model. attrs: extra root attributes (e.g. epoch).
    extra: optional callable(h5py.File) writing more groups into the same
        file (e.g. the optimizer state); loaders of the layout ignore groups
        not listed in `layer_names`.
    The file is written atomically (see `atomic_h5_file`). Returns path.
    """
    import keras

    groups = _matterport_groups(model)
    with atomic_h5_file(path) as f:
        f.attrs["layer_names"] = _byte_strings([name for name, _ in groups])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = keras.__version__.encode()
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        for name, entries in groups:
            group = f.create_group(name)
            group.attrs["weight_names"] = _byte_strings([n for n, _ in entries])
            for weight_name, weight in entries:
                group.create_dataset(weight_name, data=np.asarray(weight.numpy()))
        if extra is not None:
            extra(f)
    return os.fspath(path)


class MatterportH5Weights:
    """Mixin for a keras.Model: `save_weights("name.h5")` writes matterport's
    layout (save_weights_h5), as Keras 2 did for matterport's
    `model.keras_model.save_weights(path)`; Keras 3 accepts only
    ".weights.h5" names, which keep Keras 3's own format here."""

    # A callable returning the file's root attributes (config, epoch,
    # normalisation), set by the owner (MaskRCNN): load_weights reads them.
    weight_file_attrs = None

    def save_weights(self, filepath, overwrite=True, **kwargs):
        path = os.fspath(filepath)
        if not path.endswith(".h5") or path.endswith(".weights.h5"):
            return super().save_weights(filepath, overwrite=overwrite, **kwargs)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        attrs = self.weight_file_attrs() if self.weight_file_attrs else None
        save_weights_h5(self, path, attrs=attrs)


@contextlib.contextmanager
def atomic_h5_file(path):
    """An h5py.File open for writing whose content appears at `path` only
    when the `with` block completes: it is written next to `path` as
    `<path>.tmp-<pid>`, flushed to disk and renamed, so a killed process
    never leaves a half-written file at `path` (and an error leaves `path`
    as it was)."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            yield f
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync(os.path.dirname(os.path.abspath(path)))


def _fsync(path):
    # The rename is only atomic on disk when the data reached it first.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- where weights come from --------------------------------------------------
def weights_dirs():
    """Folders searched for named weight files, in order: $MRCNN_WEIGHTS_DIR,
    then ~/.keras/models (where keras.applications caches them; under
    $KERAS_HOME instead of ~/.keras when that is set, as Keras does)."""
    dirs = []
    if os.environ.get(WEIGHTS_DIR_ENV):
        dirs.append(os.path.expanduser(os.environ[WEIGHTS_DIR_ENV]))
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    dirs.append(os.path.join(keras_home, "models"))
    return dirs


def named_weights(spec, config):
    """(file name, URL, md5 or None) of the `coco` or `imagenet` file for `config`."""
    if spec == "coco":
        return COCO_FILE, COCO_URL, None
    backbone = get_backbone(config.BACKBONE, config.COMPUTE_BACKBONE_SHAPE)
    if backbone.imagenet is None:
        with_files = [name for name in registered_backbones() if get_backbone(name).imagenet]
        raise ValueError(f"--weights=imagenet: there are no ImageNet weights for BACKBONE="
                         f"{backbone.name!r}; use one of {with_files}, or --weights=none|PATH")
    file_name, md5 = backbone.imagenet
    return file_name, KERAS_APPLICATIONS_URL + file_name, md5


def find_or_download(file_name, url, md5=None, progress=True):
    """Path of `file_name` in weights_dirs(), downloaded into the first of
    them when absent. Raises WeightsUnavailableError when offline."""
    dirs = weights_dirs()
    for folder in dirs:
        candidate = os.path.join(folder, file_name)
        if os.path.isfile(candidate):
            return candidate
    target = os.path.join(dirs[0], file_name)
    download(url, target, md5=md5, progress=progress)
    return target


def _urlopen(url):
    # A module-level seam so that tests replace the network.
    return urllib.request.urlopen(url, timeout=30)


def download(url, target, md5=None, progress=True):
    """Download `url` to `target` (temporary file, md5 check, rename), with a
    progress bar. Raises WeightsUnavailableError with the URL and the target
    path when the download fails."""
    folder = os.path.dirname(os.path.abspath(target))
    tmp = f"{target}.part-{os.getpid()}"
    logger.info("Downloading %s to %s", url, target)
    try:
        os.makedirs(folder, exist_ok=True)
        with _urlopen(url) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            digest = hashlib.md5()
            bar = _progress_bar(total, os.path.basename(target), progress)
            try:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
        if md5 and digest.hexdigest() != md5:
            raise OSError(f"md5 {digest.hexdigest()} differs from the published {md5}")
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError, ValueError) as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        reason = getattr(e, "reason", None) or e
        raise WeightsUnavailableError(
            f"Could not download {url} ({reason}). Download it on a machine with network "
            f"access and put it at {target} (or into the folder named by ${WEIGHTS_DIR_ENV})"
        ) from e
    return target


def _progress_bar(total, name, enabled):
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name,
                disable=not enabled)


def resolve_weights(spec, model):
    """The weight file for `--weights=<spec>`, or None for `none`.

    spec: "coco" (matterport's mask_rcnn_coco.h5), "imagenet" (the
        keras.applications notop file for the config's BACKBONE), "last"
        (model.find_last()), "none"/None/"" (start from scratch), or a path.
    model: the MaskRCNN (for its config and model_dir).
    Named files are looked up in weights_dirs() and downloaded when missing.
    """
    if spec is None or str(spec).lower() in ("", "none"):
        return None
    key = str(spec).lower()
    if key in ("coco", "imagenet"):
        return find_or_download(*named_weights(key, model.config))
    if key == "last":
        return model.find_last()
    path = os.path.expanduser(os.fspath(spec))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--weights={spec}: no such file; give a path to an .h5 "
                                "weight file, or coco, imagenet, last or none")
    return path


def load_initial_weights(model, spec, continue_run=None):
    """Start a MaskRCNN from `--weights=<spec>` as matterport's samples did.

    coco: by name; the class-specific heads are skipped when the file's class
        count differs from NUM_CLASSES (see load_weights_h5).
    imagenet: the backbone only, through the keras.applications name map.
    last: the newest checkpoint of this config's NAME, resumed exactly (same
        log directory, epoch count and optimizer state).
    none: nothing. Anything else: a path, loaded by name.
    continue_run: MaskRCNN.load_weights' (None: continue a checkpoint's run
        when it is one of this NAME and network; False: a new run; True:
        continue or raise ValueError).
    Returns the LoadReport, or None for `none`.
    """
    path = resolve_weights(spec, model)
    if path is None:
        logger.info("Starting from scratch (--weights=none)")
        return None
    return model.load_weights(path, by_name=True, continue_run=continue_run)
