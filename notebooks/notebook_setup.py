"""What the notebooks share: where the repository, the data and the runs are,
which sample they show, quick mode, and a checkpoint to look at.

- Data: the guns-and-swords sample on `../shared/data/gns` beside the
  repository when it exists, else the synthetic shapes (always available).
- Quick mode (`MRCNN_NOTEBOOK_QUICK=1`, set by the tests): a tiny network on
  64-pixel images and fewer images shown, so a notebook runs in seconds on a
  CPU.
- Runs: `MRCNN_NOTEBOOK_LOGS`, else the repository's `logs/`. When the
  sample has no checkpoint there yet (a fresh clone), `last_checkpoint()`
  trains a small demonstration model first, with the sample's own command.
"""
import importlib.util
import os
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mrcnn.cli import import_tensorflow_quietly  # noqa: E402

# TensorFlow's start-up lines (oneDNN notices) would fill the first cell;
# without ipywidgets tqdm falls back to a text bar after a warning.
import_tensorflow_quietly()
warnings.filterwarnings("ignore", message="IProgress not found")

from mrcnn.commands.datasets import load_parts  # noqa: E402
from mrcnn.commands.project import checkpoint_settings  # noqa: E402
from mrcnn.training.checkpoints import find_last_checkpoint  # noqa: E402

QUICK = os.environ.get("MRCNN_NOTEBOOK_QUICK", "") not in ("", "0")
SHARED_DATA = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
LOGS = os.path.abspath(os.environ.get("MRCNN_NOTEBOOK_LOGS") or os.path.join(ROOT, "logs"))

# A network small enough to train and run in seconds on a CPU (quick mode
# and the demonstration model of a fresh clone). MRCNN_NOTEBOOK_BACKBONE
# names another registered backbone (the tests' "tiny" one).
SMALL_NETWORK = {
    "BACKBONE": os.environ.get("MRCNN_NOTEBOOK_BACKBONE") or "resnet50", "IMAGE_MIN_DIM": 64, "IMAGE_MAX_DIM": 64,
    "RPN_ANCHOR_SCALES": [8, 16, 32, 64, 128], "PRE_NMS_LIMIT": 500,
    "TRAIN_ROIS_PER_IMAGE": 16, "POST_NMS_ROIS_TRAINING": 64, "POST_NMS_ROIS_INFERENCE": 32,
    "FPN_CLASSIF_FC_LAYERS_SIZE": 64, "TOP_DOWN_PYRAMID_SIZE": 32, "RPN_CONV_CHANNELS": 64,
    "MINI_MASK_SHAPE": [28, 28], "MAX_GT_INSTANCES": 6, "DETECTION_MAX_INSTANCES": 8,
    "DETECTION_MIN_CONFIDENCE": 0.0,
    "STEPS_PER_EPOCH": 2, "VALIDATION_STEPS": 1, "DATA_WORKERS": 1,
}


def import_sample(name):
    """samples/<name>/<name>.py as a module."""
    path = os.path.join(ROOT, "samples", name, f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"sample_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Setup:
    """The notebooks' sample: `name`, `module`, `config_class`, `dataset_path`
    (None for shapes), `quick`, `logs`; `parts` reads the train/val split the
    CLI uses."""

    def __init__(self):
        gns = os.path.join(SHARED_DATA, "gns")
        if os.path.isdir(gns):
            self.name, self.dataset_path = "gns", gns
            self.module = import_sample("gns")
            self.config_class = self.module.GnsConfig
        else:
            self.name, self.dataset_path = "shapes", None
            self.module = import_sample("shapes")
            self.config_class = self.module.ShapesConfig
        self.quick = QUICK
        self.logs = LOGS
        self._parts = None

    def __repr__(self):
        data = self.dataset_path or "generated images"
        return (f"sample {self.name} on {data}; runs in {self.logs}"
                + ("; quick mode (tiny network)" if self.quick else ""))

    def config(self):
        """The sample's training Config (the small network in quick mode)."""
        config = self.config_class()
        if self.quick:
            config.update(SMALL_NETWORK)
        return config

    @property
    def parts(self):
        """{"train": Dataset, "val": Dataset, ...}: the split `train` uses."""
        if self._parts is None:
            loader = getattr(self.module, f"load_{self.name}")
            self._parts, _ = load_parts(loader, self.dataset_path, self.config())
        return self._parts

    def last_checkpoint(self, train_if_missing=True):
        """The newest checkpoint of the sample under `logs`; with none,
        train a small demonstration model (one short epoch, from scratch)."""
        try:
            return find_last_checkpoint(self.logs, self.config_class.NAME)
        except FileNotFoundError:
            if not train_if_missing:
                raise
        flags = [] if self.dataset_path is None else ["--dataset", self.dataset_path]
        settings = [f"--set={key}={value}" for key, value in SMALL_NETWORK.items()]
        argv = ["train", *flags, "--logs", self.logs, "--weights=none", "--epochs", "1", *settings]
        print(f"No {self.name} checkpoint in {self.logs}: training a small demonstration model:\n"
              f"  python samples/{self.name}/{self.name}.py {' '.join(argv)}\n"
              f"A real one: python samples/{self.name}/{self.name}.py train "
              f"{' '.join(flags)} --weights=coco")
        if self.module.main(argv) != 0:
            raise RuntimeError("the demonstration training failed; see the messages above")
        return find_last_checkpoint(self.logs, self.config_class.NAME)

    def inference_config(self, checkpoint):
        """The sample's Config with the checkpoint's own settings, one image
        per batch (as `mrcnn evaluate/predict` build it)."""
        config = self.config_class()
        config.update(checkpoint_settings(checkpoint) or {}, strict=False)
        config.GPU_COUNT = 1
        config.IMAGES_PER_GPU = 1
        return config.validate()


def setup():
    return Setup()
