"""A model small enough to train a few epochs in seconds, and its data."""
import tiny  # tests/core/tiny.py, put on sys.path by conftest.py


class ResumeConfig(tiny.TinyConfig):
    """tests/core's tiny model, one image per step, two steps per epoch."""
    NAME = "tiny"
    IMAGES_PER_GPU = 1
    STEPS_PER_EPOCH = 2
    VALIDATION_STEPS = 1
    MASK_POOL_SIZE = 7
    MASK_SHAPE = [14, 14]
    MINI_MASK_SHAPE = (14, 14)
    LEARNING_RATE = 0.01
    # Every checkpoint keeps its optimizer state, so the tests can read each
    # epoch's (the default keeps it in the newest two).
    OPTIMIZER_STATE_CHECKPOINTS = None


def datasets():
    """(train, val) Datasets of 4 and 2 synthetic images."""
    return tiny.tiny_dataset(4, seed=0), tiny.tiny_dataset(2, seed=1)
