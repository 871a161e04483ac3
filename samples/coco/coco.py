"""Mask R-CNN on MS-COCO: the 80 classes of matterport's mask_rcnn_coco.h5,
evaluated or trained on a COCO-format folder.

    python samples/coco/coco.py evaluate --dataset=/path/to/coco --weights=coco [--limit 500]
    python samples/coco/coco.py train --dataset=/path/to/coco --weights=coco
    python samples/coco/coco.py train --dataset=/path/to/coco --weights=last
    python samples/coco/coco.py predict --weights=coco --images=photos/ --out=predictions/

`--dataset` is matterport's layout (`annotations/instances_<subset><year>.json`
beside the image folders `<subset><year>/`, see README.md), or one COCO
annotation file (its images beside it or in --image-dir), split as the other
samples split theirs. matterport's flags `--model` (for --weights) and
`--year` are kept; the rest are the shared ones of `mrcnn` (mrcnn/cli.py).
"""
import glob
import os
import re
import sys

ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if ROOT_DIR not in sys.path:
    sys.path.insert(0, ROOT_DIR)

from mrcnn import cli  # noqa: E402
from mrcnn.config import Config  # noqa: E402
from mrcnn.data import COCODataset  # noqa: E402
from mrcnn.data.coco_classes import COCO_CLASSES  # noqa: E402
from mrcnn.data.errors import DatasetError  # noqa: E402
from mrcnn.data.read import read_dataset  # noqa: E402

# The folder of matterport's layout that holds instances_<subset><year>.json;
# without --year the newest year found there is read.
ANNOTATIONS = "annotations"


class CocoConfig(Config):
    """matterport's CocoConfig: 80 classes and background."""
    NAME = "coco"
    IMAGES_PER_GPU = 2
    NUM_CLASSES = 1 + 80
    # The class ids of mask_rcnn_coco.h5 (mrcnn.data.coco_classes).
    CLASS_NAMES = list(COCO_CLASSES)
    # matterport trained with imgaug's Fliplr(0.5).
    AUGMENTATION = [{"HorizontalFlip": {"p": 0.5}}]
    # matterport's stages: heads to epoch 40, 4+ to 120, all layers at a tenth
    # of the rate to 160 (epochs here count per stage).
    TRAINING_SCHEDULE = [{"layers": "heads", "epochs": 40},
                         {"layers": "4+", "epochs": 80},
                         {"layers": "all", "epochs": 40, "learning_rate_factor": 0.1}]


class CocoDataset(COCODataset):
    """COCO instances; `load_coco(dataset_dir, subset, year)` is matterport's
    call, `load_coco(annotation_file, image_dir=...)` the reader's."""

    def load_coco(self, dataset_dir, subset=None, year=None, image_dir=None, **options):
        """matterport's loader when `subset` is given: the images of
        `<dataset_dir>/annotations/instances_<subset><year>.json` in
        `<dataset_dir>/<subset><year>/` (minival and valminusminival take
        their images from val<year>). Without it, `dataset_dir` is an
        annotation file (mrcnn.data.coco.COCODataset.load_coco). Call
        prepare() afterwards."""
        if subset is None:
            return super().load_coco(dataset_dir, image_dir=image_dir, **options)
        year = str(year or newest_year(dataset_dir))
        annotation_file, images = subset_files(dataset_dir, subset, year)
        if not os.path.isfile(annotation_file):
            raise DatasetError(f"{annotation_file}: no such file; the COCO layout is "
                               f"annotations/instances_<subset><year>.json with the images in "
                               f"<subset><year>/ (see samples/coco/README.md)", file=annotation_file)
        options.setdefault("source", "coco")
        return super().load_coco(annotation_file, image_dir=image_dir or images, **options)


def subset_files(dataset_dir, subset, year):
    """(annotation file, image folder) of a subset in matterport's layout."""
    image_subset = "val" if subset in ("minival", "valminusminival") else subset
    return (os.path.join(dataset_dir, ANNOTATIONS, f"instances_{subset}{year}.json"),
            os.path.join(dataset_dir, f"{image_subset}{year}"))


def annotation_years(dataset_dir):
    """The years of `<dataset_dir>/annotations/instances_<subset><year>.json`."""
    pattern = os.path.join(glob.escape(dataset_dir), ANNOTATIONS, "instances_*.json")
    found = (re.fullmatch(r"instances_[a-z]+(\d{4})\.json", os.path.basename(p))
             for p in glob.glob(pattern))
    return sorted({m.group(1) for m in found if m})


def newest_year(dataset_dir):
    years = annotation_years(dataset_dir)
    if not years:
        raise DatasetError(f"{dataset_dir}: no {ANNOTATIONS}/instances_<subset><year>.json; the "
                           "COCO layout is described in samples/coco/README.md")
    return years[-1]


def load_coco(path, config, year=None, **options):
    """The CLI's dataset loader: (path, config, **reader flags) -> datasets.

    A folder in matterport's layout gives the parts {"train": train<year>
    (+ valminusminival<year>, as matterport trained), "val": minival<year>
    when present, else val<year>}; "train" is None when only the validation
    files are there (enough to evaluate). Anything else is read as one COCO
    annotation file and split like the other samples' data. The classes are
    CLASS_NAMES, so that the class ids are those of mask_rcnn_coco.h5.
    """
    if config.CLASS_NAMES:
        options.setdefault("classes", list(config.CLASS_NAMES))
    options.setdefault("source", "coco")
    if not (os.path.isdir(path) and annotation_years(path)):
        return read_dataset(path, dataset_class=CocoDataset, format="coco", **options)
    year = str(year or newest_year(path))

    def part(*subsets):
        present = [s for s in subsets if os.path.isfile(subset_files(path, s, year)[0])]
        if not present:
            return None
        dataset = CocoDataset()
        for subset in present:
            dataset.load_coco(path, subset, year, **options)
        dataset.prepare()
        return dataset

    val = part("minival")
    if val is None:
        val = part("val")
    if val is None:
        raise DatasetError(f"{path}: no {ANNOTATIONS}/instances_val{year}.json (or minival): "
                           f"the validation images of {year}; give --year for another year "
                           f"({', '.join(annotation_years(path))})")
    return {"train": part("train", "valminusminival"), "val": val}


def load_coco_for_training(path, config, **options):
    """`load_coco`, refusing a folder without training annotations."""
    parts = load_coco(path, config, **options)
    if isinstance(parts, dict) and parts["train"] is None:
        year = options.get("year") or newest_year(path)
        raise DatasetError(f"{os.path.join(path, ANNOTATIONS, f'instances_train{year}.json')}: "
                           f"no such file; training needs the train{year} annotations and images "
                           "(the folder holds only the validation ones, enough to evaluate)")
    return parts


def translate_matterport_flags(argv):
    """matterport's `--model X` is --weights X; `--year Y` is the reader
    option year=Y."""
    translated = []
    argv = list(argv)
    while argv:
        item = argv.pop(0)
        flag, sep, value = item.partition("=")
        if flag in ("--model", "--year"):
            if not sep:
                value = argv.pop(0) if argv else ""
            translated += (["--weights", value] if flag == "--model"
                           else ["--option", f"year={value}"])
        else:
            translated.append(item)
    return translated


def main(argv=None):
    argv = translate_matterport_flags(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    loader = load_coco_for_training if command == "train" else load_coco
    return cli.main(argv, config_class=CocoConfig, dataset_loader=loader, prog="coco.py")


if __name__ == "__main__":
    sys.exit(main())
