"""Looking inside the inference graph: matterport's `MaskRCNN.ancestor` and
`MaskRCNN.run_graph`, on Keras 3's functional graph.

matterport's inspect_model notebook asks the TensorFlow-1 graph for tensors
by name, some of them inside a layer (the proposal layer's anchors before
and after refinement, the indices NMS keeps). Keras 3 keeps no tensors
inside a layer's call, so a layer that wants to show its steps lists them
in `INTERMEDIATES` and computes them in `intermediates(inputs)`; `ancestor`
returns a `LayerIntermediate` for such a name, and `run_graph` runs the
graph up to that layer's inputs and then the layer's steps eagerly.
"""
import collections
import re

import keras

# matterport's layer names whose output had another layout there: the
# layer of that name here holds the weights (and keeps the name for
# checkpoints), and the named layer gives matterport's values.
MATTERPORT_OUTPUTS = {
    # [batch, detections, h, w, classes] sigmoid probabilities; the
    # convolution called mrcnn_mask here gives logits of the merged ROIs.
    "mrcnn_mask": "mrcnn_mask_probs",
}


class LayerIntermediate:
    """A value computed inside `layer` when it ran on the inputs of `node`,
    named as matterport's graph named it ("ROI/pre_nms_anchors:0")."""

    def __init__(self, layer, node, key):
        self.layer = layer
        self.node = node
        self.key = key
        self.name = f"{layer.name}/{key}:0"

    def __repr__(self):
        return f"<LayerIntermediate {self.name}>"


def _producer(tensor):
    """(layer or operation, node) that computed a KerasTensor, or (None, None)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None, None
    operation, node_index = history[0], history[1]
    return operation, operation._inbound_nodes[node_index]


def _name_pattern(name):
    # As matterport: Keras numbered repeated names ("ROI_1/..."), so a
    # number suffix is allowed before each "/".
    if isinstance(name, str):
        name = re.compile(name.replace("/", r"(\_\d+)*/"))
    return name


def ancestor(tensor, name, checked=None):
    """The value called `name` that `tensor` is computed from, or None.

    tensor: a KerasTensor of a functional model (e.g.
        `model.keras_model.get_layer("ROI").output`).
    name: matterport's tensor name, "<layer>/<step>:0" for a step a layer
        lists in INTERMEDIATES ("ROI/pre_nms_anchors:0") or "<layer>:<i>"
        for a layer's i-th output; a string or compiled regex, matched in
        full.
    checked: operations already searched (matterport's argument; leave it).
    Returns a LayerIntermediate or a KerasTensor, for `run_graph`.
    """
    pattern = _name_pattern(name)
    checked = set() if checked is None else checked
    pending = [tensor]
    while pending:
        operation, node = _producer(pending.pop())
        if operation is None or id(node) in checked:
            continue
        checked.add(id(node))
        for key in getattr(operation, "INTERMEDIATES", ()):
            candidate = LayerIntermediate(operation, node, key)
            if pattern.fullmatch(candidate.name):
                return candidate
        for index, output in enumerate(keras.tree.flatten(node.output_tensors)):
            if pattern.fullmatch(f"{operation.name}:{index}"):
                return output
        pending.extend(keras.tree.flatten(node.input_tensors))
    return None


def _resolve(model, key):
    """A KerasTensor or LayerIntermediate of `model` for run_graph's `key`."""
    if isinstance(key, LayerIntermediate):
        return key
    if isinstance(key, str):
        if key in model.output:
            return model.output[key]
        try:
            layer = model.get_layer(key)
        except ValueError as e:
            raise ValueError(f"run_graph: {key!r} is neither an output of the inference model "
                             f"({sorted(model.output)}) nor a layer: {e}") from e
        key = layer.output
    operation, _ = _producer(key)
    if operation is None:
        raise TypeError(f"run_graph takes KerasTensors of the inference model (e.g. "
                        f"model.keras_model.get_layer('ROI').output), what model.ancestor() "
                        f"returns, or an output or layer name; not {type(key).__name__}")
    if operation.name in MATTERPORT_OUTPUTS:
        return model.get_layer(MATTERPORT_OUTPUTS[operation.name]).output
    return key


def run_graph(model, inputs, outputs):
    """Values of the inference graph for one batch.

    model: the inference keras.Model (inputs input_image, input_image_meta).
    inputs: {"input_image": float32 [B, H, W, 3] molded,
        "input_image_meta": float32 [B, IMAGE_META_SIZE]}.
    outputs: list of (name, key) pairs; key is a KerasTensor of `model`
        (a layer's output, an output of the model), a LayerIntermediate from
        `ancestor`, or a string (an output name of the model, a layer name).
    Returns an OrderedDict name -> numpy array in the order asked.
    """
    resolved = [(name, _resolve(model, key)) for name, key in outputs]
    fetch = {}
    for index, (name, key) in enumerate(resolved):
        if isinstance(key, LayerIntermediate):
            for j, tensor in enumerate(keras.tree.flatten(key.node.input_tensors)):
                fetch[f"{index}:input{j}"] = tensor
        else:
            fetch[f"{index}"] = key
    probe = keras.Model(model.input, fetch)
    values = {k: keras.ops.convert_to_numpy(v)
              for k, v in probe(inputs, training=False).items()}
    result = collections.OrderedDict()
    for index, (name, key) in enumerate(resolved):
        if isinstance(key, LayerIntermediate):
            count = len(keras.tree.flatten(key.node.input_tensors))
            layer_inputs = [values[f"{index}:input{j}"] for j in range(count)]
            result[name] = key.layer.intermediates(layer_inputs)[key.key]
        else:
            result[name] = values[f"{index}"]
    return result
