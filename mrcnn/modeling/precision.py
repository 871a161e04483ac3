"""Mixed precision (Config.DTYPE_POLICY).

Under "mixed_bfloat16" the convolutions and dense layers of the backbone,
the FPN, the RPN's shared convolution and the heads compute in bfloat16 while
their variables stay float32 (checkpoints are the same files either way).
Everything geometric (anchors, box deltas, proposals and their NMS, ROIAlign,
detection targets, the detection layer) and every output that a loss or a
user reads (logits, probabilities, box deltas, mask logits) stays float32:
bfloat16 keeps 8 bits of mantissa, too few for box coordinates or a softmax.
"""
import contextlib

import keras

FLOAT32 = "float32"


class Float32Layer(keras.layers.Layer):
    """A layer that computes in float32 whatever the global dtype policy;
    floating inputs are cast to float32 when it is called."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", FLOAT32)
        super().__init__(**kwargs)


@contextlib.contextmanager
def dtype_policy(name):
    """Build layers under the Keras dtype policy `name` (e.g.
    "mixed_bfloat16"), then restore the previous global policy."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
