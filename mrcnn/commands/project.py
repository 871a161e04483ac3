"""What a sample hands to the shared CLI, and the Config a command runs with.

A sample is a Config subclass and a dataset loader:

    def load_gns(path, config, **options):      # -> a prepared Dataset
        return read_dataset(path, dataset_class=GnsDataset, **options)

    cli.main(argv, config_class=GnsConfig, dataset_loader=load_gns, prog="gns.py")

The generic `mrcnn train --config configs/gns.yaml` uses `Config` and
`read_dataset` (format detected) instead.

The settings of a command, later ones winning:
  1. the Config class (the sample's, or `Config`),
  2. `--config FILE.yaml`,
  3. the checkpoint's own settings (saved in every checkpoint) when the weights
     are a checkpoint: for inference always (the file defines the network),
     for training when it continues the run (--weights=last, --resume),
  4. `--set KEY=VALUE` (values are YAML: 64, [8, 16], null, resnet50),
  5. inference: one image per batch (IMAGES_PER_GPU = GPU_COUNT = 1).
"""
import dataclasses
import logging
import os
from typing import Callable, Optional

from mrcnn.commands import UsageError
from mrcnn.config import DERIVED_FIELDS, Config, ConfigError

logger = logging.getLogger(__name__)

# NAME of the generic `mrcnn` command's runs when no config names them.
DEFAULT_NAME = "mrcnn"
# The repository of this package when it runs from a checkout (pip install -e,
# or a sample script that put it on sys.path).
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_logs_dir():
    """The checkout's logs/ (git-ignored, kept with .gitkeep), so that a sample
    writes its runs to the same place from any working directory; ./logs for
    an installed package."""
    logs = os.path.join(CHECKOUT, "logs")
    if os.path.isdir(logs) and os.path.isfile(os.path.join(CHECKOUT, "setup.py")):
        return logs
    return os.path.join(os.getcwd(), "logs")


@dataclasses.dataclass
class Project:
    """A sample's hooks into the shared CLI.

    config_class: the sample's Config subclass (None: `Config`, settings
        from --config/--set).
    dataset_loader: (path, config, **reader options) -> a prepared Dataset,
        or a dict {"train": Dataset, "val": Dataset, ["test": Dataset]} for
        data that comes already split (shapes). None: `read_dataset`.
    inference_config_class: the Config for evaluate/predict/splash (None:
        config_class).
    prog: the program name in usage messages.
    logs_dir: the default --logs (None: the checkout's logs/, see
        default_logs_dir).
    dataset_required: whether train/evaluate need --dataset (False for
        generated data).
    """
    config_class: Optional[type] = None
    dataset_loader: Optional[Callable] = None
    inference_config_class: Optional[type] = None
    prog: str = "mrcnn"
    logs_dir: Optional[str] = None
    dataset_required: bool = True

    @property
    def default_logs(self):
        return self.logs_dir or default_logs_dir()


def parse_set_values(items):
    """["KEY=VALUE", ...] -> {KEY: value}, values read as YAML scalars/lists.

    Raises UsageError for an item without "=" or with an unreadable value.
    """
    import yaml

    values = {}
    for item in items or []:
        key, sep, text = str(item).partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: write it as KEY=VALUE, e.g. --set IMAGE_MAX_DIM=512")
        try:
            values[key.strip().upper()] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as e:
            raise UsageError(f"--set {item!r}: the value is not valid YAML ({e})") from e
    return values


def read_yaml_settings(path):
    """The settings of a config YAML file as a dict (derived fields dropped)."""
    import yaml

    if not os.path.isfile(path):
        raise UsageError(f"--config {path}: no such file (the YAML files of the samples are in configs/)")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of setting names to values, "
                          f"got {type(data).__name__}")
    return {k: v for k, v in data.items() if str(k).upper() not in DERIVED_FIELDS}


def checkpoint_settings(path):
    """The settings saved in one of this project's checkpoints (root
    attribute `mrcnn_config`), or None for other weight files."""
    import yaml

    from mrcnn.training.checkpoints import read_checkpoint_config

    text = read_checkpoint_config(path)
    if text is None:
        return None
    data = yaml.safe_load(text) or {}
    settings = {k: v for k, v in data.items() if str(k).upper() not in DERIVED_FIELDS}
    if "RPN_CONV_CHANNELS" not in settings and "TOP_DOWN_PYRAMID_SIZE" in settings:
        # Checkpoints written before RPN_CONV_CHANNELS existed: the RPN was
        # then twice the pyramid's width.
        settings["RPN_CONV_CHANNELS"] = 2 * int(settings["TOP_DOWN_PYRAMID_SIZE"])
    return settings


def build_config(project, args, mode, checkpoint=None):
    """The Config of a command (see the module docstring for the order).

    project: Project. args: parsed arguments with `config` (YAML path or
        None) and `set` (list of KEY=VALUE).
    mode: "training" or "inference".
    checkpoint: settings dict of the weights file (`checkpoint_settings`)
        to apply, or None.
    Returns: the Config, not yet validated (class names and NUM_CLASSES may
    still come from the dataset).
    """
    cls = project.config_class or Config
    if mode == "inference" and project.inference_config_class is not None:
        cls = project.inference_config_class
    config = cls()
    if getattr(args, "config", None):
        try:
            config.update(read_yaml_settings(args.config))
        except ConfigError as e:
            raise ConfigError(f"{args.config}: {e}") from e
    if checkpoint:
        # Settings of newer versions that this Config does not know are left out.
        config.update(checkpoint, strict=False)
    config.update(parse_set_values(getattr(args, "set", None)))
    if mode == "inference":
        config.GPU_COUNT = 1
        config.IMAGES_PER_GPU = 1
    if not config.NAME:
        config.NAME = DEFAULT_NAME
    return config


def reconcile_classes(config, class_names):
    """Check (or fill in) CLASS_NAMES and NUM_CLASSES from a dataset's classes.

    class_names: the dataset's class_names ("BG" first).
    CLASS_NAMES None takes the dataset's; NUM_CLASSES 1 (Config's default,
    which cannot train) takes their count + 1. Raises ConfigError naming the
    setting when the dataset disagrees with the config.
    """
    names = [str(n) for n in list(class_names)[1:]]
    if not names:
        raise ConfigError("the dataset has no classes; check the annotation file and --classes")
    if config.CLASS_NAMES is None:
        config.CLASS_NAMES = names
    elif [str(n) for n in config.CLASS_NAMES] != names:
        raise ConfigError(
            f"CLASS_NAMES is {list(config.CLASS_NAMES)} but the dataset's classes are {names}; "
            "the class ids would not match. Fix the annotations, pass --classes in the "
            "config's order, or --set CLASS_NAMES=null to take the dataset's")
    if config.NUM_CLASSES == 1:
        config.NUM_CLASSES = len(names) + 1
    elif config.NUM_CLASSES != len(names) + 1:
        raise ConfigError(
            f"NUM_CLASSES is {config.NUM_CLASSES} but the dataset has {len(names)} classes "
            f"{names} (+ BG = {len(names) + 1}); set NUM_CLASSES in the config or "
            f"--set NUM_CLASSES={len(names) + 1}")
    return config
