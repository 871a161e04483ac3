"""Where a run's checkpoints live and which of them can be resumed.

A run writes `<model_dir>/<name><YYYYmmddTHHMM>/mask_rcnn_<name>_<epoch:04d>.h5`
(name = Config.NAME lower-cased; seconds, then microseconds, are appended to
the stamp when another run started in the same minute), each file written as
`<file>.tmp-<pid>` and renamed when complete (mrcnn.weights.save_weights_h5).
So a file under a checkpoint name is complete unless the disk lost it;
`find_last_checkpoint` still opens it before trusting it.
"""
import datetime
import errno
import logging
import os
import re

import h5py

logger = logging.getLogger(__name__)

_TMP_FILE = re.compile(r"\.h5\.tmp-(\d+)$")


def run_dir_pattern(name):
    """Run folder names of config NAME `name`: `<name>YYYYmmddTHHMM`, or with
    seconds (`...HHMMSS`) or microseconds (`...HHMMSSffffff`) appended. Group 1
    is the stamp; stamps sort in the order the runs started."""
    return re.compile(re.escape(name.lower()) + r"(\d{8}T\d{4}(?:\d{2}(?:\d{6})?)?)$")


def create_run_dir(model_dir, name, preferred=None):
    """Create the folder of a new run and return its path.

    preferred: the folder chosen when the model was built
        (`<model_dir>/<name>YYYYmmddTHHMM`, matterport's name), taken when no
        other run holds it yet.
    Otherwise (two runs started in the same minute, in one process or two)
    the stamp of now gets seconds, then microseconds, appended, so no run
    writes into another's folder and the newest run still sorts last for
    find_last_checkpoint. The folder is claimed with mkdir, which one
    process wins.
    """
    os.makedirs(model_dir, exist_ok=True)
    name = name.lower()
    candidates = [preferred] if preferred else []
    while True:
        now = datetime.datetime.now()
        candidates += [os.path.join(model_dir, name + f"{now:%Y%m%dT%H%M}{suffix}")
                       for suffix in ("", f"{now:%S}", f"{now:%S%f}")]
        for path in candidates:
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            if preferred and path != preferred:
                logger.info("Run folder %s is taken by another run; this run writes to %s",
                            preferred, path)
            return path
        candidates = []


def checkpoint_pattern(name):
    """Checkpoint file names of config NAME `name`; group 1 is the epoch."""
    return re.compile(r"mask_rcnn_" + re.escape(name.lower()) + r"_(\d{4,})\.h5$")


def list_checkpoints(run_dir, name):
    """[(epoch, path)] of the checkpoints in `run_dir`, by epoch."""
    pattern = checkpoint_pattern(name)
    found = []
    for file_name in os.listdir(run_dir):
        m = pattern.match(file_name)
        if m:
            found.append((int(m.group(1)), os.path.join(run_dir, file_name)))
    return sorted(found)


def list_runs(model_dir, name):
    """Run folders of config NAME `name` in `model_dir`, oldest first."""
    if not os.path.isdir(model_dir):
        return []
    pattern = run_dir_pattern(name)
    runs = []
    for entry in os.listdir(model_dir):
        m = pattern.match(entry)
        if m and os.path.isdir(os.path.join(model_dir, entry)):
            runs.append((m.group(1), os.path.join(model_dir, entry)))
    return [path for _, path in sorted(runs)]


def checkpoint_problem(path):
    """None when `path` opens as a complete weight file, else what is wrong."""
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f and "layer_names" not in f.attrs else f
            if "layer_names" not in root.attrs:
                return "no 'layer_names' attribute"
            for group in root.attrs["layer_names"]:
                group = group.decode("utf8") if isinstance(group, bytes) else str(group)
                if group not in root:
                    return f"layer group {group!r} is missing"
    except OSError as e:
        return f"cannot be opened ({e})"
    return None


def find_last_checkpoint(model_dir, name):
    """The newest complete checkpoint of config NAME `name` in `model_dir`.

    Runs are tried newest first, and in a run the highest epoch first;
    temporary files and files that do not open are passed over (with one
    warning). Raises FileNotFoundError naming the folder and NAME when there
    is none.
    """
    skipped = []
    runs = list_runs(model_dir, name)
    for run_dir in reversed(runs):
        for _, path in reversed(list_checkpoints(run_dir, name)):
            problem = checkpoint_problem(path)
            if problem is None:
                if skipped:
                    logger.warning("Passed over incomplete checkpoints: %s",
                                   "; ".join(skipped))
                return path
            skipped.append(f"{path}: {problem}")
    what = (f"runs {', '.join(os.path.basename(r) for r in runs)} hold no complete checkpoint"
            + (f" ({'; '.join(skipped)})" if skipped else "")
            if runs else f"no run folder {name.lower()}<YYYYmmddTHHMM>")
    raise FileNotFoundError(
        errno.ENOENT,
        f"Could not find a checkpoint of a model named {name!r} in {model_dir}: {what}. "
        "Train first, check Config.NAME and the model_dir/--logs folder, or start from "
        "--weights=coco|imagenet|none|PATH", model_dir)


def read_checkpoint_config(path):
    """The config YAML text a checkpoint of this project carries (root
    attribute `mrcnn_config`), or None for other files and unreadable ones."""
    try:
        with h5py.File(path, "r") as f:
            text = f.attrs.get("mrcnn_config")
    except OSError:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return None if text is None else str(text)


def continued_run(path, name, model_dir=None):
    """(log_dir, epoch) when `path` is a checkpoint of a run of config NAME
    `name` (`<name>YYYYmmddTHHMM/mask_rcnn_<name>_<epoch>.h5`), else None.
    Training from it continues that folder and epoch count."""
    path = os.path.abspath(os.fspath(path))
    log_dir, file_name = os.path.split(path)
    m = checkpoint_pattern(name).match(file_name)
    if not m or not run_dir_pattern(name).match(os.path.basename(log_dir)):
        return None
    return log_dir, int(m.group(1))


def remove_stale_temporaries(folder):
    """Delete `<checkpoint>.h5.tmp-<pid>` files left by killed processes
    (their pid is gone). Returns the removed paths."""
    removed = []
    if not os.path.isdir(folder):
        return removed
    for file_name in os.listdir(folder):
        m = _TMP_FILE.search(file_name)
        if not m or _process_alive(int(m.group(1))):
            continue
        path = os.path.join(folder, file_name)
        try:
            os.remove(path)
            removed.append(path)
        except OSError:
            pass
    if removed:
        logger.info("Removed %d partial checkpoint file(s) of killed runs in %s",
                    len(removed), folder)
    return removed


def _process_alive(pid):
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
