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
