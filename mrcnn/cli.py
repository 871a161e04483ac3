"""The `mrcnn` command: one entry point shared by all samples.

    mrcnn train    --dataset PATH [--config configs/x.yaml] [--weights coco|imagenet|last|none|PATH]
                   [--resume CHECKPOINT]
                   [--logs DIR] [--epochs N] [--layers heads|3+|4+|5+|all] [--set KEY=VALUE ...]
                   [--augment [PRESET]] [--val-fraction 0.2 --seed 0 | --val-dataset PATH]
    mrcnn evaluate --dataset PATH [--weights last] [--subset val|test|train] [--limit N] [--out DIR]
    mrcnn predict  (--images DIR|GLOB | --video FILE) --out DIR [--format coco|labelme]
                   [--weights last | --model EXPORT_DIR]
    mrcnn splash   --image FILE | --video FILE [--out FILE] [--weights last]
    mrcnn serve    --model EXPORT_DIR | --weights last|PATH [--host 127.0.0.1 --port 8080]
    mrcnn export   --out DIR [--weights last|PATH] [--overwrite]
    mrcnn validate <dataset> [--plot DIR|stats.png] [--config configs/x.yaml] [--set KEY=VALUE ...]
    mrcnn split    <annotations> --val 0.2 --seed 0
    mrcnn convert  <dataset> --to coco|labelme|via|yolo-seg OUT

A sample hands its Config class and dataset loader over:
`cli.main(argv, config_class=GnsConfig, dataset_loader=load_gns, prog="gns.py")`
(see mrcnn.commands.project). Each subcommand lives in an
`add_<name>_command(subparsers)` function that adds its parser and sets
`func`, a function of the parsed arguments (and the Project) that returns the
exit code; the work itself is done in mrcnn.commands.<name>. Bad flags and
bad values exit with code 2 and a usage message.
"""
import argparse
import logging
import os
import sys

from mrcnn.commands import UsageError
from mrcnn.commands.datasets import dataset_options
from mrcnn.commands.project import Project
from mrcnn.config import ConfigError
from mrcnn.data.errors import DatasetError
from mrcnn.data.read import FORMATS
from mrcnn.data.read_ahead import DEPTH as READ_AHEAD_DEPTH
from mrcnn.errors import TrainingDiverged, WeightsFileError

EXIT_OK, EXIT_PROBLEMS, EXIT_FAILED = 0, 1, 2
# What a shell reports for a process ended by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


# --- shared dataset arguments ------------------------------------------------

def add_dataset_arguments(parser, positional="dataset", required=True):
    """The flags that say how to read a dataset (see `read_dataset`).

    positional: the dataset argument's name; "--dataset" makes it a flag
    (train, evaluate), required unless `required` is False.
    """
    help_text = ("annotation file (COCO/VIA/LabelMe JSON, CVAT XML, Open Images CSV) "
                 "or dataset folder (VOC, mask folders, LabelMe, YOLO-seg, CVAT)")
    several = positional.startswith("-")
    if several:
        parser.add_argument(positional, required=required, metavar="PATH", action="append",
                            help=help_text + "; repeat it to train on several datasets as one "
                            "(classes matched by name after each one's --label-map)")
    else:
        parser.add_argument(positional, help=help_text)
    group = parser.add_argument_group("dataset")
    group.add_argument("--image-dir", help="folder the image paths are relative to")
    group.add_argument("--format", choices=list(FORMATS),
                       help="skip format detection")
    pairing = (" (with several --dataset: once for all, or once per --dataset, paired in the "
               "order given)") if several else ""
    group.add_argument("--label-map", action="append" if several else "store",
                       help="CSV source,source_label,target_label: rename, merge or drop "
                            "(empty target) labels" + pairing)
    group.add_argument("--source", action="append" if several else "store",
                       help="the dataset's name in the label map (default: the format)" + pairing)
    group.add_argument("--classes", help="comma-separated classes to keep, in this order")
    group.add_argument("--class-attribute", help="VIA: region attribute holding the class")
    group.add_argument("--class-name", help="mask folders: the one class name")
    group.add_argument("--class-pattern", help="mask folders: regex with a 'class' group on mask file names")
    group.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="any other reader option (repeatable), e.g. --option split=train")
    return parser


# --- validate ---------------------------------------------------------------

