"""The `mrcnn` command: one entry point shared by all samples.

    mrcnn validate <dataset> [--plot stats.png]
    mrcnn split <annotations> --val 0.2 --seed 0

Each subcommand lives in an `add_<name>_command(subparsers)` function that
adds its parser and sets `func`, a function of the parsed arguments that
returns the exit code. New subcommands (train, evaluate, predict, splash,
export) are added by appending their function to `COMMANDS`;
`add_dataset_arguments` / `dataset_options` give every command the same
dataset flags.
"""
import argparse
import json
import logging
import sys

from mrcnn.data.errors import DatasetError

EXIT_OK, EXIT_PROBLEMS, EXIT_FAILED = 0, 1, 2


# --- shared dataset arguments ------------------------------------------------

def add_dataset_arguments(parser, positional="dataset"):
    """The flags that say how to read a dataset (see `read_dataset`)."""
    parser.add_argument(positional, help="annotation file (COCO/VIA/LabelMe JSON, Open Images CSV) "
                                         "or dataset folder (VOC, mask folders, LabelMe)")
    group = parser.add_argument_group("dataset")
    group.add_argument("--image-dir", help="folder the image paths are relative to")
    group.add_argument("--format", choices=["via", "coco", "labelme", "voc", "masks", "openimages"],
                       help="skip format detection")
    group.add_argument("--label-map", help="CSV source,source_label,target_label")
    group.add_argument("--source", help="the dataset's name in the label map (default: the format)")
    group.add_argument("--classes", help="comma-separated classes to keep, in this order")
    group.add_argument("--class-attribute", help="VIA: region attribute holding the class")
    group.add_argument("--class-name", help="mask folders: the one class name")
    group.add_argument("--class-pattern", help="mask folders: regex with a 'class' group on mask file names")
    group.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="any other reader option (repeatable), e.g. --option split=train")
    return parser


def dataset_options(args):
    """The `read_dataset` keyword arguments of parsed dataset flags."""
    options = {}
    for flag in ("image_dir", "format", "label_map", "source", "class_attribute", "class_name",
                 "class_pattern"):
        value = getattr(args, flag, None)
        if value is not None:
            options[flag] = value
    if getattr(args, "classes", None):
        options["classes"] = [c.strip() for c in args.classes.split(",") if c.strip()]
    for item in getattr(args, "option", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DatasetError(f"--option {item!r}: write it as KEY=VALUE")
        options[key.strip().replace("-", "_")] = value
    return options


# --- validate ---------------------------------------------------------------

def add_validate_command(subparsers):
    parser = subparsers.add_parser(
        "validate", help="check every image and annotation of a dataset before training",
        description="Read every image and annotation, report problems with counts and examples, "
                    "and print class statistics. Exit code 1 when something would break training.")
    add_dataset_arguments(parser)
    parser.add_argument("--examples", type=int, default=5, help="examples shown per problem (default 5)")
    parser.add_argument("--plot", metavar="PNG", help="save histograms of the class statistics")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--no-images", action="store_true", help="do not decode the images")
    parser.add_argument("--no-masks", action="store_true", help="do not draw the masks (no statistics)")
    parser.set_defaults(func=run_validate)
    return parser


def run_validate(args):
    from mrcnn.data.validate import validate_dataset

    # The report lists what the reader would log; say it once.
    logging.getLogger("mrcnn.data.builder").setLevel(logging.ERROR)
    options = dataset_options(args)
    report = validate_dataset(args.dataset, check_images=not args.no_images, check_masks=not args.no_masks,
                              max_examples=args.examples, **options)
    print(report.to_text())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.to_dict(), f, indent=2)
    if args.plot and report.statistics is not None:
        print(f"Histograms: {report.plot(args.plot)}")
    return report.exit_code


# --- split --------------------------------------------------------------------

def add_split_command(subparsers):
    parser = subparsers.add_parser(
        "split", help="deterministic train/val split of an annotation file, stratified by class",
        description="Write <name>_train / <name>_val annotation files (COCO, VIA, Open Images CSV) or "
                    "train.txt / val.txt image lists (LabelMe, VOC, mask folders). No image is copied.")
    add_dataset_arguments(parser, positional="annotations")
    parser.add_argument("--val", type=float, default=0.2, help="fraction of images for validation (0.2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--out-dir", help="where to write (default: beside the annotations)")
    parser.set_defaults(func=run_split)
    return parser


def run_split(args):
    from mrcnn.data.split import split_annotations

    logging.getLogger("mrcnn.data.builder").setLevel(logging.ERROR)
    if not 0 <= args.val < 1:
        raise DatasetError(f"--val must be in [0, 1), got {args.val}")
    result = split_annotations(args.annotations, val=args.val, seed=args.seed, out_dir=args.out_dir,
                               **dataset_options(args))
    print(result.to_text())
    return EXIT_OK


# --- entry point ------------------------------------------------------------------

COMMANDS = [add_validate_command, add_split_command]


def build_parser():
    parser = argparse.ArgumentParser(prog="mrcnn", description="Mask R-CNN for Keras 3: datasets, "
                                     "training, evaluation and inference from the command line.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log INFO messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv=None):
    """Run the `mrcnn` command; returns the exit code (0 ok, 1 problems found,
    2 failure)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_FAILED
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or EXIT_OK)
    except (DatasetError, OSError) as e:
        print(f"mrcnn {args.command}: {e}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
