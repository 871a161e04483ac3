"""`mrcnn validate`: every image and annotation of a dataset checked before
training, with counts, examples, class statistics, and how the instance
sizes fit the config's anchors."""
import copy
import json
import logging

from mrcnn.commands import UsageError
from mrcnn.commands.datasets import dataset_options
from mrcnn.commands.project import Project, build_config
from mrcnn.data.augmentation import augmentation_from_config
from mrcnn.data.validate import validate_dataset


def validate_config(args):
    """The Config whose resize and anchors the dataset is compared with:
    the project's (a sample's) Config, --config YAML, --set, --augment."""
    config = build_config(getattr(args, "project", None) or Project(), args, "training")
    if getattr(args, "augment", None):
        config.AUGMENTATION = None if args.augment == "none" else args.augment
    # The classes come from the dataset, not from the config.
    checked = copy.copy(config)
    if not isinstance(checked.NUM_CLASSES, int) or checked.NUM_CLASSES < 2:
        checked.NUM_CLASSES = 2
        checked.CLASS_NAMES = None
    checked.validate()
    return config


def run_validate(args):
    """`mrcnn validate`: prints the report; returns its exit code (1 when
    something would break training)."""
    # The report lists what the reader would log; say it once.
    logging.getLogger("mrcnn.data.builder").setLevel(logging.ERROR)
    options = dataset_options(args)
    config = validate_config(args)
    try:
        augmentation = augmentation_from_config(config)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    report = validate_dataset(args.dataset, check_images=not args.no_images,
                              check_masks=not args.no_masks, max_examples=args.examples,
                              progress=True, config=config, **options)
    print(report.to_text())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.to_dict(), f, indent=2)
    if args.plot and report.statistics is not None:
        name = config.AUGMENTATION if isinstance(config.AUGMENTATION, str) else None
        # --no-images: no sample grid either.
        written = report.plot_all(args.plot, None if args.no_images else config, augmentation,
                                  augmentation_name=name)
        for figure, path in written.items():
            print(f"{figure.capitalize()}: {path}")
    return report.exit_code
