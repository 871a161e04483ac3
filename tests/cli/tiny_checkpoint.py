"""A checkpoint of the tiny network (tests/cli/tiny.yaml) without training
it: a seeded, untrained network saved by `MaskRCNN.save_weights_h5` with its
settings, as training would save it. Loading it through `--weights PATH`
takes the same path as a trained checkpoint; building it takes about 15 s
instead of the 100 s of a one-step training run on this machine.

The tiny config keeps every detection (DETECTION_MIN_CONFIDENCE 0), so the
untrained network still draws DETECTION_MAX_INSTANCES (8) per image.
"""
from cli_fixtures import TINY_YAML

CLASS_NAMES = ["a", "b"]


def write_tiny_checkpoint(path, seed=0):
    """Write the checkpoint to `path` (an .h5 file) unless it is there.
    Returns the path as str."""
    import os

    if os.path.isfile(path):
        return str(path)
    import keras

    from mrcnn.commands.project import read_yaml_settings
    from mrcnn.config import Config
    from mrcnn.model import MaskRCNN

    keras.utils.set_random_seed(seed)
    config = Config()
    config.update(read_yaml_settings(TINY_YAML))
    config.update({"NAME": "mrcnn", "CLASS_NAMES": CLASS_NAMES, "NUM_CLASSES": len(CLASS_NAMES) + 1,
                   "GPU_COUNT": 1, "IMAGES_PER_GPU": 1})
    model = MaskRCNN(mode="inference", config=config, model_dir=os.path.dirname(str(path)))
    return str(model.save_weights_h5(str(path)))


def session_checkpoint(tmp_path_factory):
    """One checkpoint per test session, shared by the modules that ask."""
    folder = tmp_path_factory.getbasetemp() / "tiny_checkpoint"
    folder.mkdir(exist_ok=True)
    return write_tiny_checkpoint(folder / "mask_rcnn_mrcnn_0000.h5")
