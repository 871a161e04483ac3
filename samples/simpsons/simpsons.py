"""Mask R-CNN on the Simpsons: five characters annotated with Hyperlabel and
exported as COCO instances (`instances.json`; each segmentation is a JSON
*string* of polygons, images in a sub-folder per character).

    python samples/simpsons/simpsons.py train --dataset=/path/to/simpsons --weights=coco
    python samples/simpsons/simpsons.py train --dataset=/path/to/simpsons --weights=last
    python samples/simpsons/simpsons.py evaluate --dataset=/path/to/simpsons
    python samples/simpsons/simpsons.py predict --images=frames/ --out=predictions/

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
from mrcnn.data import COCODataset  # noqa: E402
from mrcnn.data.read import reader_loader  # noqa: E402

ANNOTATION_FILE = "instances.json"


class SimpsonsConfig(Config):
    """Homer, Marge, Maggie, Lisa and Bart."""
    NAME = "simpsons"
    NUM_CLASSES = 1 + 5
    # In the category ids' order of the Hyperlabel export.
    CLASS_NAMES = ["Homer", "Marge", "Maggie", "Lisa", "Bart"]
    # The pictures are about 300-600 pixels: no need for 1024.
    IMAGE_MIN_DIM = 512
    IMAGE_MAX_DIM = 512
    STEPS_PER_EPOCH = 100
    DETECTION_MIN_CONFIDENCE = 0.9
    # About one character per picture.
    MAX_GT_INSTANCES = 10
    # COCO mask mAP on 20 validation images after every epoch (val_mAP in
    # results.csv and TensorBoard): a small share of an epoch's time.
    EVAL_EVERY_EPOCHS = 1
    EVAL_LIMIT = 20
    TRAINING_SCHEDULE = [{"layers": "heads", "epochs": 20},
                         {"layers": "all", "epochs": 10, "learning_rate_factor": 0.1}]


class SimpsonsDataset(COCODataset):
    """The Hyperlabel COCO export of the Simpsons characters."""

    def load_simpsons(self, dataset_dir):
        """Add the images of `<dataset_dir>/instances.json`. Call prepare()
        afterwards."""
        return self.load_coco(os.path.join(dataset_dir, ANNOTATION_FILE), source="simpsons")


# The CLI's dataset loader: (path, config, **reader flags) -> SimpsonsDataset.
load_simpsons = reader_loader(SimpsonsDataset, format="coco", source="simpsons")


def main(argv=None):
    return cli.main(argv, config_class=SimpsonsConfig, dataset_loader=load_simpsons,
                    prog="simpsons.py")


if __name__ == "__main__":
    sys.exit(main())
