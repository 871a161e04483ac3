"""From command-line flags to a MaskRCNN with its weights.

`--weights` is one of coco | imagenet | last | none | PATH, resolved and
loaded by mrcnn.weights (`resolve_weights`, `load_initial_weights`): COCO by
name with the class-specific heads skipped when the class count differs,
ImageNet into the backbone, `last` (the newest checkpoint of the config's
NAME under --logs) resumed exactly.
"""
import logging
import os

from mrcnn.commands import UsageError
from mrcnn.commands.project import build_config, checkpoint_settings
from mrcnn.training.checkpoints import continued_run, find_last_checkpoint

logger = logging.getLogger(__name__)

NAMED_WEIGHTS = ("coco", "imagenet", "last", "none")


def check_weights_flag(spec):
    """Refuse a --weights value that is neither a name nor a file."""
    if spec is None or str(spec).lower() in NAMED_WEIGHTS:
        return
    if not os.path.isfile(os.path.expanduser(str(spec))):
        raise UsageError(f"--weights={spec}: no such file; give coco, imagenet, last, none "
                         "or the path of an .h5 weight file")
    from mrcnn.weights import check_weights_file

    # An unreadable file is named before the network is built.
    check_weights_file(os.path.expanduser(str(spec)))


def weights_file(spec, config, logs):
    """The file behind --weights when it is known without building the model
    (`last` and paths), else None (coco, imagenet: looked up when loading;
    none)."""
    key = str(spec or "none").lower()
    if key == "last":
        return find_last_checkpoint(logs, config.NAME)
    if key in NAMED_WEIGHTS:
        return None
    return os.path.abspath(os.path.expanduser(str(spec)))


def configure(project, args, mode):
    """The Config of a command and the weights file it will load.

    Training continues a run only when asked to: `--weights=last` (the newest
    run of this NAME under --logs) or `--resume PATH` (that checkpoint's
    run); any other file starts a new run under --logs, initialised from it.
    The checkpoint's own settings are applied for inference, and for training
    when it continues the run (see mrcnn.commands.project).
    Returns: (config, path or None, continues_run: bool).
    """
    resume_path = getattr(args, "resume", None)
    if resume_path and str(args.weights or "none").lower() != "none":
        raise UsageError(f"--resume {resume_path} and --weights={args.weights}: give one; "
                         "--resume continues a run, --weights starts a new one from a file")
    check_weights_flag(args.weights)
    first = build_config(project, args, mode)
    if resume_path:
        path = os.path.abspath(os.path.expanduser(resume_path))
        if not os.path.isfile(path):
            raise UsageError(f"--resume {resume_path}: no such file")
        if not continued_run(path, first.NAME):
            name = first.NAME.lower()
            raise UsageError(f"--resume {resume_path}: not a checkpoint of a run of NAME "
                             f"{first.NAME!r} (<logs>/{name}YYYYmmddTHHMM/mask_rcnn_{name}_NNNN.h5); "
                             "--weights=PATH starts a new run from it")
        continues = True
    else:
        path = weights_file(args.weights, first, args.logs)
        if path is None:
            return first, None, False
        continues = mode == "training" and str(args.weights).lower() == "last"
    settings = checkpoint_settings(path) if (mode == "inference" or continues) else None
    if not settings:
        return first, path, continues
    config = build_config(project, args, mode, checkpoint=settings)
    return config, path, continues


def check_continuation(config, path):
    """Refuse to continue the run of checkpoint `path` with a config whose
    network or classes differ from the run's (UsageError naming them)."""
    from mrcnn.training.checkpoints import read_checkpoint_config
    from mrcnn.training.resume import architecture_differences

    differences = architecture_differences(read_checkpoint_config(path), config)
    if differences:
        raise UsageError(f"cannot continue the run of {path}: the network or its classes differ "
                         f"from the run's ({'; '.join(differences)}); start a new run from the "
                         "file with --weights=PATH instead")


def load_model(mode, config, args, path, continues=False):
    """Build the MaskRCNN and load --weights (continuing the file's run when
    `continues`, else a new run starts from it). Returns (model, LoadReport
    or None)."""
    from mrcnn.model import MaskRCNN
    from mrcnn.weights import load_initial_weights

    model = MaskRCNN(mode=mode, config=config, model_dir=args.logs)
    spec = path or args.weights or "none"
    continue_run = bool(continues) if mode == "training" else None
    report = load_initial_weights(model, spec, continue_run=continue_run)
    # mrcnn.weights logs the same line at INFO (shown by train and -v).
    if report is not None and not logging.getLogger("mrcnn.weights").isEnabledFor(logging.INFO):
        print(f"Weights: {report.summary()}")
    # MaskRCNN logs the same line at INFO when it builds the network.
    if not logging.getLogger("mrcnn").isEnabledFor(logging.INFO):
        print(f"Computing in {model.precision.describe()}")
    return model, report


def load_exported(args):
    """The exported SavedModel of --model EXPORT_DIR (mrcnn.export.ExportedModel),
    refusing --weights, --config and --set beside it (UsageError)."""
    if args.weights is not None:
        raise UsageError("--model and --weights: give one (an exported folder or a checkpoint)")
    if getattr(args, "config", None) or getattr(args, "set", None):
        raise UsageError("--config/--set: an exported model carries its settings; "
                         "they apply to --weights only")
    if not os.path.isdir(args.model):
        raise UsageError(f"--model {args.model}: no such folder; give the folder that "
                         "`mrcnn export` wrote")
    from mrcnn.export import ExportedModel

    return ExportedModel(args.model)


def backbone_loaded(report):
    """Whether a LoadReport put pretrained values into the backbone (conv1,
    res*): only then does training the heads alone make sense."""
    if report is None:
        return False
    loaded = getattr(report, "loaded", None)
    if loaded is None:
        return True
    return any(p.split("/")[0] == "conv1" or p.startswith("res") for p in loaded)