def add_validate_command(subparsers, project=None):
    parser = subparsers.add_parser(
        "validate", help="check every image and annotation of a dataset before training",
        description="Read every image and annotation, report problems with counts and examples, "
                    "and print class statistics. Exit code 1 when something would break training.")
    add_dataset_arguments(parser)
    parser.add_argument("--examples", type=int, default=5, help="examples shown per problem (default 5)")
    parser.add_argument("--plot", metavar="DIR|PNG",
                        help="save figures: class histograms, instances/images per class, instance "
                             "sizes against the anchor scales, a 3x3 grid of annotated samples "
                             "(resized, augmented with --augment); DIR gets histograms.png, "
                             "classes.png, sizes.png, samples.png; X.png gets the histograms and "
                             "X_classes.png, X_sizes.png, X_samples.png beside it")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--no-images", action="store_true", help="do not decode the images")
    parser.add_argument("--no-masks", action="store_true", help="do not draw the masks (no statistics)")
    parser.add_argument("--config", metavar="YAML",
                        help="settings file whose resize (IMAGE_MIN_DIM/IMAGE_MAX_DIM/"
                             "IMAGE_RESIZE_MODE) and anchors (RPN_ANCHOR_SCALES/RATIOS) the "
                             "instance sizes are compared with")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting (repeatable; YAML values), e.g. --set IMAGE_MAX_DIM=512")
    parser.add_argument("--augment", nargs="?", const="default", metavar="PRESET",
                        help="draw the --plot samples augmented with this preset, as train "
                             "--augment names them (default: the config's AUGMENTATION)")
    parser.set_defaults(func=_command("validate"))
    return parser


# --- split --------------------------------------------------------------------

def add_split_command(subparsers, project=None):
    parser = subparsers.add_parser(
        "split", help="deterministic train/val split of an annotation file, stratified by class",
        description="Write <name>_train / <name>_val annotation files (COCO, VIA, Open Images CSV) or "
                    "train.txt / val.txt image lists (LabelMe, VOC, mask folders). No image is copied.")
    add_dataset_arguments(parser, positional="annotations")
    parser.add_argument("--val", type=float, default=0.2, help="fraction of images for validation (0.2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--out-dir", help="where to write (default: beside the annotations)")
    parser.set_defaults(func=_command("split"))
    return parser


# --- convert -------------------------------------------------------------------

def add_convert_command(subparsers, project=None):
    from mrcnn.commands.convert import TARGETS

    parser = subparsers.add_parser(
        "convert", help="write a dataset of any readable format as COCO, LabelMe, VIA or YOLO-seg",
        description="Read SRC as `validate` reads it and write it to OUT (new or empty): "
                    "coco (OUT/instances.json), labelme (a JSON per image), via "
                    "(OUT/via_region_data.json) or yolo-seg (OUT/images, labels, data.yaml). "
                    "Masks become polygons; SRC is never written to.")
    add_dataset_arguments(parser, positional="src")
    parser.add_argument("--to", required=True, choices=list(TARGETS), help="the output format")
    parser.add_argument("out", metavar="OUT", help="folder to write (new or empty)")
    parser.add_argument("--overwrite", action="store_true", help="write into OUT although it holds files")
    parser.add_argument("--link", action="store_true",
                        help="yolo-seg: hard-link the images instead of copying them (no extra "
                             "space; an edit in place of one changes both)")
    parser.set_defaults(func=_command("convert"))
    return parser


# --- flags shared by the model commands --------------------------------------------

def _number_type(cast, accept, requirement):
    """An argparse type: `cast(text)`, refused unless `accept(value)`."""
    def parse(text):
        try:
            value = cast(text)
        except ValueError:
            kind = "an integer" if cast is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{value} is not {requirement}")
        return value
    parse.__name__ = f"{cast.__name__} {requirement}"
    return parse


positive_int = _number_type(int, lambda v: v >= 1, ">= 1")
fraction = _number_type(float, lambda v: 0 <= v < 1, "in [0, 1)")
score = _number_type(float, lambda v: 0 <= v <= 1, "in [0, 1]")


def layers_value(text):
    """argparse type: a `layers=` name (heads, 3+, 4+, 5+, all) or a regex."""
    from mrcnn.training.layers import check_layer_selection
    from mrcnn.training.schedule import check_schedule

    try:
        check_schedule([{"layers": text, "epochs": 1}])
    except ConfigError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither heads, 3+, 4+, 5+, all nor a "
                                         "regular expression of layer names") from None
    try:
        # Refused here, before a network is built (the layers of every
        # registered backbone).
        check_layer_selection(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} matches no layer of the network; use heads, "
                                         "3+, 4+, 5+, all or a regex such as 'res5.*|mrcnn_.*'"
                                         ) from None
    return text


