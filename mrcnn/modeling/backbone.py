"""ResNet-50/101 backbone and Feature Pyramid Network, with matterport's
layer names (`conv1`, `bn_conv1`, `res2a_branch2a`, `fpn_c5p5`, `fpn_p2`, ...)
so that weights saved by matterport's code load by name."""
import inspect
import logging

import keras
from keras import layers

from mrcnn.backbones import RESNET_BLOCKS, get_backbone
from mrcnn.normalizations import as_norm

logger = logging.getLogger(__name__)


def _bottleneck(input_tensor, kernel_size, filters, stage, block, strides, use_bias, norm):
    """The main path of a ResNet block: 1x1, kxk, 1x1 convs each normalised
    by a layer of `norm`, named res<stage><block>_branch2a/2b/2c and
    bn<stage><block>_branch2a/2b/2c."""
    nb_filter1, nb_filter2, nb_filter3 = filters
    conv_name_base = "res" + str(stage) + block + "_branch"
    bn_name_base = "bn" + str(stage) + block + "_branch"

    x = layers.Conv2D(nb_filter1, (1, 1), strides=strides, name=conv_name_base + "2a",
                      use_bias=use_bias)(input_tensor)
    x = norm(bn_name_base + "2a")(x)
    x = layers.Activation("relu")(x)

    x = layers.Conv2D(nb_filter2, (kernel_size, kernel_size), padding="same",
                      name=conv_name_base + "2b", use_bias=use_bias)(x)
    x = norm(bn_name_base + "2b")(x)
    x = layers.Activation("relu")(x)

    x = layers.Conv2D(nb_filter3, (1, 1), name=conv_name_base + "2c", use_bias=use_bias)(x)
    return norm(bn_name_base + "2c")(x)


def identity_block(input_tensor, kernel_size, filters, stage, block, use_bias=True,
                   train_bn=True, norm=None):
    """The identity_block is the block that has no conv layer at shortcut.

    input_tensor: float32 [batch, H, W, C]
    kernel_size: default 3, the kernel size of middle conv layer at main path
    filters: list of integers, the nb_filters of 3 conv layer at main path
    stage: integer, current stage label, used for generating layer names
    block: 'a','b'..., current block label, used for generating layer names

    Returns: float32 [batch, H, W, filters[2]]
    """
    x = _bottleneck(input_tensor, kernel_size, filters, stage, block, (1, 1), use_bias,
                    as_norm(norm, train_bn))
    x = layers.Add()([x, input_tensor])
    return layers.Activation("relu", name="res" + str(stage) + block + "_out")(x)


def conv_block(input_tensor, kernel_size, filters, stage, block, strides=(2, 2),
               use_bias=True, train_bn=True, norm=None):
    """conv_block is the block that has a conv layer at shortcut.

    Stage 3's first conv layer has strides (2, 2) and so does the shortcut.

    Returns: float32 [batch, H / stride, W / stride, filters[2]]
    """
    norm = as_norm(norm, train_bn)
    x = _bottleneck(input_tensor, kernel_size, filters, stage, block, strides, use_bias, norm)
    shortcut = layers.Conv2D(filters[2], (1, 1), strides=strides,
                             name="res" + str(stage) + block + "_branch1",
                             use_bias=use_bias)(input_tensor)
    shortcut = norm("bn" + str(stage) + block + "_branch1")(shortcut)
    x = layers.Add()([x, shortcut])
    return layers.Activation("relu", name="res" + str(stage) + block + "_out")(x)


def resnet_graph(input_image, architecture, stage5=True, train_bn=True, norm=None):
    """Build a ResNet graph.

    input_image: float32 [batch, H, W, 3], mean-subtracted RGB.
    architecture: "resnet50" or "resnet101".
    stage5: Boolean. If False, stage5 of the network is not created.
    train_bn: without `norm`, whether its BatchNorm layers learn statistics
        (matterport's signature).
    norm: the factory of its normalization layers, callable(layer name) ->
        layer (an mrcnn.normalizations.Normalization); None: BatchNorm.

    Returns: [C1, C2, C3, C4, C5], the outputs of each stage, strides 2..32.
    """
    if architecture not in RESNET_BLOCKS:
        raise ValueError(f"BACKBONE {architecture!r} is not supported; use resnet50 or resnet101")
    # Stage 1
    norm = as_norm(norm, train_bn)
    x = layers.ZeroPadding2D((3, 3))(input_image)
    x = layers.Conv2D(64, (7, 7), strides=(2, 2), name="conv1", use_bias=True)(x)
    x = norm("bn_conv1")(x)
    x = layers.Activation("relu")(x)
    C1 = x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same")(x)
    # Stage 2
    x = conv_block(x, 3, [64, 64, 256], stage=2, block="a", strides=(1, 1), norm=norm)
    x = identity_block(x, 3, [64, 64, 256], stage=2, block="b", norm=norm)
    C2 = x = identity_block(x, 3, [64, 64, 256], stage=2, block="c", norm=norm)
    # Stage 3
    x = conv_block(x, 3, [128, 128, 512], stage=3, block="a", norm=norm)
    x = identity_block(x, 3, [128, 128, 512], stage=3, block="b", norm=norm)
    x = identity_block(x, 3, [128, 128, 512], stage=3, block="c", norm=norm)
    C3 = x = identity_block(x, 3, [128, 128, 512], stage=3, block="d", norm=norm)
    # Stage 4
    x = conv_block(x, 3, [256, 256, 1024], stage=4, block="a", norm=norm)
    for i in range(RESNET_BLOCKS[architecture][2] - 1):
        x = identity_block(x, 3, [256, 256, 1024], stage=4, block=chr(98 + i), norm=norm)
    C4 = x
    # Stage 5
    if stage5:
        x = conv_block(x, 3, [512, 512, 2048], stage=5, block="a", norm=norm)
        x = identity_block(x, 3, [512, 512, 2048], stage=5, block="b", norm=norm)
        C5 = identity_block(x, 3, [512, 512, 2048], stage=5, block="c", norm=norm)
    else:
        C5 = None
    return [C1, C2, C3, C4, C5]


