"""The backbone registry: one place that says what a backbone is.

A backbone is registered once, under the name a Config's BACKBONE gives, and
everything else asks the registry: the network builder, the anchors (feature
map shapes), the `layers=` groups of train(), the check of `--layers` before
a network is built, and the ImageNet file of `--weights=imagenet`.

    from mrcnn.backbones import register_backbone

    def my_backbone(input_image, stage5=True, train_bn=True, norm=None):
        ...                       # Keras layers on input_image; norm(name)
        return [C1, C2, C3, C4, C5]   # makes each normalization layer

    register_backbone("my_backbone", my_backbone)

and `BACKBONE = "my_backbone"` in the Config. A checkpoint stores the name,
so `--weights=last`, `evaluate` and `predict` rebuild the same network in any
process that registered it: a script that imports the registering module, or
any process at all when an installed package declares the builder as an entry
point of the group `mrcnn.backbones` (`my_backbone = "my_pkg.nets:my_backbone"`).

matterport's hook, a callable BACKBONE with COMPUTE_BACKBONE_SHAPE, still
works: the callable is registered under its __name__ when first asked for.

This module imports nothing of Keras; the built-in ResNets are named by
import path and imported when a network is built.
"""
import dataclasses
import importlib
import importlib.metadata
import math
import re
from typing import Callable, Optional, Union

import numpy as np

ENTRY_POINT_GROUP = "mrcnn.backbones"

# The parts of a network train(layers=...) names that are not the backbone:
# FPN, RPN and the Mask R-CNN heads (matterport's "heads").
HEADS_REGEX = r"(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)"


@dataclasses.dataclass(frozen=True)
class Backbone:
    """A registered backbone.

    name: the Config.BACKBONE value.
    build: build(input_image, stage5=True, train_bn=True, norm=None) -> [C1, C2,
        C3, C4, C5], matterport's resnet_graph signature plus `norm`, the
        network's mrcnn.normalizations.Normalization: norm(layer_name) makes
        each normalization layer (a builder without `norm` gets train_bn
        only, and makes its own). input_image is float32
        [batch, H, W, channels]; C2..C5 are [batch, H / s, W / s, C_k] for the
        strides s of `strides` (C1 may be None). A "module:function" string is
        imported when first built.
    strides: the strides of C2..C5 (the FPN adds P6 at twice the last).
    compute_shape: compute_shape(image_shape) -> int [levels, (height, width)]
        of the feature maps P2..P6, when ceil(side / stride) is not right.
    stage_layers: {"3+": regex, ...}: the backbone layers that train() trains
        for each `layers=` group besides "heads" and "all" (the heads are
        added to each).
    weight_layer_names: names(): the backbone's layers with weights, known
        without building it (`--layers` is checked against them), or None.
    imagenet: (file name, md5) of a keras.applications "notop" file whose
        layers load into it by name, or None.
    """

    name: str
    build: Union[Callable, str]
    strides: tuple = (4, 8, 16, 32)
    compute_shape: Optional[Callable] = None
    stage_layers: dict = dataclasses.field(default_factory=dict)
    weight_layer_names: Optional[Callable] = None
    imagenet: Optional[tuple] = None

    def builder(self):
        """The build function (imported when registered by path)."""
        if callable(self.build):
            return self.build
        module, _, attribute = self.build.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def feature_shapes(self, image_shape, strides):
        """int [levels, (height, width)] of the feature maps P2.. for an image
        of `image_shape` (H, W[, C]) and the Config's BACKBONE_STRIDES."""
        if self.compute_shape is not None:
            return np.asarray(self.compute_shape(image_shape))
        return np.array([[int(math.ceil(image_shape[0] / s)), int(math.ceil(image_shape[1] / s))]
                         for s in strides])

    def layers_regex(self, layers):
        """The regex of layer names that train(layers=...) trains: `layers`
        is "heads", "all", one of stage_layers' names, or a regex itself."""
        if layers == "heads":
            return HEADS_REGEX
        if layers == "all":
            return ".*"
        if layers in self.stage_layers:
            return f"{self.stage_layers[layers]}|{HEADS_REGEX}"
        if re.fullmatch(r"\d\+", layers):
            raise ValueError(f"layers={layers!r} is not a layer group of BACKBONE {self.name!r}; "
                             f"its groups: {['heads', *self.stage_layers, 'all']}")
        return layers


_REGISTRY = {}


