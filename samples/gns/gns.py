"""Mask R-CNN on guns and swords: Open Images photos annotated with the VGG
Image Annotator 2.x, the class ticked in a checkbox region attribute
(`"region_attributes": {"name": {"gun": true}}`), outlines drawn as closed
polylines.

    python samples/gns/gns.py train --dataset=../shared/data/gns --weights=coco
    python samples/gns/gns.py train --dataset=../shared/data/gns --weights=last
    python samples/gns/gns.py train --dataset=../shared/data/gns --weights=imagenet
    python samples/gns/gns.py evaluate --dataset=../shared/data/gns
    python samples/gns/gns.py predict --images=new_photos/ --out=new_photos/ --format=labelme

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

ANNOTATION_FILE = "via_region_data.json"


class GnsConfig(Config):
    """Guns and swords, on matterport's balloon settings."""
    NAME = "gns"
    NUM_CLASSES = 1 + 2  # background + gun + sword
    CLASS_NAMES = ["gun", "sword"]
    # 64 training images (80 with a 0.2 validation split): an epoch sees each twice.
    STEPS_PER_EPOCH = 64
    VALIDATION_STEPS = 8
    DETECTION_MIN_CONFIDENCE = 0.9
    # COCO mask mAP on 20 validation images after every epoch (val_mAP in
    # results.csv and TensorBoard): a small share of an epoch's time.
    EVAL_EVERY_EPOCHS = 1
    EVAL_LIMIT = 20
    # Heads on COCO weights, then everything with a smaller step; from
    # scratch (--weights=none) both stages train all layers.
    TRAINING_SCHEDULE = [{"layers": "heads", "epochs": 20},
                         {"layers": "all", "epochs": 10, "learning_rate_factor": 0.1}]


class GnsDataset(VIADataset):
    """The VIA 2.x project of guns and swords; the class is the ticked
    option of the `name` checkbox attribute."""

    def load_gns(self, dataset_dir):
        """Add the images of `<dataset_dir>/via_region_data.json`. Call
        prepare() afterwards."""
        return self.load_via(os.path.join(dataset_dir, ANNOTATION_FILE), class_attribute="name",
                             source="gns")


# The CLI's dataset loader: (path, config, **reader flags) -> GnsDataset.
load_gns = reader_loader(GnsDataset, format="via", class_attribute="name", source="gns")


def main(argv=None):
    return cli.main(argv, config_class=GnsConfig, dataset_loader=load_gns, prog="gns.py")


if __name__ == "__main__":
    sys.exit(main())
