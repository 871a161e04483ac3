"""What the export tests share: the tiny network's config, a seeded
checkpoint of it, loading it back (the session fixture `exported_model` is
in conftest.py).

The network is tests/core's tiny one (tests/tiny_backbone.py at 64 x 64, two classes)
with seeded random weights and DETECTION_MIN_CONFIDENCE 0, so that every
image gets detections (an untrained network is never confident).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "core"))
import tiny  # noqa: E402  tests/core/tiny.py

EXPORT_CLASS_NAMES = ["BG", "disc", "bar"]


class ExportConfig(tiny.TinyConfig):
    NAME = "export"
    CLASS_NAMES = EXPORT_CLASS_NAMES[1:]
    IMAGES_PER_GPU = 1
    DETECTION_MIN_CONFIDENCE = 0.0


def write_export_checkpoint(folder, seed=0):
    """A seeded random tiny network saved as a checkpoint (weights, epoch 0
    and its settings, as training writes them). Returns the .h5 path."""
    import keras

    from mrcnn.model import MaskRCNN

    keras.utils.set_random_seed(seed)
    model = MaskRCNN(mode="inference", config=ExportConfig(), model_dir=str(folder))
    return model.save_weights_h5(os.path.join(str(folder), "mask_rcnn_export_0000.h5"))


def load_checkpoint(checkpoint, config=None):
    """An inference MaskRCNN with `checkpoint` loaded."""
    from mrcnn.model import MaskRCNN

    model = MaskRCNN(mode="inference", config=config or ExportConfig(),
                     model_dir=os.path.dirname(checkpoint))
    model.load_weights(checkpoint)
    return model
