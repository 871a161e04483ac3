"""Mixed precision (Config.DTYPE_POLICY).

Under "mixed_bfloat16" or "mixed_float16" the convolutions and dense layers
of the backbone, the FPN, the RPN's shared convolution and the heads compute
in bfloat16 / float16 while their variables stay float32 (checkpoints are
the same files under every policy). Everything geometric (anchors, box
deltas, proposals and their NMS, ROIAlign and crop_and_resize, detection
targets, the detection layer), the normalisation statistics (BatchNorm and
GroupNorm compute in float32), every output that a loss or a user reads
(logits, probabilities, box deltas, mask logits), the losses and the L2
weight decay stay float32: bfloat16 keeps 8 bits of mantissa, too few for
box coordinates or a softmax, and float16 reaches only 65504, which
exp(), box sizes in pixels and sums of squares exceed.

The float16 ops are then Conv2D, BiasAdd, Relu, MaxPool, Pad (ResNet),
AddV2, the reshapes of UpSampling2D, the transposed convolution of the mask
head and their gradients; TensorFlow's CPU kernels cover all of them (listed
by benchmarks/float16_ops.py). float16 gradients that would underflow are
kept by loss scaling (mrcnn/training/optimizer.py).
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