def add_model_arguments(parser, weights_default):
    """--weights, --logs, --config, --set: which network, with which settings."""
    parser.add_argument("--weights", default=weights_default, metavar="coco|imagenet|last|none|PATH",
                        help=f"weights to start from (default {weights_default}): matterport's COCO "
                             "file, the ImageNet backbone, the newest checkpoint of this NAME under "
                             "--logs (train: its run resumed exactly), none, or an .h5 file "
                             "(train: a new run initialised from it)")
    parser.add_argument("--logs", default=None, metavar="DIR",
                        help="folder of the training runs and checkpoints (default: the project's logs/)")
    parser.add_argument("--config", metavar="YAML", help="settings file, e.g. configs/gns.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting (repeatable; YAML values), e.g. --set IMAGE_MAX_DIM=512")


def add_split_arguments(parser):
    """How train and evaluate split a dataset (mrcnn.commands.datasets)."""
    group = parser.add_argument_group("train/val split")
    group.add_argument("--val-dataset", metavar="PATH", help="validation images from this dataset")
    group.add_argument("--val-fraction", type=fraction, default=0.2,
                       help="without split folders/files: fraction of images held out (0.2)")
    group.add_argument("--seed", type=int, default=0, help="seed of that split (0)")


def _command(name, with_project=False):
    """func of a command: mrcnn.commands.<name>.run_<name>(args), or
    run_<name>(args, project) for the model commands (with_project)."""
    def run(args):
        import importlib

        command = getattr(importlib.import_module(f"mrcnn.commands.{name}"), f"run_{name}")
        return command(args, args.project) if with_project else command(args)
    return run


# --- train / evaluate / predict / splash ------------------------------------------

def add_model_command(subparsers, name, help_text, description, weights_default, project=None,
                      dataset=False):
    """A subcommand that runs a network: its parser with --weights, --logs,
    --config, --set (and --dataset with the reader flags when `dataset`),
    running mrcnn.commands.<name>.run_<name>."""
    parser = subparsers.add_parser(name, help=help_text, description=description)
    if dataset:
        add_dataset_arguments(parser, "--dataset",
                              required=project is None or project.dataset_required)
    add_model_arguments(parser, weights_default=weights_default)
    parser.set_defaults(func=_command(name, with_project=True))
    return parser


def add_train_command(subparsers, project=None):
    parser = add_model_command(
        subparsers, "train", "train (staged: Config.TRAINING_SCHEDULE), or continue with --weights=last",
        "Train on a dataset, stage by stage as Config.TRAINING_SCHEDULE says (heads, then all "
        "layers, on pretrained weights; all layers from scratch). A checkpoint per epoch goes to "
        "<logs>/<name><YYYYmmddTHHMM>/.", "none", project, dataset=True)
    parser.add_argument("--resume", metavar="CHECKPOINT",
                        help="continue the run of this checkpoint (its folder, epoch count and "
                             "optimizer), refused when the network or classes differ; "
                             "--weights=last continues the newest run, --weights=PATH starts a "
                             "new run from a file")
    parser.add_argument("--epochs", type=positive_int,
                        help="total epochs to reach, finished ones included (default: the schedule's)")
    parser.add_argument("--layers", type=layers_value, help="train these layers for the whole run "
                        "instead of the schedule: heads, 3+, 4+, 5+, all or a regex")
    parser.add_argument("--ignore-data-errors", action="store_true",
                        help="train although `mrcnn validate` finds errors in the dataset "
                             "(what cannot be read is left out)")
    parser.add_argument("--augment", nargs="?", const="default",
                        choices=["light", "default", "heavy", "none"],
                        help="augment training images (sets AUGMENTATION): light (flips, small "
                             "brightness), default (flips, scale, brightness/contrast), heavy "
                             "(+ rotation, shifts, crops, colour, blur/noise) or none; a YAML "
                             "AUGMENTATION list names albumentations transforms instead")
    parser.add_argument("--repeat-factor-threshold", type=_number_type(float, lambda v: 0 < v <= 1,
                                                                       "in (0, 1]"),
                        metavar="T", help="repeat-factor sampling against class imbalance: images "
                        "of a class found in a fraction f < T of the images repeat sqrt(T/f) "
                        "times per pass, e.g. 0.001 (sets REPEAT_FACTOR_THRESHOLD)")
    add_split_arguments(parser)
    return parser


