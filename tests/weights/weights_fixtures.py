"""Writers of the published HDF5 weight layouts, straight with h5py.

They do not use mrcnn.weights, so the tests check the reader against the
layouts as Keras 2 wrote them: root attribute `layer_names`, a group per layer
with attribute `weight_names`, datasets at `<group>/<weight name>`; names as
fixed-length byte strings ("bytes", old h5py) or variable-length strings
("str", h5py 3).
"""
import h5py
import numpy as np

import tiny  # tests/core/tiny.py, put on sys.path by conftest.py

ENCODINGS = ("bytes", "str")
RPN_LAYERS = ("rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred")
# matterport's weightless layers appear in layer_names with no weight_names.
WEIGHTLESS = ("input_image", "zero_padding2d_1", "activation_1", "max_pooling2d_1",
              "fpn_p6", "ROI", "mrcnn_detection")


class TinyConfig(tiny.TinyConfig):
    """tests/core's tiny model (64x64 images, small FPN and heads) with the
    values these tests assert on pinned; the weight-file tests build it on
    ResNet-50 or -101 (conftest), whose published layouts they load."""
    NUM_CLASSES = 3
    TOP_DOWN_PYRAMID_SIZE = 32
    RPN_CONV_CHANNELS = 64
    FPN_CLASSIF_FC_LAYERS_SIZE = 64
    RPN_ANCHOR_RATIOS = [0.5, 1, 2]


def names_attr(names, encoding):
    """An attribute value holding `names` in the given string encoding."""
    if encoding == "bytes":
        return np.array([n.encode("utf8") for n in names], dtype="S")
    return np.array(list(names), dtype=h5py.string_dtype("utf-8"))


def write_keras2_file(path, groups, encoding, weightless=(), root_attrs=None,
                      full_model=False):
    """Write a Keras-2 `save_weights` HDF5 file.

    groups: [(group name, [(weight name, np.ndarray)])].
    weightless: more layer names listed with empty weight_names.
    full_model: put the layers under `model_weights`, as Keras 2's model.save().
    """
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if full_model else f
        names = list(weightless) + [name for name, _ in groups]
        root.attrs["layer_names"] = names_attr(names, encoding)
        root.attrs["backend"] = b"tensorflow" if encoding == "bytes" else "tensorflow"
        root.attrs["keras_version"] = b"2.1.6" if encoding == "bytes" else "2.1.6"
        for key, value in (root_attrs or {}).items():
            root.attrs[key] = value
        for name in weightless:
            root.create_group(name).attrs["weight_names"] = names_attr([], encoding)
        for name, weights in groups:
            group = root.create_group(name)
            group.attrs["weight_names"] = names_attr([n for n, _ in weights], encoding)
            for weight_name, array in weights:
                group.create_dataset(weight_name, data=array)


def class_shape(layer_name, weight, file_classes):
    """The shape `weight` of `layer_name` has in a file made for `file_classes`."""
    shape = list(weight.shape)
    if layer_name in ("mrcnn_class_logits", "mrcnn_mask"):
        shape[-1] = file_classes
    elif layer_name == "mrcnn_bbox_fc":
        shape[-1] = file_classes * 4
    return tuple(shape)


def matterport_groups(keras_model, file_classes, rng, shape_of=class_shape):
    """Groups of a matterport checkpoint for the architecture of
    `keras_model`, random-valued, heads made for `file_classes`: RPN layers in
    the group `rpn_model`, TimeDistributed heads under the wrapper's name.

    Returns (groups, values): values maps "<layer>/<weight>" to the array.
    """
    groups, rpn, values = [], [], {}
    for layer in keras_model.layers:
        if not layer.weights:
            continue
        weights = []
        for w in layer.weights:
            array = rng.standard_normal(shape_of(layer.name, w, file_classes), dtype=np.float32)
            weights.append((f"{layer.name}/{w.name}:0", array))
            values[f"{layer.name}/{w.name}"] = array
        if layer.name in RPN_LAYERS:
            rpn += weights
        else:
            groups.append((layer.name, weights))
    groups.insert(next(i for i, (n, _) in enumerate(groups) if n.startswith("mrcnn_")),
                  ("rpn_model", rpn))
    return groups, values


def keras_applications_groups(depth, rng):
    """Groups of keras.applications' ResNet50/101 notop file, random-valued,
    with the real layer names and shapes of keras.applications' model.

    Returns (groups, values): values maps "<keras layer>/<weight>" to the array.
    """
    import keras

    builder = {"resnet50": keras.applications.ResNet50,
               "resnet101": keras.applications.ResNet101}[depth]
    reference = builder(weights=None, include_top=False, input_shape=(64, 64, 3))
    groups, values = [], {}
    for layer in reference.layers:
        weights = []
        for w in layer.weights:
            array = rng.standard_normal(tuple(w.shape), dtype=np.float32)
            if w.name == "moving_variance":
                array = np.abs(array) + 0.5
            weights.append((f"{layer.name}/{w.name}:0", array))
            values[f"{layer.name}/{w.name}"] = array
        groups.append((layer.name, weights))
    return groups, values


def snapshot(keras_model):
    """{"<layer>/<weight>": np.ndarray} of every tensor of the model."""
    return {w.path: np.array(w.numpy()) for w in keras_model.weights}
