"""The Config values a layer needs, as plain serialisable values.

Layers keep only the settings they read (not the whole Config), return them
from get_config(), and read them through `Settings` with a Config's
attribute names, so graph functions written for a Config (matterport's
`refine_detections_graph(..., config)`) take either.
"""
import numpy as np


def plain(value):
    """A Config value as JSON-serialisable Python: arrays and tuples become
    lists, numpy scalars Python numbers."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def settings_of(config, names):
    """{name: plain value} of `config`'s attributes `names`."""
    return {name: plain(getattr(config, name)) for name in names}


class Settings:
    """Attribute access to a settings dict, lists read back as tuples (as a
    Config has them)."""

    def __init__(self, values):
        for key, value in values.items():
            setattr(self, key, tuple(value) if isinstance(value, list) else value)
