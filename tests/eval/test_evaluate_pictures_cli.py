"""`mrcnn evaluate` on a run's checkpoint writes the evaluation's PNGs beside
metrics.json, says where, and puts the same pictures into the run's
TensorBoard folder `evaluation` at the checkpoint's epoch."""
import json
import os
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
from cli_fixtures import write_via2  # noqa: E402  tests/cli/cli_fixtures.py
from tensorboard_events import tensorboard_events  # noqa: E402
from tiny_checkpoint import session_checkpoint  # noqa: E402

from mrcnn.cli import main  # noqa: E402

PICTURES = ("pr_curves_segm.png", "confusion_segm.png", "per_class_ap_segm.png",
            "worst_images.png")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return session_checkpoint(tmp_path_factory)


def test_evaluate_writes_the_pictures_and_tensorboard_images(checkpoint, tmp_path, capsys):
    data = write_via2(tmp_path / "data")
    logs = tmp_path / "logs"
    run = logs / "mrcnn20260101T0000"
    run.mkdir(parents=True)
    weights = shutil.copy(checkpoint, run / "mask_rcnn_mrcnn_0003.h5")
    assert main(["evaluate", "--dataset", str(data), "--logs", str(logs), "--weights",
                 str(weights)]) == 0
    out = capsys.readouterr().out
    folder = run / "evaluation_mask_rcnn_mrcnn_0003_val"
    assert f"Wrote {', '.join(PICTURES)} to {folder}" in out
    assert f"TensorBoard: the pictures in {run / 'evaluation'} at epoch 3" in out

    metrics = json.loads((folder / "metrics.json").read_text())
    # No --min-confidence: the confusion matrix counts detections from 0.5.
    assert metrics["segm"]["confusion"]["score_threshold"] == 0.5
    pixels = {}
    for name in PICTURES:
        pixels[name] = np.asarray(Image.open(folder / name).convert("RGB"))
        assert pixels[name].std() > 10, name
    # The all-classes curves are black.
    assert (pixels["pr_curves_segm.png"].max(-1) == 0).sum() > 100
    assert pixels["worst_images.png"].shape[1] >= 480

    events = tensorboard_events(str(run), "evaluation")
    assert sorted(events) == sorted(f"evaluation_val/{n[:-4]}" for n in PICTURES)
    for name in PICTURES:
        (step, value), = events[f"evaluation_val/{name[:-4]}"]
        # An image summary: width, height, then the PNG of the picture.
        assert step == 3 and value[:2].tolist() == [str(pixels[name].shape[1]).encode(),
                                                     str(pixels[name].shape[0]).encode()]
