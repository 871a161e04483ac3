"""Mask R-CNN on pumpkins from Open Images: the segmentation masks CSV, one
PNG per instance mask, and the class descriptions CSV; only the "Pumpkin"
class (/m/05zsy) is kept, and only images that show one.

    python samples/pumpkins/pumpkins.py train --dataset=/path/to/pumpkins --weights=coco
    python samples/pumpkins/pumpkins.py train --dataset=/path/to/pumpkins --weights=last
    python samples/pumpkins/pumpkins.py evaluate --dataset=/path/to/pumpkins
    python samples/pumpkins/pumpkins.py splash --image=<file>

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
from mrcnn.data import OpenImagesDataset  # noqa: E402
from mrcnn.data.read import reader_loader  # noqa: E402



class PumpkinConfig(Config):
    """Pumpkins, on matterport's balloon settings."""
    NAME = "pumpkins"
    NUM_CLASSES = 1 + 1  # background + pumpkin
    # The display name in class-descriptions-boxable.csv (MID /m/05zsy).
    CLASS_NAMES = ["Pumpkin"]
    STEPS_PER_EPOCH = 100
    DETECTION_MIN_CONFIDENCE = 0.9
    # Open Images photos are often crowded with pumpkins.
    MAX_GT_INSTANCES = 50
    # COCO mask mAP on 20 validation images after every epoch (val_mAP in
    # results.csv and TensorBoard): a small share of an epoch's time.
    EVAL_EVERY_EPOCHS = 1
    EVAL_LIMIT = 20
    TRAINING_SCHEDULE = [{"layers": "heads", "epochs": 20},
                         {"layers": "all", "epochs": 10, "learning_rate_factor": 0.1}]


class PumpkinDataset(OpenImagesDataset):
    """Open Images instances of the Pumpkin class."""

    def load_pumpkins(self, dataset_dir, subset):
        """Add `<dataset_dir>/<subset>/` (its masks CSV, images/ and masks/).
        subset: "train", "validation" or "test". Call prepare() afterwards."""
        folder = os.path.join(dataset_dir, subset)
        csv_files = sorted(n for n in os.listdir(folder) if n.endswith("object-segmentation.csv"))
        if not csv_files:
            raise FileNotFoundError(f"{folder}: no *-annotations-object-segmentation.csv")
        return self.load_openimages(os.path.join(folder, csv_files[0]),
                                    classes=PumpkinConfig.CLASS_NAMES, source="pumpkins")


# The CLI's dataset loader: (path, config, **reader flags) -> PumpkinDataset.
load_pumpkins = reader_loader(PumpkinDataset, format="openimages", source="pumpkins")


def main(argv=None):
    return cli.main(argv, config_class=PumpkinConfig, dataset_loader=load_pumpkins,
                    prog="pumpkins.py")


if __name__ == "__main__":
    sys.exit(main())