def add_evaluate_command(subparsers, project=None):
    parser = add_model_command(
        subparsers, "evaluate", "COCO mAP and matterport's mAP@0.5 on the held-out images",
        "Detect on the val part (test when the data has one), split as train split it, and print "
        "COCO metrics per class.", "last", project, dataset=True)
    parser.add_argument("--subset", choices=["train", "val", "test"],
                        help="the part to evaluate (default: test if present, else val)")
    parser.add_argument("--limit", type=positive_int, help="evaluate the first N images only")
    parser.add_argument("--iou-type", choices=["segm", "bbox", "both"], default="segm",
                        help="masks (segm, default), boxes, or both")
    parser.add_argument("--min-confidence", type=score, metavar="SCORE",
                        help="drop detections scoring less before scoring the rest (default 0: "
                             "AP ranks every detection, as COCO defines it; an explicit "
                             "--set DETECTION_MIN_CONFIDENCE=... is used if given)")
    parser.add_argument("--out", metavar="DIR", help="write metrics.json, coco_results.json "
                                                     "and the PNGs (default: beside the checkpoint)")
    parser.add_argument("--worst", type=_number_type(int, lambda v: v >= 0, ">= 0"), default=8,
                        metavar="N", help="show the N images with the most errors in "
                                          "worst_images.png (default 8; 0: none)")
    add_split_arguments(parser)
    return parser


def add_predict_command(subparsers, project=None):
    parser = add_model_command(
        subparsers, "predict", "detect on image files or a video: drawings + COCO results, "
        "LabelMe JSONs, or a drawn MP4 + JSON lines",
        "Detect on images. --format coco: <out>/<stem>.png drawings and coco_results.json; "
        "--format labelme: <out>/<stem>.json polygons to correct in labelme (model-assisted "
        "annotation). Images that cannot be read are named and skipped (exit code 1). "
        "--video: <out>/<stem>.mp4 with every frame drawn and <out>/<stem>.jsonl, one line "
        "of detections per frame.", "last", project)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", metavar="DIR|GLOB", help="a folder, a glob or a file")
    source.add_argument("--video", metavar="FILE", help="a video file (anything OpenCV reads)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--format", choices=["coco", "labelme"], default="coco", help="output format")
    parser.add_argument("--classes", metavar="A,B",
                        help="comma-separated class names of the model to keep in the outputs "
                             "(default: all)")
    parser.set_defaults(weights=None)  # "last" unless --model is given
    parser.add_argument("--model", metavar="EXPORT_DIR",
                        help="a folder written by `mrcnn export` instead of --weights: no "
                             "network to build, a faster start")
    parser.add_argument("--read-ahead", type=int, default=READ_AHEAD_DEPTH, metavar="N",
                        help="--images: decode up to N images ahead and write the drawings in "
                             f"a thread while the model detects (default {READ_AHEAD_DEPTH}; "
                             "0: one image after the other)")
    return parser


def add_splash_command(subparsers, project=None):
    parser = add_model_command(
        subparsers, "splash", "colour splash of the detected objects on an image or a video",
        "matterport's colour splash: detected objects in colour, the rest grey.", "last", project)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", metavar="FILE", help="an image file")
    source.add_argument("--video", metavar="FILE", help="a video file (anything OpenCV reads)")
    parser.add_argument("--out", metavar="FILE", help="output file (default splash_<time>.png/.avi); "
                                                     "a video's extension picks .avi (MJPG) or .mp4")
    return parser


def add_serve_command(subparsers, project=None):
    parser = add_model_command(
        subparsers, "serve", "HTTP service: POST /v1/predict (JSON detections) and a web page at /",
        "Serve an exported model (--model) or a checkpoint (--weights, default last) over HTTP "
        "until SIGTERM or Ctrl+C: POST /v1/predict, GET /healthz, and a web page at /.",
        "last", project)
    parser.set_defaults(weights=None)  # "last" unless --model is given
    parser.add_argument("--model", metavar="EXPORT_DIR", help="a folder written by `mrcnn export`")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (8080; 0 picks a free one)")
    parser.add_argument("--max-upload-mb", type=_number_type(float, lambda v: v > 0, "> 0"),
                        default=20.0, metavar="N", help="largest upload accepted, MB (20)")
    parser.add_argument("--max-pixels", type=positive_int, default=50_000_000, metavar="N",
                        help="largest image accepted, width x height (50000000)")
    parser.add_argument("--threads", type=positive_int, default=4,
                        help="request threads (4); the model runs one request at a time")
    return parser


