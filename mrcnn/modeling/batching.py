"""matterport's `utils.batch_slice`, for custom layers written for it."""
import tensorflow as tf


def batch_slice(inputs, graph_fn, batch_size, names=None):
    """Run `graph_fn` on each image of a batch and stack the results.

    inputs: a tensor or list of tensors, batch axis first, with at least
        `batch_size` rows (the layers here are batched; this serves code
        that computes one image at a time).
    graph_fn: callable(*slices) -> tensor or list/tuple of tensors of one
        image; every image's results must have the same shapes.
    batch_size: int, the number of images to run (static).
    names: optional names of the stacked outputs.
    Returns: the stacked tensor, or a list of them when graph_fn returns
    several.
    """
    if not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    outputs = []
    for i in range(batch_size):
        result = graph_fn(*[x[i] for x in inputs])
        outputs.append(list(result) if isinstance(result, (list, tuple)) else [result])
    names = names or [None] * len(outputs[0])
    stacked = [tf.stack(list(per_output), axis=0, name=name)
               for per_output, name in zip(zip(*outputs), names)]
    return stacked[0] if len(stacked) == 1 else stacked
