"""results.csv, results.png and the TensorBoard picture of a run
(mrcnn.training.results), driven with the logs fit() would give."""
import io
import logging
import os

import numpy as np
import pytest
from PIL import Image
from tensorboard_events import tensorboard_events

from mrcnn.training import results
from mrcnn.training.results import TrainingResults, draw_results, read_results

LOSSES = results.LOSS_NAMES


def epoch_logs(epoch, with_map=False):
    """What the callbacks before TrainingResults leave in an epoch's logs:
    numpy float32 losses as Keras gives them, val losses, the learning rate,
    and COCO mAP in evaluated epochs."""
    logs = {}
    for k, name in enumerate(LOSSES):
        logs[name] = np.float32(1.0 / (epoch + 1) + 0.1 * k)
        logs[f"val_{name}"] = np.float32(1.5 / (epoch + 1) + 0.1 * k)
    logs["learning_rate"] = 0.001
    logs["skipped_images"] = 0.0
    if with_map:
        logs.update(val_mAP=0.25 * epoch, val_mAP50=0.4 * epoch)
    return logs


def run_epochs(log_dir, epochs, with_map=()):
    """A TrainingResults through fit()'s calls for `epochs` (0-based)."""
    callback = TrainingResults(str(log_dir))
    callback.on_train_begin()
    for epoch in epochs:
        callback.on_epoch_end(epoch, epoch_logs(epoch, epoch in with_map))
    callback.on_train_end()
    return callback


def colour_pixels(rgb, colour, tolerance=30):
    """How many pixels of uint8 [H, W, 3 or 4] `rgb` are within `tolerance`
    of the hex `colour` ("#rrggbb")."""
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb[..., :3].astype(int) - target).max(-1) <= tolerance).sum())


def test_each_epoch_writes_a_row_and_a_picture_of_the_curves(tmp_path):
    run_epochs(tmp_path, [0, 1], with_map={1})
    rows = read_results(tmp_path / "results.csv")
    assert sorted(rows) == [1, 2]
    for number, row in rows.items():
        expected = epoch_logs(number - 1, number == 2)
        assert row == pytest.approx({name: float(value) for name, value in expected.items()},
                                    rel=1e-12)
    # The mAP cells of the epoch that did not evaluate are empty.
    lines = (tmp_path / "results.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:8] == ["epoch", *LOSSES] and header[-1] == "skipped_images"
    assert header[header.index("learning_rate") + 1:][:2] == ["val_mAP", "val_mAP50"]
    first = dict(zip(header, lines[1].split(",")))
    assert first["epoch"] == "1" and first["val_mAP"] == first["val_mAP50"] == ""
    assert sorted(os.listdir(tmp_path)) == ["results.csv", "results.png", "train"]

    picture = np.asarray(Image.open(tmp_path / "results.png").convert("RGB"))
    # 7 loss panels and the mAP panel: two rows of four.
    assert picture.shape[0] < picture.shape[1]
    assert colour_pixels(picture, results.TRAIN_COLOUR) > 500
    assert colour_pixels(picture, results.VAL_COLOUR) > 500
    assert colour_pixels(picture, results.MAP_COLOURS["val_mAP50"]) > 10


def test_the_picture_has_the_panels_of_what_was_logged():
    """Without validation no orange, without mAP no green and no red; the
    PNG and the pixels are the same picture."""
    pixels, png = draw_results({e: {"loss": 3.0 - e, "rpn_class_loss": 1.0 / e}
                                for e in (1, 2, 3)})
    assert Image.open(io.BytesIO(png)).size == (pixels.shape[1], pixels.shape[0])
    assert colour_pixels(pixels, results.TRAIN_COLOUR) > 200
    for colour in (results.VAL_COLOUR, *results.MAP_COLOURS.values()):
        assert colour_pixels(pixels, colour) == 0
    # Two panels side by side.
    assert pixels.shape[1] > 1.8 * pixels.shape[0]


def test_tensorboard_gets_the_picture_each_epoch(tmp_path):
    run_epochs(tmp_path, [0, 1, 2])
    events = tensorboard_events(str(tmp_path), "train")[results.TENSORBOARD_TAG]
    assert [step for step, _ in events] == [0, 1, 2]
    # An image summary: width, height, PNG bytes.
    width, height, png = events[-1][1]
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert image.shape[:2] == (int(height), int(width))
    file_picture = np.asarray(Image.open(tmp_path / "results.png").convert("RGB"))
    np.testing.assert_array_equal(image, file_picture)


def test_a_continued_run_keeps_earlier_rows_and_replaces_the_epochs_it_reruns(tmp_path):
    run_epochs(tmp_path, [0, 1, 2])
    before = read_results(tmp_path / "results.csv")
    # Continued from the checkpoint of epoch 1: epoch 2 runs again.
    callback = TrainingResults(str(tmp_path))
    callback.on_train_begin()
    rerun = epoch_logs(1)
    rerun["loss"] = np.float32(9.5)
    callback.on_epoch_end(1, rerun)
    rows = read_results(tmp_path / "results.csv")
    assert sorted(rows) == [1, 2]
    assert rows[1] == before[1] and rows[2]["loss"] == 9.5
    callback.on_epoch_end(2, epoch_logs(2))
    rows = read_results(tmp_path / "results.csv")
    assert sorted(rows) == [1, 2, 3] and rows[3] == before[3]
    assert (tmp_path / "results.csv").read_text().count("\n3,") == 1


def test_an_unreadable_results_file_is_rewritten(tmp_path, caplog):
    (tmp_path / "results.csv").write_text("not,a\nresults,file\n")
    with caplog.at_level(logging.WARNING, "mrcnn"):
        run_epochs(tmp_path, [0])
    assert "results.csv cannot be read" in caplog.text
    assert sorted(read_results(tmp_path / "results.csv")) == [1]


def test_train_says_the_tensorboard_command(tmp_path, caplog):
    """train() tells where TensorBoard finds the runs (printed when the
    script set up no logging: mrcnn.console.inform) and installs the
    callback after the ones that add the learning rate and val_mAP."""
    from tiny import TinyConfig, tiny_dataset

    import mrcnn.model as modellib
    from mrcnn.training.callbacks import LearningRateLogger
    from mrcnn.training.callbacks_eval import CocoEvalCallback

    config = TinyConfig()
    config.EVAL_EVERY_EPOCHS = 1
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    installed = []
    fit = model.keras_model.fit
    model.keras_model.fit = lambda *a, **kw: installed.extend(kw["callbacks"]) or fit(*a, **kw)
    with caplog.at_level(logging.INFO, "mrcnn"):
        # epochs=0: nothing to train, all the rest as for a real run.
        model.train(tiny_dataset(2), tiny_dataset(2, seed=1), learning_rate=0.01, epochs=0,
                    layers="heads")
    assert f"TensorBoard: tensorboard --logdir {tmp_path}" in caplog.text
    kinds = [type(c) for c in installed]
    assert kinds.index(TrainingResults) > kinds.index(LearningRateLogger)
    assert kinds.index(TrainingResults) > kinds.index(CocoEvalCallback)
