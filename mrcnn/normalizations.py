"""The normalization registry: what Config.NORMALIZATION names, and the one
factory every normalization layer of the network comes from.

A normalization is registered once, under a name, with a function that makes
one layer:

    make(layer_name, *, learn_statistics, renorm) -> keras layer

    learn_statistics: a training call normalises with the batch's statistics
        and updates the stored ones; False: every call uses the stored ones,
        as inference does (right on top of pretrained statistics).
    renorm: Batch Renormalization (Ioffe 2017); only with learn_statistics.

The network is built with one `Normalization` (a name and those two
choices): the backbone (when its builder takes `norm`) and the heads make
each of their normalization layers through it, under matterport's layer
names. Nothing switches a layer afterwards; a model that needs another
normalization is built again (MaskRCNN does when loaded weights decide it).

    from mrcnn.normalizations import register_normalization

    def layer_norm(name, *, learn_statistics, renorm):
        return keras.layers.LayerNormalization(name=name)

    register_normalization("layer", layer_norm)

and `NORMALIZATION = "layer"` in the Config. Built in: "batch" (BatchNorm:
frozen, learned, or learned with Batch Renormalization) and "group"
(GroupNorm with a BatchNorm's four weights, so checkpoints keep one layout);
mrcnn/modeling/normalization.py has their layers.

This module imports nothing of Keras; the built-ins are named by import path
and imported when a network is built.
"""
import dataclasses
import importlib
import re
from typing import Callable, Union

_REGISTRY = {}


def register_normalization(name, make, *, replace=False):
    """Register `make` (see the module docstring) under `name`. Registering
    a name twice is refused unless `replace`. Returns `make`."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w.\-]*", name):
        raise ValueError(f"register_normalization: {name!r} is not a usable NORMALIZATION name "
                         "(letters, digits, _ . -)")
    if name in _REGISTRY and not replace and _REGISTRY[name] != make:
        raise ValueError(f"register_normalization: {name!r} is already registered; pass "
                         "replace=True to replace it")
    _REGISTRY[name] = make
    return make


def registered_normalizations():
    """The registered names, built-in ones first: tuple of str."""
    return tuple(_REGISTRY)


def _maker(name):
    if name not in _REGISTRY:
        raise ValueError(f"NORMALIZATION {name!r} is not registered; registered: "
                         f"{list(_REGISTRY)} (mrcnn.normalizations.register_normalization)")
    make = _REGISTRY[name]
    if isinstance(make, str):
        module, _, attribute = make.partition(":")
        make = getattr(importlib.import_module(module), attribute)
    return make


@dataclasses.dataclass(frozen=True)
class Normalization:
    """What a network's normalization layers compute, decided before it is
    built.

    name: a registered normalization ("batch", "group", ...).
    learn_statistics, renorm: passed to its maker (see the module docstring);
        renorm only counts with learn_statistics.
    """

    name: str
    learn_statistics: bool = False
    renorm: bool = False

    def __post_init__(self):
        object.__setattr__(self, "learn_statistics", bool(self.learn_statistics))
        object.__setattr__(self, "renorm", bool(self.renorm and self.learn_statistics))

    def layer(self, layer_name):
        """A new normalization layer named `layer_name`."""
        return _maker(self.name)(layer_name, learn_statistics=self.learn_statistics,
                                 renorm=self.renorm)

    __call__ = layer

    def describe(self):
        """e.g. "batch (statistics frozen)", for logs."""
        if self.name != "batch":
            return self.name
        if not self.learn_statistics:
            return "batch (statistics frozen)"
        return "batch (statistics learned" + (", Batch Renormalization)" if self.renorm else ")")


def as_norm(norm: Union[Normalization, Callable, None], train_bn=True):
    """The layer factory a graph function uses: `norm` itself (a
    Normalization or any callable(layer_name) -> layer), or for matterport's
    signature without it, BatchNorm whose statistics learn when `train_bn`."""
    if norm is not None:
        return norm
    return Normalization("batch", learn_statistics=train_bn)


register_normalization("batch", "mrcnn.modeling.normalization:batch_norm")
register_normalization("group", "mrcnn.modeling.normalization:group_norm")
