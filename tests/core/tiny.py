"""A tiny config and a synthetic dataset shared by the core tests."""
import os

import numpy as np
import skimage.draw
import yaml

from mrcnn import utils
from mrcnn.config import Config

TINY_YAML = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tiny.yaml")
with open(TINY_YAML) as _file:
    TINY_SETTINGS = {key: tuple(value) if isinstance(value, list) else value
                     for key, value in yaml.safe_load(_file).items()}


class TinyConfig(Config):
    """tests/tiny.yaml's network, with a name, two classes and batches of 2."""
    NAME = "tiny"
    NUM_CLASSES = 3
    IMAGES_PER_GPU = 2
    STEPS_PER_EPOCH = 2


for _key, _value in TINY_SETTINGS.items():
    if _key not in vars(TinyConfig):
        setattr(TinyConfig, _key, _value)


class ResNetTinyConfig(TinyConfig):
    """TinyConfig on ResNet-50, for what concerns that network itself
    (matterport's layer names, its weight files)."""
    BACKBONE = "resnet50"


class BatchNormTinyConfig(TinyConfig):
    """TinyConfig with BatchNorm (the from-scratch default is GroupNorm)."""
    NORMALIZATION = "batch"


class DiscsAndBars(utils.Dataset):
    """Discs (class 1) and bars (class 2) on noise; images with `empty=True`
    have no instances (negatives)."""

    def load(self, count, size=64, seed=0, empty_every=0):
        self.add_class("toy", 1, "disc")
        self.add_class("toy", 2, "bar")
        rng = np.random.default_rng(seed)
        for i in range(count):
            objects = []
            if not (empty_every and i % empty_every == 0):
                for _ in range(int(rng.integers(1, 4))):
                    objects.append((int(rng.integers(1, 3)),
                                    int(rng.integers(size // 5, size - size // 5)),
                                    int(rng.integers(size // 5, size - size // 5)),
                                    int(rng.integers(size // 10, size // 5))))
            self.add_image("toy", i, None, objects=objects, height=size, width=size,
                           seed=int(rng.integers(1 << 30)))

    def load_image(self, image_id):
        info = self.image_info[image_id]
        rng = np.random.default_rng(info["seed"])
        image = rng.integers(0, 60, (info["height"], info["width"], 3)).astype(np.uint8)
        masks, class_ids = self.load_mask(image_id)
        for k, class_id in enumerate(class_ids):
            image[masks[..., k]] = (220, 60, 60) if class_id == 1 else (60, 220, 60)
        return image

    def load_mask(self, image_id):
        info = self.image_info[image_id]
        h, w = info["height"], info["width"]
        masks = np.zeros((h, w, len(info["objects"])), bool)
        for k, (class_id, y, x, s) in enumerate(info["objects"]):
            if class_id == 1:
                rr, cc = skimage.draw.disk((y, x), s, shape=(h, w))
            else:
                rr, cc = skimage.draw.rectangle((y - s // 3, x - s), (y + s // 3, x + s),
                                                shape=(h, w))
            masks[rr, cc, k] = True
        return masks, np.array([o[0] for o in info["objects"]], np.int32)


def tiny_dataset(count=6, seed=0, empty_every=0, size=64):
    dataset = DiscsAndBars()
    dataset.load(count, size=size, seed=seed, empty_every=empty_every)
    dataset.prepare()
    return dataset
