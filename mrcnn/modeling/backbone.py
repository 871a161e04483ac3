"""ResNet-50/101 backbone and Feature Pyramid Network, with matterport's
layer names (`conv1`, `bn_conv1`, `res2a_branch2a`, `fpn_c5p5`, `fpn_p2`, ...)
so that weights saved by matterport's code load by name."""
from keras import layers

from mrcnn.backbones import RESNET_BLOCKS, get_backbone
from mrcnn.modeling.normalization import GROUP_NORM_GROUPS, BatchNorm


def _bottleneck(input_tensor, kernel_size, filters, stage, block, strides, use_bias, train_bn):
    """The main path of a ResNet block: 1x1, kxk, 1x1 convs with BatchNorm,
    named res<stage><block>_branch2a/2b/2c and bn<stage><block>_branch2a/2b/2c."""
    nb_filter1, nb_filter2, nb_filter3 = filters
    conv_name_base = "res" + str(stage) + block + "_branch"
    bn_name_base = "bn" + str(stage) + block + "_branch"

    x = layers.Conv2D(nb_filter1, (1, 1), strides=strides, name=conv_name_base + "2a",
                      use_bias=use_bias)(input_tensor)
    x = BatchNorm(name=bn_name_base + "2a", train_statistics=train_bn)(x)
    x = layers.Activation("relu")(x)

    x = layers.Conv2D(nb_filter2, (kernel_size, kernel_size), padding="same",
                      name=conv_name_base + "2b", use_bias=use_bias)(x)
    x = BatchNorm(name=bn_name_base + "2b", train_statistics=train_bn)(x)
    x = layers.Activation("relu")(x)

    x = layers.Conv2D(nb_filter3, (1, 1), name=conv_name_base + "2c", use_bias=use_bias)(x)
    return BatchNorm(name=bn_name_base + "2c", train_statistics=train_bn)(x)


def identity_block(input_tensor, kernel_size, filters, stage, block, use_bias=True,
                   train_bn=True):
    """The identity_block is the block that has no conv layer at shortcut.

    input_tensor: float32 [batch, H, W, C]
    kernel_size: default 3, the kernel size of middle conv layer at main path
    filters: list of integers, the nb_filters of 3 conv layer at main path
    stage: integer, current stage label, used for generating layer names
    block: 'a','b'..., current block label, used for generating layer names

    Returns: float32 [batch, H, W, filters[2]]
    """
    x = _bottleneck(input_tensor, kernel_size, filters, stage, block, (1, 1), use_bias, train_bn)
    x = layers.Add()([x, input_tensor])
    return layers.Activation("relu", name="res" + str(stage) + block + "_out")(x)


def conv_block(input_tensor, kernel_size, filters, stage, block, strides=(2, 2),
               use_bias=True, train_bn=True):
    """conv_block is the block that has a conv layer at shortcut.

    Stage 3's first conv layer has strides (2, 2) and so does the shortcut.

    Returns: float32 [batch, H / stride, W / stride, filters[2]]
    """
    x = _bottleneck(input_tensor, kernel_size, filters, stage, block, strides, use_bias, train_bn)
    shortcut = layers.Conv2D(filters[2], (1, 1), strides=strides,
                             name="res" + str(stage) + block + "_branch1",
                             use_bias=use_bias)(input_tensor)
    shortcut = BatchNorm(name="bn" + str(stage) + block + "_branch1",
                         train_statistics=train_bn)(shortcut)
    x = layers.Add()([x, shortcut])
    return layers.Activation("relu", name="res" + str(stage) + block + "_out")(x)


