"""What the serving tests share: a tiny checkpoint, test images, a running
`mrcnn serve`, and HTTP helpers.

The checkpoint is tests/core's tiny network with seeded random weights and
DETECTION_MIN_CONFIDENCE 0, so every image gets detections (an untrained
network is never confident) and its scores differ from one another.
"""
import io
import os
import sys

import numpy as np
import skimage.draw
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "core"))
import tiny  # noqa: E402  tests/core/tiny.py

CLASS_NAMES = ["disc", "bar"]


class ServeConfig(tiny.TinyConfig):
    NAME = "serve"
    CLASS_NAMES = list(CLASS_NAMES)
    IMAGES_PER_GPU = 1
    DETECTION_MAX_INSTANCES = 8
    DETECTION_MIN_CONFIDENCE = 0.0


def write_tiny_checkpoint(folder, seed=1):
    """Save a seeded random tiny network as a checkpoint (weights + its
    settings, as training writes them). Returns the .h5 path. Seed 1 finds
    both classes in `painted_image()` (8 detections, 6 bars and 2 discs,
    scores 0.62-0.75), so the class filter has something to separate."""
    import keras

    from mrcnn.model import MaskRCNN

    keras.utils.set_random_seed(seed)
    model = MaskRCNN(mode="inference", config=ServeConfig(), model_dir=str(folder))
    path = os.path.join(str(folder), "mask_rcnn_serve_0001.h5")
    model.save_weights_h5(path)
    return path


def shared_checkpoint(tmp_path_factory):
    """The tiny checkpoint, written once per test session (the API and the
    browser tests both serve it)."""
    folder = tmp_path_factory.getbasetemp() / "serve-checkpoint"
    path = folder / "mask_rcnn_serve_0001.h5"
    if not path.exists():
        folder.mkdir(exist_ok=True)
        write_tiny_checkpoint(folder)
    return str(path)


def painted_image(height=72, width=96, seed=0):
    """uint8 [H, W, 3]: a red disc and a green bar on dark noise."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, (height, width, 3)).astype(np.uint8)
    rr, cc = skimage.draw.disk((height // 3, width // 3), min(height, width) // 5, shape=image.shape[:2])
    image[rr, cc] = (220, 60, 60)
    rr, cc = skimage.draw.rectangle((2 * height // 3, width // 2), (2 * height // 3 + 6, width - 10),
                                    shape=image.shape[:2])
    image[rr, cc] = (60, 220, 60)
    return image


def encode(image, fmt, **options):
    """The bytes of `image` as a file of format `fmt` ("PNG", "JPEG")."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def start_service(*args, timeout=240):
    """`mrcnn serve ARGS --port 0` in a child process (mrcnn.serving.launch)."""
    from mrcnn.serving.launch import ServiceProcess

    return ServiceProcess([*map(str, args), "--host", "127.0.0.1", "--port", "0"], timeout=timeout)
