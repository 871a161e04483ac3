"""Mask R-CNN on matterport's balloon dataset: one class, "balloon",
annotated with the VGG Image Annotator 1.x (regions keyed "0", "1", ... and
no class attribute).

    python samples/balloon/balloon.py train --dataset=/path/to/balloon --weights=coco
    python samples/balloon/balloon.py train --dataset=/path/to/balloon --weights=last
    python samples/balloon/balloon.py splash --weights=last --image=<file> | --video=<file>
    python samples/balloon/balloon.py evaluate --dataset=/path/to/balloon

The commands and flags are the shared ones of `mrcnn` (mrcnn/cli.py); see
README.md beside this file for the folder layout.
"""
import os
import sys

ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if ROOT_DIR not in sys.path:
    sys.path.insert(0, ROOT_DIR)

from mrcnn import cli  # noqa: E402
from mrcnn.config import Config  # noqa: E402
from mrcnn.data import VIADataset, read_dataset  # noqa: E402

DEFAULT_LOGS_DIR = os.path.join(ROOT_DIR, "logs")


class BalloonConfig(Config):
    """matterport's balloon settings."""
    NAME = "balloon"
    # 2 images per batch (matterport: fits a 12 GB GPU at 1024 px).
    IMAGES_PER_GPU = 2
    NUM_CLASSES = 1 + 1  # background + balloon
    CLASS_NAMES = ["balloon"]
    STEPS_PER_EPOCH = 100
    # Skip detections with < 90% confidence
    DETECTION_MIN_CONFIDENCE = 0.9
    # matterport trained the heads only, 30 epochs, on COCO weights. From
    # scratch (--weights=none) the stage trains all layers instead.
    TRAINING_SCHEDULE = [{"layers": "heads", "epochs": 30}]


class BalloonDataset(VIADataset):
    """VIA 1.x balloon annotations: the regions carry no class, so every
    region is a balloon."""

    def load_balloon(self, dataset_dir, subset):
        """matterport's loader: `<dataset_dir>/<subset>/via_region_data.json`.
        subset: "train" or "val". Call prepare() afterwards."""
        if subset not in ("train", "val"):
            raise ValueError(f"subset must be 'train' or 'val', not {subset!r}")
        return self.load_via(os.path.join(dataset_dir, subset, "via_region_data.json"),
                             default_class="balloon", source="balloon")


def load_balloon(path, config, **options):
    """The CLI's dataset loader: a prepared BalloonDataset of the VIA file at
    `path` (a file, or a folder holding it). Reader flags override the defaults."""
    options = {"format": "via", "default_class": "balloon", "source": "balloon",
               "classes": list(config.CLASS_NAMES), **options}
    return read_dataset(path, dataset_class=BalloonDataset, **options)


def main(argv=None):
    return cli.main(argv, config_class=BalloonConfig, dataset_loader=load_balloon,
                    prog="balloon.py", logs_dir=DEFAULT_LOGS_DIR)


if __name__ == "__main__":
    sys.exit(main())
