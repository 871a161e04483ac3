"""A run only ever writes into its own folder (issue: `--weights=PATH` of a
checkpoint overwrote another run's later checkpoints).

`--weights=last` continues the newest run, `--resume CHECKPOINT` continues
that checkpoint's run (refused when the network or classes differ), any other
`--weights=PATH` starts a new run under --logs initialised from the file; a
run continued from an earlier checkpoint than its newest writes to a new
folder beside it."""
import glob
import hashlib
import os

import h5py
import pytest
from cli_fixtures import tiny_args, write_via2

from mrcnn.cli import main


def snapshot(folder):
    """{relative path: sha256} of every file under `folder`."""
    digests = {}
    for path in sorted(glob.glob(os.path.join(str(folder), "**", "*"), recursive=True)):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                digests[os.path.relpath(path, str(folder))] = hashlib.sha256(f.read()).hexdigest()
    return digests


def runs(logs):
    return sorted(glob.glob(os.path.join(str(logs), "mrcnn2*")))


def checkpoint_names(run_dir):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(run_dir, "mask_rcnn_*.h5")))


def epoch_of(path):
    with h5py.File(path, "r") as f:
        return int(f.attrs["epoch"])


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    """Run A: two epochs from scratch. Returns (root, dataset json, logs, run folder)."""
    root = tmp_path_factory.mktemp("runs")
    data = write_via2(root / "data", count=6)
    logs = root / "logs_a"
    assert main(["train", "--dataset", str(data), *tiny_args(logs), "--epochs", "2"]) == 0
    (run_dir,) = runs(logs)
    assert checkpoint_names(run_dir) == ["mask_rcnn_mrcnn_0001.h5", "mask_rcnn_mrcnn_0002.h5"]
    return root, data, logs, run_dir


def test_weights_path_of_another_run_starts_a_new_run_in_logs(run_a, tmp_path, capsys):
    root, data, logs_a, run_dir = run_a
    before = snapshot(logs_a)
    first = os.path.join(run_dir, "mask_rcnn_mrcnn_0001.h5")
    logs_b = tmp_path / "logs_b"
    assert main(["train", "--dataset", str(data), *tiny_args(logs_b), "--weights", first,
                 "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    # Run A is untouched, byte for byte; the new run is in --logs, at epoch 1.
    assert snapshot(logs_a) == before
    (new_run,) = runs(logs_b)
    assert f"New run in {new_run}, initialised from {first}" in out
    assert checkpoint_names(new_run) == ["mask_rcnn_mrcnn_0001.h5"]


def test_weights_path_in_the_same_logs_starts_a_new_folder(run_a, capsys):
    root, data, logs_a, run_dir = run_a
    before, runs_before = snapshot(run_dir), set(runs(logs_a))
    first = os.path.join(run_dir, "mask_rcnn_mrcnn_0001.h5")
    assert main(["train", "--dataset", str(data), *tiny_args(logs_a), "--weights", first,
                 "--epochs", "1"]) == 0
    assert snapshot(run_dir) == before
    (new_run,) = set(runs(logs_a)) - runs_before
    assert checkpoint_names(new_run) == ["mask_rcnn_mrcnn_0001.h5"]
    assert f"New run in {new_run}" in capsys.readouterr().out


def test_resume_from_an_earlier_checkpoint_keeps_the_later_ones(run_a, tmp_path, capsys):
    root, data, logs_a, run_dir = run_a
    before, runs_before = snapshot(run_dir), set(runs(logs_a))
    first = os.path.join(run_dir, "mask_rcnn_mrcnn_0001.h5")
    logs_b = tmp_path / "elsewhere"
    assert main(["train", "--dataset", str(data), "--logs", str(logs_b), "--resume", first,
                 "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    # Run A's epoch 2 is kept; the continuation (epoch 2 again, numbered on
    # from 1) went to a new folder beside run A, not into --logs.
    assert snapshot(run_dir) == before
    (branch,) = set(runs(logs_a)) - runs_before
    assert checkpoint_names(branch) == ["mask_rcnn_mrcnn_0002.h5"]
    assert epoch_of(os.path.join(branch, "mask_rcnn_mrcnn_0002.h5")) == 2
    assert not runs(logs_b)
    assert f"Continuing the run in {branch} from epoch 1" in out


def test_resume_refuses_another_network(run_a, capsys):
    root, data, logs_a, run_dir = run_a
    newest = sorted(glob.glob(os.path.join(run_dir, "mask_rcnn_mrcnn_*.h5")))[-1]
    before = snapshot(logs_a)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(data), "--logs", str(logs_a), "--resume", newest,
              "--set", "FPN_CLASSIF_FC_LAYERS_SIZE=32", "--epochs", "9"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "cannot continue the run" in err and "FPN_CLASSIF_FC_LAYERS_SIZE: 64 -> 32" in err
    assert "--weights=PATH" in err
    assert snapshot(logs_a) == before


def test_resume_refuses_a_file_that_is_no_run(run_a, tmp_path, capsys):
    root, data, logs_a, run_dir = run_a
    loose = tmp_path / "copied.h5"
    loose.write_bytes(open(os.path.join(run_dir, "mask_rcnn_mrcnn_0001.h5"), "rb").read())
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(data), "--logs", str(logs_a), "--resume", str(loose)])
    assert exit_info.value.code == 2
    assert "not a checkpoint of a run of NAME 'mrcnn'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--dataset", str(data), "--logs", str(logs_a), "--resume", str(loose),
              "--weights", "last"])
    assert "give one" in capsys.readouterr().err