def resnet50(input_image, stage5=True, train_bn=True, norm=None):
    """ResNet-50 (the registered builder of BACKBONE = "resnet50")."""
    return resnet_graph(input_image, "resnet50", stage5=stage5, train_bn=train_bn, norm=norm)


def resnet101(input_image, stage5=True, train_bn=True, norm=None):
    """ResNet-101 (the registered builder of BACKBONE = "resnet101")."""
    return resnet_graph(input_image, "resnet101", stage5=stage5, train_bn=train_bn, norm=norm)


def fpn_graph(C2, C3, C4, C5, pyramid_size=256):
    """Top-down Feature Pyramid Network on the ResNet stages.

    C2..C5: the ResNet stage outputs (strides 4, 8, 16, 32).

    Returns: [P2, P3, P4, P5, P6], float32 [batch, H / stride, W / stride,
    pyramid_size] with strides 4, 8, 16, 32, 64.
    """
    P5 = layers.Conv2D(pyramid_size, (1, 1), name="fpn_c5p5")(C5)
    P4 = layers.Add(name="fpn_p4add")([
        layers.UpSampling2D(size=(2, 2), name="fpn_p5upsampled")(P5),
        layers.Conv2D(pyramid_size, (1, 1), name="fpn_c4p4")(C4)])
    P3 = layers.Add(name="fpn_p3add")([
        layers.UpSampling2D(size=(2, 2), name="fpn_p4upsampled")(P4),
        layers.Conv2D(pyramid_size, (1, 1), name="fpn_c3p3")(C3)])
    P2 = layers.Add(name="fpn_p2add")([
        layers.UpSampling2D(size=(2, 2), name="fpn_p3upsampled")(P3),
        layers.Conv2D(pyramid_size, (1, 1), name="fpn_c2p2")(C2)])
    # Attach 3x3 conv to all P layers to get the final feature maps.
    P2 = layers.Conv2D(pyramid_size, (3, 3), padding="same", name="fpn_p2")(P2)
    P3 = layers.Conv2D(pyramid_size, (3, 3), padding="same", name="fpn_p3")(P3)
    P4 = layers.Conv2D(pyramid_size, (3, 3), padding="same", name="fpn_p4")(P4)
    P5 = layers.Conv2D(pyramid_size, (3, 3), padding="same", name="fpn_p5")(P5)
    # P6 is used for the 5th anchor scale in RPN. Generated by
    # subsampling from P5 with stride of 2.
    P6 = layers.MaxPooling2D(pool_size=(1, 1), strides=2, name="fpn_p6")(P5)
    return [P2, P3, P4, P5, P6]


def takes_norm(build):
    """Whether a backbone builder accepts `norm` (or **kwargs); matterport's
    signature, (input_image, stage5, train_bn), does not."""
    try:
        parameters = inspect.signature(build).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "norm" or p.kind is p.VAR_KEYWORD for p in parameters)


def build_backbone(input_image, config, norm):
    """The registered backbone of `config.BACKBONE` (mrcnn.backbones) + FPN.

    norm: the network's mrcnn.normalizations.Normalization. A builder with
        matterport's signature (no `norm`) gets train_bn instead and makes
        its own normalization layers (see foreign_normalization_layers).
    Returns: (rpn_feature_maps [P2..P6], mrcnn_feature_maps [P2..P5]).
    """
    build = get_backbone(config.BACKBONE, config.COMPUTE_BACKBONE_SHAPE).builder()
    if takes_norm(build):
        stages = build(input_image, stage5=True, train_bn=norm.learn_statistics, norm=norm)
    else:
        stages = build(input_image, stage5=True, train_bn=norm.learn_statistics)
    _, C2, C3, C4, C5 = stages
    P2, P3, P4, P5, P6 = fpn_graph(C2, C3, C4, C5, config.TOP_DOWN_PYRAMID_SIZE)
    return [P2, P3, P4, P5, P6], [P2, P3, P4, P5]


def foreign_normalization_layers(model, norm):
    """Names of `model`'s BatchNormalization-like layers that `norm` did not
    make: those of a backbone builder without `norm`, when norm is not
    "batch" (it then gives them train_bn, which is BatchNorm's setting)."""
    if norm.name == "batch":
        return []
    made = type(norm.layer("probe"))
    found = []
    for layer in model.layers:
        while isinstance(layer, keras.layers.TimeDistributed):
            layer = layer.layer
        if isinstance(layer, keras.layers.BatchNormalization) and type(layer) is not made:
            found.append(layer.name)
    return found
