"""`mrcnn train` writes results.csv and results.png into the run folder and
the picture to TensorBoard, measures mAP when told, and a run continued
with --weights=last adds its epochs to them."""
import contextlib
import glob
import io
import os

import numpy as np
import pytest
from cli_fixtures import tiny_args, write_via2
from PIL import Image
from tensorboard_events import tag_steps, tensorboard_events

from mrcnn.cli import main
from mrcnn.training import results
from mrcnn.training.results import read_results

LOSSES = results.LOSS_NAMES


def logged(run_dir, subdir, tag):
    """{epoch (1-based): value} of a TensorBoard scalar of the run."""
    return {step + 1: float(value) for step, value in tensorboard_events(run_dir, subdir)[tag]}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two epochs of one step from scratch, mAP after epoch 2 only, on one
    image; returns (dataset, logs, run folder, printed output)."""
    root = tmp_path_factory.mktemp("results")
    data = write_via2(root / "data", count=6)
    logs = root / "logs"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["train", "--dataset", str(data), *tiny_args(logs), "--epochs", "2",
                     "--set", "EVAL_EVERY_EPOCHS=2", "--set", "EVAL_LIMIT=1"]) == 0
    (run_dir,) = glob.glob(str(logs / "mrcnn*"))
    return data, logs, run_dir, out.getvalue()


def test_train_writes_the_results_of_each_epoch(run):
    _, logs, run_dir, out = run
    assert f"tensorboard --logdir {logs}" in out
    rows = read_results(os.path.join(run_dir, "results.csv"))
    assert sorted(rows) == [1, 2]
    # The values TensorBoard got (float32) for every loss, train and val.
    for name in LOSSES:
        train, val = logged(run_dir, "train", f"epoch_{name}"), logged(run_dir, "validation",
                                                                       f"epoch_{name}")
        assert {e: rows[e][name] for e in rows} == pytest.approx(train, rel=1e-6)
        assert {e: rows[e][f"val_{name}"] for e in rows} == pytest.approx(val, rel=1e-6)
    assert rows[2]["learning_rate"] == pytest.approx(logged(run_dir, "train",
                                                            "epoch_learning_rate")[2], rel=1e-6)
    assert "val_mAP" not in rows[1] and "val_mAP50" not in rows[1]
    measured = logged(run_dir, "validation", "epoch_mAP")
    assert list(measured) == [2] and rows[2]["val_mAP"] == pytest.approx(measured[2], rel=1e-6)
    assert 0 <= rows[2]["val_mAP"] <= rows[2]["val_mAP50"] <= 1

    picture = np.asarray(Image.open(os.path.join(run_dir, "results.png")).convert("RGB"))
    for colour in (results.TRAIN_COLOUR, results.VAL_COLOUR):
        target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(picture.astype(int) - target).max(-1) <= 30).sum() > 500
    assert tag_steps(run_dir, "train", results.TENSORBOARD_TAG) == [0, 1]


def test_a_resumed_run_adds_its_epochs(run, capsys):
    data, logs, run_dir, _ = run
    rows = read_results(os.path.join(run_dir, "results.csv"))
    # Continued: epoch 3 is added, epochs 1 and 2 stay as they were.
    assert main(["train", "--dataset", str(data), "--logs", str(logs), "--weights=last",
                 "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert f"Continuing the run in {run_dir}" in out and "tensorboard --logdir" in out
    resumed = read_results(os.path.join(run_dir, "results.csv"))
    assert sorted(resumed) == [1, 2, 3]
    assert resumed[1] == rows[1] and resumed[2] == rows[2]
    assert resumed[3]["loss"] == pytest.approx(logged(run_dir, "train", "epoch_loss")[3],
                                               rel=1e-6)
    assert "val_mAP" not in resumed[3]
    assert tag_steps(run_dir, "train", results.TENSORBOARD_TAG) == [0, 1, 2]
