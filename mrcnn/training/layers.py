"""Choosing which layers train: matterport's `layers=` names and regexes."""
import logging
import re

from mrcnn.backbones import get_backbone, registered_backbones

logger = logging.getLogger(__name__)

# matterport's predefined layer regular expressions, those of the ResNets;
# another backbone names its own groups (mrcnn.backbones, layers_regex).
LAYER_REGEX = {name: get_backbone("resnet101").layers_regex(name)
               for name in ("heads", "3+", "4+", "5+", "all")}

HEAD_LAYER_NAMES = (
    "fpn_c5p5", "fpn_c4p4", "fpn_c3p3", "fpn_c2p2", "fpn_p2", "fpn_p3", "fpn_p4", "fpn_p5",
    "rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred",
    "mrcnn_class_conv1", "mrcnn_class_bn1", "mrcnn_class_conv2", "mrcnn_class_bn2",
    "mrcnn_class_logits", "mrcnn_bbox_fc",
    *(f"mrcnn_mask_{kind}{i}" for i in range(1, 5) for kind in ("conv", "bn")),
    "mrcnn_mask_deconv", "mrcnn_mask")


def layers_regex(layers, backbone="resnet101"):
    """The regex of layer names train(layers=...) trains: `layers` is
    "heads", "all", a group of the backbone ("3+", "4+", "5+" for the
    ResNets) or a regex itself. backbone: a Config.BACKBONE value."""
    return get_backbone(backbone).layers_regex(layers)


def layer_group_names(backbone="resnet101"):
    """The `layers=` names `backbone` knows: list of str."""
    return ["heads", *get_backbone(backbone).stage_layers, "all"]


def weight_layer_names(backbone="resnet101"):
    """The names of the network's layers that hold weights, known without
    building it (tests check them against a built network): list of str,
    or None when the backbone does not say which layers it has.

    backbone: a Config.BACKBONE value.
    """
    names = get_backbone(backbone).weight_layer_names
    if names is None:
        return None
    return list(names()) + list(HEAD_LAYER_NAMES)


def check_layer_selection(layers, backbone=None):
    """Raise ValueError unless `layers` (a group name or a regex) fully
    matches at least one layer with weights of the network of `backbone`
    (a Config.BACKBONE value; None: of any registered backbone). Not checked
    for a backbone that does not list its layers."""
    for name in [backbone] if backbone is not None else registered_backbones():
        names = weight_layer_names(name)
        if names is None:
            return
        try:
            pattern = re.compile(layers_regex(layers, name))
        except ValueError:
            if backbone is not None:
                raise
            continue  # a group name another backbone may have
        if any(pattern.fullmatch(layer) for layer in names):
            return
    raise ValueError(f"layers={layers!r} matches no layer with weights; use one of "
                     f"{layer_group_names(backbone or 'resnet101')} or a regex of layer names "
                     "such as '(res5.*)|(bn5.*)|(mrcnn\\_.*)'")


def set_trainable(keras_model, layer_regex, verbose=1, backbone="resnet101"):
    """Sets model layers as trainable if their names fully match the regular
    expression (or one of the `layers=` names of `backbone`, a Config.BACKBONE
    value); the others are frozen.

    Returns: list of the names of the trainable layers that hold weights.
    """
    pattern = re.compile(layers_regex(layer_regex, backbone))
    trainable = []
    for layer in keras_model.layers:
        if not layer.weights:
            continue
        layer.trainable = bool(pattern.fullmatch(layer.name))
        if layer.trainable:
            trainable.append(layer.name)
        if verbose > 0 and layer.trainable:
            logger.info("%-20s (%s)", layer.name, type(layer).__name__)
    if not trainable:
        raise ValueError(f"layers={layer_regex!r} matches no layer with weights; use "
                         f"one of {layer_group_names(backbone)} or a regex of layer names")
    return trainable