def add_export_command(subparsers, project=None):
    parser = add_model_command(
        subparsers, "export", "a checkpoint as a TensorFlow SavedModel (resizing and unmolding inside)",
        "Write a SavedModel that takes a uint8 image of any size (or JPEG/PNG bytes) and returns "
        "boxes, class ids and names, scores and masks at the image's size; "
        "<out>/mrcnn_export.json describes it. See mrcnn.export.", "last", project)
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write (new or empty)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it holds files")
    return parser


# --- entry point ------------------------------------------------------------------

COMMANDS = [add_train_command, add_evaluate_command, add_predict_command, add_splash_command,
            add_serve_command, add_export_command, add_validate_command, add_split_command,
            add_convert_command]


def build_parser(project=None):
    project = project or Project()
    parser = argparse.ArgumentParser(prog=project.prog, description="Mask R-CNN for Keras 3: datasets, "
                                     "training, evaluation and inference from the command line.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log INFO messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in COMMANDS:
        sub = add_command(subparsers, project)
        sub.set_defaults(_parser=sub, project=project)
    return parser


def import_tensorflow_quietly():
    """Import TensorFlow with its start-up lines (CPU features, oneDNN notices)
    kept off the terminal: they go to a temporary file, shown only when the
    import fails. TensorFlow's C++ code writes them straight to file
    descriptor 2, past sys.stderr and logging, and TF_CPP_MIN_LOG_LEVEL
    hides the CPU-feature line but not the oneDNN notice; only pointing
    descriptor 2 elsewhere during the import hides that, without turning
    oneDNN (and its speed) off."""
    if "tensorflow" in sys.modules:
        return
    import tempfile

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


MODEL_COMMANDS = ("train", "evaluate", "predict", "splash", "serve", "export")


def main(argv=None, config_class=None, dataset_loader=None, inference_config_class=None,
         prog=None, logs_dir=None, dataset_required=True):
    """Run the `mrcnn` command; returns the exit code (0 ok, 1 problems found,
    2 failure). Usage errors (unknown flags, bad values) exit with code 2
    through SystemExit, after the usage message.

    A sample passes its Config subclass and dataset loader (see
    mrcnn.commands.project.Project); the generic command uses `Config` with
    --config/--set and `read_dataset`.
    """
    from mrcnn.data.read import generic_loader

    project = Project(config_class=config_class, dataset_loader=dataset_loader or generic_loader,
                      inference_config_class=inference_config_class, prog=prog or "mrcnn",
                      logs_dir=logs_dir, dataset_required=dataset_required)
    parser = build_parser(project)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_FAILED
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    levels = {name: logging.getLogger(name).level
              for name in ("mrcnn", "mrcnn.data", "mrcnn.data.builder")}
    try:
        if args.command in MODEL_COMMANDS:
            _prepare_model_command(args, project)
        return int(args.func(args) or EXIT_OK)
    except (UsageError, ConfigError) as e:
        args._parser.error(str(e))
    except (DatasetError, OSError, WeightsFileError, TrainingDiverged) as e:
        print(f"{project.prog} {args.command}: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        # `train` catches it itself to say where the run can continue from.
        print(f"{project.prog} {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        # main() also runs in-process (samples, tests): leave logging as it was.
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _prepare_model_command(args, project):
    """Defaults that depend on the project, quiet TensorFlow, and the log
    level: train shows Keras' progress bar and mrcnn's INFO lines (the model
    logs at INFO what matterport printed)."""
    args.logs = os.path.abspath(args.logs or project.default_logs)
    if os.path.exists(args.logs) and not os.path.isdir(args.logs):
        raise UsageError(f"--logs {args.logs}: is a file; give the folder of the training runs "
                         "(it is created when missing)")
    args.reader_options = dataset_options(args) if hasattr(args, "image_dir") else {}
    if getattr(args, "repeat_factor_threshold", None) is not None:
        # After the checkpoint's settings, as --set is: the flag wins on resume too.
        args.set = list(args.set) + [f"REPEAT_FACTOR_THRESHOLD={args.repeat_factor_threshold!r}"]
    if not args.verbose:
        import_tensorflow_quietly()
    if args.command == "train":
        logging.getLogger("mrcnn").setLevel(logging.INFO)
        # The readers' problems are summarised once by the command.
        logging.getLogger("mrcnn.data").setLevel(logging.WARNING if args.verbose else logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