def resnet_graph(input_image, architecture, stage5=True, train_bn=True):
    """Build a ResNet graph.

    input_image: float32 [batch, H, W, 3], mean-subtracted RGB.
    architecture: "resnet50" or "resnet101".
    stage5: Boolean. If False, stage5 of the network is not created.
    train_bn: whether BatchNorm layers use batch statistics when training.

    Returns: [C1, C2, C3, C4, C5], the outputs of each stage, strides 2..32.
    """
    if architecture not in RESNET_BLOCKS:
        raise ValueError(f"BACKBONE {architecture!r} is not supported; use resnet50 or resnet101")
    # Stage 1
    x = layers.ZeroPadding2D((3, 3))(input_image)
    x = layers.Conv2D(64, (7, 7), strides=(2, 2), name="conv1", use_bias=True)(x)
    x = BatchNorm(name="bn_conv1", train_statistics=train_bn)(x)
    x = layers.Activation("relu")(x)
    C1 = x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same")(x)
    # Stage 2
    x = conv_block(x, 3, [64, 64, 256], stage=2, block="a", strides=(1, 1), train_bn=train_bn)
    x = identity_block(x, 3, [64, 64, 256], stage=2, block="b", train_bn=train_bn)
    C2 = x = identity_block(x, 3, [64, 64, 256], stage=2, block="c", train_bn=train_bn)
    # Stage 3
    x = conv_block(x, 3, [128, 128, 512], stage=3, block="a", train_bn=train_bn)
    x = identity_block(x, 3, [128, 128, 512], stage=3, block="b", train_bn=train_bn)
    x = identity_block(x, 3, [128, 128, 512], stage=3, block="c", train_bn=train_bn)
    C3 = x = identity_block(x, 3, [128, 128, 512], stage=3, block="d", train_bn=train_bn)
    # Stage 4
    x = conv_block(x, 3, [256, 256, 1024], stage=4, block="a", train_bn=train_bn)
    for i in range(RESNET_BLOCKS[architecture][2] - 1):
        x = identity_block(x, 3, [256, 256, 1024], stage=4, block=chr(98 + i), train_bn=train_bn)
    C4 = x
    # Stage 5
    if stage5:
        x = conv_block(x, 3, [512, 512, 2048], stage=5, block="a", train_bn=train_bn)
        x = identity_block(x, 3, [512, 512, 2048], stage=5, block="b", train_bn=train_bn)
        C5 = identity_block(x, 3, [512, 512, 2048], stage=5, block="c", train_bn=train_bn)
    else:
        C5 = None
    return [C1, C2, C3, C4, C5]


def resnet50(input_image, stage5=True, train_bn=True):
    """ResNet-50 (the registered builder of BACKBONE = "resnet50")."""
    return resnet_graph(input_image, "resnet50", stage5=stage5, train_bn=train_bn)


def resnet101(input_image, stage5=True, train_bn=True):
    """ResNet-101 (the registered builder of BACKBONE = "resnet101")."""
    return resnet_graph(input_image, "resnet101", stage5=stage5, train_bn=train_bn)


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


def build_backbone(input_image, config, train_bn=True):
    """The registered backbone of `config.BACKBONE` (mrcnn.backbones) + FPN.

    Returns: (rpn_feature_maps [P2..P6], mrcnn_feature_maps [P2..P5]).
    """
    build = get_backbone(config.BACKBONE, config.COMPUTE_BACKBONE_SHAPE).builder()
    _, C2, C3, C4, C5 = build(input_image, stage5=True, train_bn=train_bn)
    P2, P3, P4, P5, P6 = fpn_graph(C2, C3, C4, C5, config.TOP_DOWN_PYRAMID_SIZE)
    return [P2, P3, P4, P5, P6], [P2, P3, P4, P5]


def configure_batchnorm(model, normalization=None, train_statistics=None, batch_renorm=None):
    """Set what every BatchNorm layer of `model` computes; read when a call
    is traced. Arguments left None keep the layers' current setting.

    normalization: "batch" (BatchNorm) or "group" (GroupNorm with
        GROUP_NORM_GROUPS groups).
    train_statistics: True normalises a training call with the batch's
        statistics and updates the moving ones; False uses the stored ones.
    batch_renorm: Batch Renormalization for the layers whose statistics are
        learned (see BatchNorm).
    Returns the number of BatchNorm layers.
    """
    layers = [layer for layer in model.layers if isinstance(layer, BatchNorm)]
    for layer in layers:
        if normalization is not None:
            layer.groups = {"batch": 0, "group": GROUP_NORM_GROUPS}[normalization]
        if train_statistics is not None:
            layer.train_statistics = bool(train_statistics)
        if batch_renorm is not None:
            layer.batch_renorm = bool(batch_renorm)
        # Renormalisation corrects learned statistics; frozen ones have none to correct.
        layer.batch_renorm = bool(layer.batch_renorm and layer.train_statistics)
    return len(layers)

