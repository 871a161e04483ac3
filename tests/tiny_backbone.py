"""The tests' backbone: registered the way a user registers their own.

Five 3x3 convolutions of 8-32 channels with a BatchNorm each, strides
2, 4, 8, 16, 32, named like matterport's ResNet stages (`conv1`/`bn_conv1`,
`res2a_branch2a`/`bn2a_branch2a`, ...) so that the `layers=` groups
("3+", "4+", "5+"), GroupNorm and frozen statistics all apply to it. It
builds and traces in a fraction of ResNet-50's time; the tests that check
plumbing use it (BACKBONE = "tiny").

In-process tests import this module (tests/conftest.py); subprocesses find it
through the entry point of the group `mrcnn.backbones` that conftest declares
in a .dist-info folder on PYTHONPATH (with tests/ itself), as an installed
package would declare it.
"""
from keras import layers

from mrcnn.backbones import register_backbone
from mrcnn.normalizations import as_norm

NAME = "tiny"
CHANNELS = (8, 16, 16, 32, 32)
# (convolution, normalization) layer names of stages 1..5
STAGE_LAYERS = [("conv1", "bn_conv1")] + [(f"res{s}a_branch2a", f"bn{s}a_branch2a")
                                          for s in range(2, 6)]


def tiny_backbone(input_image, stage5=True, train_bn=True, norm=None):
    """input_image: float32 [batch, H, W, 3] -> [C1..C5], float32
    [batch, H / 2**k, W / 2**k, CHANNELS[k-1]] for k = 1..5. norm: the
    network's normalization (a factory of layers by name)."""
    norm = as_norm(norm, train_bn)
    outputs = []
    x = input_image
    for (conv, norm_name), channels in zip(STAGE_LAYERS, CHANNELS):
        x = layers.Conv2D(channels, 3, strides=2, padding="same", name=conv)(x)
        x = norm(norm_name)(x)
        x = layers.Activation("relu")(x)
        outputs.append(x)
    if not stage5:
        outputs[-1] = None
    return outputs


def _weight_layer_names():
    return [name for pair in STAGE_LAYERS for name in pair]


register_backbone(
    NAME, tiny_backbone, replace=True,
    stage_layers={f"{first}+": "|".join(f"(res{s}.*)|(bn{s}.*)" for s in range(first, 6))
                  for first in (3, 4, 5)},
    weight_layer_names=_weight_layer_names)
