"""Bad flags, settings and files end in one line, before a network is built
(issue 13, items 2 and 7): unreadable --weights files, --set values of the
wrong type or range, --layers that match no layer, --logs naming a file,
Ctrl-C during training, a loss that turns NaN.

The fast tests run `main()` in-process and check that no run folder was
made (the network, which `train` builds after the checks, would need one).
"""
import glob
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from cli_fixtures import REPO, tiny_args, write_via2

from mrcnn.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_via2(tmp_path_factory.mktemp("data"), count=6)


def train(data, logs, *extra):
    return main(["train", "--dataset", str(data), *tiny_args(logs), "--epochs", "1", *extra])


def one_line_error(capsys):
    """stderr of a refused command: no traceback, its message on one line."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    return lines[-1]


@pytest.mark.parametrize("setting, shown", [
    ("IMAGE_MIN_DIM=abc", "IMAGE_MIN_DIM: is 'abc'; it must be an integer >= 0"),
    ("LEARNING_RATE=fast", "LEARNING_RATE: is 'fast'; it must be a number > 0"),
    ("IMAGE_MIN_DIM=-5", "IMAGE_MIN_DIM: is -5; it must be an integer >= 0"),
    ("STEPS_PER_EPOCH=0.5", "STEPS_PER_EPOCH: is 0.5; it must be an integer >= 1"),
    ("GRADIENT_CLIP_NORM=-1", "GRADIENT_CLIP_NORM: is -1; it must be a number > 0 (or None)"),
])
def test_a_setting_of_the_wrong_type_or_range_is_refused_before_building(
        data, tmp_path, capsys, setting, shown):
    logs = tmp_path / "logs"
    with pytest.raises(SystemExit) as exit_info:
        train(data, logs, "--set", setting)
    assert exit_info.value.code == 2
    assert shown in one_line_error(capsys)
    assert not logs.exists()


def test_a_float_setting_takes_yaml_exponent_strings():
    # YAML 1.1 reads 1e-3 (no dot) as a string.
    from mrcnn.config import Config

    config = Config()
    config.update({"LEARNING_RATE": "1e-3", "NUM_CLASSES": 2})
    assert config.validate().LEARNING_RATE == 0.001


def test_layers_matching_no_layer_are_refused_by_the_parser(data, tmp_path, capsys):
    logs = tmp_path / "logs"
    with pytest.raises(SystemExit) as exit_info:
        train(data, logs, "--layers", "bogus")
    assert exit_info.value.code == 2
    assert "argument --layers: 'bogus' matches no layer of the network" in one_line_error(capsys)
    assert not logs.exists()
    # A regex of real names is taken (parsing only: --help-like early exit).
    from mrcnn.cli import layers_value

    assert layers_value("res4w.*|mrcnn_.*") == "res4w.*|mrcnn_.*"


def test_logs_naming_a_file_is_refused(data, tmp_path, capsys):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        train(data, not_a_folder)
    assert exit_info.value.code == 2
    assert one_line_error(capsys).endswith(f"--logs {not_a_folder}: is a file; give the folder "
                                           "of the training runs (it is created when missing)")
    assert not_a_folder.read_text() == "x"


def bad_weight_files(folder):
    """{name: (path, expected message part)} of unreadable weight files."""
    folder.mkdir()
    empty = folder / "empty.h5"
    empty.write_bytes(b"")
    random_bytes = folder / "random.h5"
    random_bytes.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    no_layer_names = folder / "no_layer_names.h5"
    with h5py.File(no_layer_names, "w") as f:
        f.create_dataset("x", data=np.arange(3.0))
    whole = folder / "whole.h5"
    with h5py.File(whole, "w") as f:
        f.attrs["layer_names"] = np.array([b"dense"], dtype="S")
        group = f.create_group("dense")
        group.attrs["weight_names"] = np.array([b"dense/kernel:0"], dtype="S")
        group.create_dataset("dense/kernel:0", data=np.ones((256, 256), np.float32))
    truncated = folder / "truncated.h5"
    truncated.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    return {
        "empty": (empty, "cannot be read as an HDF5 weight file (an empty file"),
        "random": (random_bytes, "cannot be read as an HDF5 weight file (4096 bytes that are not HDF5"),
        "no_layer_names": (no_layer_names, "not a Keras-2 HDF5 weights file (no 'layer_names'"),
        "truncated": (truncated, "cannot be read as an HDF5 weight file (truncated: "),
    }


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_unreadable_weight_files_are_named_in_one_line(data, tmp_path, capsys, command):
    files = bad_weight_files(tmp_path / "weights")
    for name, (path, shown) in files.items():
        logs = tmp_path / f"logs_{name}"
        code = main([command, "--dataset", str(data), *tiny_args(logs), "--weights", str(path)])
        assert code == 2, name
        line = one_line_error(capsys)
        assert line.startswith(f"mrcnn {command}: {path}: "), line
        assert shown in line, line
        assert not logs.exists(), name


# --- training: a NaN loss, Ctrl-C -----------------------------------------------

def checkpoints(logs):
    return sorted(glob.glob(os.path.join(str(logs), "*", "mask_rcnn_*.h5")))


def test_a_nan_loss_stops_train_with_exit_code_2(data, tmp_path, capsys):
    logs = tmp_path / "logs"
    # 1e38 overflows the weights at the first update (see tests/core/test_nan_stop.py).
    code = train(data, logs, "--set", "LEARNING_RATE=1e38", "--set", "STEPS_PER_EPOCH=2")
    assert code == 2
    line = one_line_error(capsys)
    assert line.startswith("mrcnn train: Training diverged at epoch 1, batch 2: the loss is nan")
    assert "the batch's images: " in line and ".jpg" in line
    assert "learning rate too high (now 1e+38" in line
    assert "No checkpoint of this run was written" in line
    assert checkpoints(logs) == []


@pytest.mark.slow
def test_ctrl_c_during_training_says_where_to_continue(data, tmp_path):
    logs = tmp_path / "logs"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", NO_ALBUMENTATIONS_UPDATE="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "mrcnn.cli", "train", "--dataset", str(data), *tiny_args(logs),
         "--epochs", "100"], cwd=str(REPO), env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # Interrupt once the first checkpoint is there: epoch 2 has started.
        for _ in range(1200):
            if checkpoints(logs) or process.poll() is not None:
                break
            time.sleep(0.5)
        assert checkpoints(logs), "no checkpoint within 10 minutes"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    last = checkpoints(logs)[-1]
    assert (f"mrcnn train: interrupted in epoch {int(last[-7:-3]) + 1}; the newest checkpoint is "
            f"{last}: continue the run with --weights=last --logs {logs}") in err
