"""Choosing which layers train: matterport's `layers=` names and regexes."""
import logging
import re

logger = logging.getLogger(__name__)

# matterport's predefined layer regular expressions
LAYER_REGEX = {
    # all layers but the backbone
    "heads": r"(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    # From a specific Resnet stage and up
    "3+": r"(res3.*)|(bn3.*)|(res4.*)|(bn4.*)|(res5.*)|(bn5.*)|(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    "4+": r"(res4.*)|(bn4.*)|(res5.*)|(bn5.*)|(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    "5+": r"(res5.*)|(bn5.*)|(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    # All layers
    "all": ".*",
}


# ResNet blocks per stage (2..5) of the BACKBONE choices.
RESNET_BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}
HEAD_LAYER_NAMES = (
    "fpn_c5p5", "fpn_c4p4", "fpn_c3p3", "fpn_c2p2", "fpn_p2", "fpn_p3", "fpn_p4", "fpn_p5",
    "rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred",
    "mrcnn_class_conv1", "mrcnn_class_bn1", "mrcnn_class_conv2", "mrcnn_class_bn2",
    "mrcnn_class_logits", "mrcnn_bbox_fc",
    *(f"mrcnn_mask_{kind}{i}" for i in range(1, 5) for kind in ("conv", "bn")),
    "mrcnn_mask_deconv", "mrcnn_mask")


def weight_layer_names(backbone="resnet101"):
    """The names of the network's layers that hold weights, known without
    building it (tests check them against a built network): list of str.

    backbone: "resnet50" or "resnet101"; other values give the heads only.
    """
    names = []
    if backbone in RESNET_BLOCKS:
        names += ["conv1", "bn_conv1"]
        for stage, blocks in zip(range(2, 6), RESNET_BLOCKS[backbone]):
            for index in range(blocks):
                block = chr(ord("a") + index)
                branches = ["2a", "2b", "2c"] + (["1"] if index == 0 else [])
                names += [f"{prefix}{stage}{block}_branch{branch}"
                          for branch in branches for prefix in ("res", "bn")]
    return names + list(HEAD_LAYER_NAMES)


def check_layer_selection(layers, backbone="resnet101"):
    """Raise ValueError unless `layers` (a LAYER_REGEX name or a regex) fully
    matches at least one layer with weights of the network."""
    pattern = re.compile(LAYER_REGEX.get(layers, layers))
    if not any(pattern.fullmatch(name) for name in weight_layer_names(backbone)):
        raise ValueError(f"layers={layers!r} matches no layer with weights; use one of "
                         f"{sorted(LAYER_REGEX)} or a regex of layer names such as "
                         "'(res5.*)|(bn5.*)|(mrcnn\\_.*)'")


def set_trainable(keras_model, layer_regex, verbose=1):
    """Sets model layers as trainable if their names fully match the regular
    expression (or one of LAYER_REGEX's names); the others are frozen.

    Returns: list of the names of the trainable layers that hold weights.
    """
    pattern = re.compile(LAYER_REGEX.get(layer_regex, layer_regex))
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
                         f"one of {sorted(LAYER_REGEX)} or a regex of layer names")
    return trainable
