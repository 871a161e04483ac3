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
from mrcnn.data import VIADataset  # noqa: E402
from mrcnn.data.read import reader_loader  # noqa: E402



class BalloonConfig(Config):
    """matterport's balloon settings."""
    NAME = "balloon"
    NUM_CLASSES = 1 + 1  # background + balloon
    CLASS_NAMES = ["balloon"]
    STEPS_PER_EPOCH = 100
    # Skip detections with < 90% confidence
    DETECTION_MIN_CONFIDENCE = 0.9
    # COCO mask mAP on 20 validation images after every epoch (val_mAP in
    # results.csv and TensorBoard): a small share of an epoch's time.
    EVAL_EVERY_EPOCHS = 1
    EVAL_LIMIT = 20
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


# The CLI's dataset loader: (path, config, **reader flags) -> BalloonDataset.
load_balloon = reader_loader(BalloonDataset, format="via", default_class="balloon",
                             source="balloon")


def main(argv=None):
    return cli.main(argv, config_class=BalloonConfig, dataset_loader=load_balloon,
                    prog="balloon.py")


if __name__ == "__main__":
    sys.exit(main())