def register_backbone(name, build, *, strides=(4, 8, 16, 32), compute_shape=None,
                      stage_layers=None, weight_layer_names=None, imagenet=None,
                      replace=False):
    """Register a backbone under `name` (see Backbone for the arguments).
    Registering a name twice is refused unless `replace`, so that two
    modules cannot silently fight over one name. Returns the Backbone."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.\-]*", name):
        raise ValueError(f"register_backbone: {name!r} is not a usable BACKBONE name "
                         "(letters, digits, _ . -)")
    if name in _REGISTRY and not replace and _REGISTRY[name].build != build:
        raise ValueError(f"register_backbone: {name!r} is already registered (by "
                         f"{_describe(_REGISTRY[name].build)}); pass replace=True to replace it")
    if strides is None or len(strides) != 4:
        raise ValueError(f"register_backbone({name!r}): strides gives the strides of C2..C5 "
                         f"(4 values), not {strides!r}")
    spec = Backbone(name=name, build=build, strides=tuple(int(s) for s in strides),
                    compute_shape=compute_shape, stage_layers=dict(stage_layers or {}),
                    weight_layer_names=weight_layer_names,
                    imagenet=tuple(imagenet) if imagenet else None)
    _REGISTRY[name] = spec
    return spec


def registered_backbones():
    """The registered names, built-in ones first: tuple of str."""
    return tuple(_REGISTRY)


class UnknownBackboneError(ValueError):
    """Config.BACKBONE names no registered backbone (the message says how
    to register it)."""


def get_backbone(backbone, compute_shape=None):
    """The Backbone for a Config.BACKBONE value: a registered name, the name
    of an entry point of the group `mrcnn.backbones`, or a callable
    (matterport's hook; registered under its __name__ with `compute_shape`,
    the Config's COMPUTE_BACKBONE_SHAPE).

    Raises UnknownBackboneError naming the registered backbones."""
    if callable(backbone):
        name = getattr(backbone, "__name__", None) or type(backbone).__name__
        spec = _REGISTRY.get(name)
        if spec is None or spec.build is not backbone or spec.compute_shape is not compute_shape:
            # Under any name, "<lambda>" included: the Config holds the callable.
            spec = _REGISTRY[name] = Backbone(name=name, build=backbone,
                                              compute_shape=compute_shape)
        return spec
    if backbone in _REGISTRY:
        return _REGISTRY[backbone]
    if isinstance(backbone, str):
        for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=backbone):
            loaded = entry.load()
            # The entry point is the build function, or a module that registers it.
            if backbone not in _REGISTRY and callable(loaded):
                register_backbone(backbone, loaded)
            if backbone in _REGISTRY:
                return _REGISTRY[backbone]
    raise UnknownBackboneError(
        f"BACKBONE {backbone!r} is not registered; registered: "
        f"{', '.join(registered_backbones())}. A backbone of your own is registered by "
        "mrcnn.backbones.register_backbone() in the script that runs the command, or by an "
        f"entry point of the group {ENTRY_POINT_GROUP!r} of an installed package")


def _describe(build):
    return build if isinstance(build, str) else getattr(build, "__qualname__", repr(build))


# ---- the built-in ResNets (matterport's layer names) ------------------------

RESNET_BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}


def _resnet_stage(first):
    """Regex of the ResNet layers of stages `first`..5."""
    return "|".join(f"(res{s}.*)|(bn{s}.*)" for s in range(first, 6))


def _resnet_weight_layer_names(blocks):
    def names():
        out = ["conv1", "bn_conv1"]
        for stage, count in zip(range(2, 6), blocks):
            for index in range(count):
                block = chr(ord("a") + index)
                branches = ["2a", "2b", "2c"] + (["1"] if index == 0 else [])
                out += [f"{prefix}{stage}{block}_branch{branch}"
                        for branch in branches for prefix in ("res", "bn")]
        return out
    return names


for _name, _md5 in (("resnet50", "4d473c1dd8becc155b73f8504c6f6626"),
                    ("resnet101", "88cf7a10940856eca736dc7b7e228a21")):
    register_backbone(
        _name, f"mrcnn.modeling.backbone:{_name}",
        stage_layers={"3+": _resnet_stage(3), "4+": _resnet_stage(4), "5+": _resnet_stage(5)},
        weight_layer_names=_resnet_weight_layer_names(RESNET_BLOCKS[_name]),
        # md5 from keras/src/applications/resnet.py WEIGHTS_HASHES
        imagenet=(f"{_name}_weights_tf_dim_ordering_tf_kernels_notop.h5", _md5))
