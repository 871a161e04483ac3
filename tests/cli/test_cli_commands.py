"""Each model command of the generic `mrcnn` CLI once, in-process, on a tiny
network and a tiny VIA 2 dataset: train, train --weights=last, evaluate,
predict (COCO and LabelMe), splash (image and video)."""
import glob
import json
import os
import shutil

import h5py
import numpy as np
import pytest
import yaml
from cli_fixtures import tiny_args, write_via2
from PIL import Image
from tensorboard_events import tag_steps

from mrcnn.cli import main
from mrcnn.commands.datasets import load_parts
from mrcnn.data.read import generic_loader
from mrcnn.commands.project import checkpoint_settings
from mrcnn.config import Config
from mrcnn.data import read_dataset


def saved_settings(checkpoint):
    with h5py.File(checkpoint, "r") as f:
        return yaml.safe_load(f.attrs["mrcnn_config"]), int(f.attrs["epoch"])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One epoch of one step from scratch; returns (root, dataset json, logs)."""
    root = tmp_path_factory.mktemp("cli")
    data = write_via2(root / "data", count=6)
    logs = root / "logs"
    assert main(["train", "--dataset", str(data), *tiny_args(logs), "--epochs", "1"]) == 0
    return root, data, logs


def checkpoints(logs):
    return sorted(glob.glob(os.path.join(str(logs), "mrcnn*", "mask_rcnn_mrcnn_*.h5")))


def test_train_from_scratch_writes_a_checkpoint_with_its_settings(run):
    _, _, logs = run
    files = checkpoints(logs)
    assert [os.path.basename(f) for f in files] == ["mask_rcnn_mrcnn_0001.h5"]
    settings, epoch = saved_settings(files[0])
    assert epoch == 1
    assert settings["NAME"] == "mrcnn" and settings["IMAGE_MAX_DIM"] == 64
    assert settings["CLASS_NAMES"] == ["a", "b"] and settings["NUM_CLASSES"] == 3
    # From scratch: the schedule's heads stage became all layers.
    assert [s["layers"] for s in settings["TRAINING_SCHEDULE"]] == ["all", "all"]


def test_a_checkpoint_from_before_rpn_conv_channels_keeps_its_rpn_width(run, tmp_path, caplog):
    """Checkpoints written before RPN_CONV_CHANNELS existed had an RPN twice
    the pyramid's width; the CLI must rebuild that, not Config's 512."""
    _, data, logs = run
    old = tmp_path / "logs" / "mrcnn20260101T0000" / "mask_rcnn_mrcnn_0001.h5"
    old.parent.mkdir(parents=True)
    shutil.copy(checkpoints(logs)[0], old)
    with h5py.File(old, "r+") as f:
        settings = yaml.safe_load(f.attrs["mrcnn_config"])
        assert settings.pop("RPN_CONV_CHANNELS") == 2 * settings["TOP_DOWN_PYRAMID_SIZE"]
        f.attrs["mrcnn_config"] = yaml.safe_dump(settings)
    assert checkpoint_settings(str(old))["RPN_CONV_CHANNELS"] == 2 * settings["TOP_DOWN_PYRAMID_SIZE"]
    # Every layer loads: no "shapes differ" warning.
    assert main(["evaluate", "--dataset", str(data), "--weights", str(old),
                 "--out", str(tmp_path / "eval")]) == 0
    assert "shapes differ" not in caplog.text


def test_train_last_continues_the_run_with_its_settings(run, capsys, caplog):
    root, data, logs = run
    # No --config: the checkpoint's own settings (64 px) are taken.
    assert main(["train", "--dataset", str(data), "--logs", str(logs), "--weights=last",
                 "--epochs", "2", "--augment"]) == 0
    out = capsys.readouterr().out
    assert "from epoch 1" in out and "epochs 1-2: layers=all" in out
    files = checkpoints(logs)
    assert [os.path.basename(f) for f in files] == ["mask_rcnn_mrcnn_0001.h5", "mask_rcnn_mrcnn_0002.h5"]
    assert os.path.dirname(files[0]) == os.path.dirname(files[1])
    settings, epoch = saved_settings(files[1])
    assert epoch == 2 and settings["IMAGE_MAX_DIM"] == 64 and settings["AUGMENTATION"] == "default"
    # The augmented epoch reported what augmentation lost, to TensorBoard too.
    assert "Epoch 2 augmentation:" in caplog.text
    assert tag_steps(os.path.dirname(files[1]), "train", "epoch_augmentation_dropped") == [1]
    assert tag_steps(os.path.dirname(files[1]), "train", "epoch_resize_dropped") == [1]
    # Already there: nothing more to train.
    assert main(["train", "--dataset", str(data), "--logs", str(logs), "--weights=last",
                 "--epochs", "2"]) == 0
    assert "Nothing to train: the run is at epoch 2" in capsys.readouterr().out
    assert len(checkpoints(logs)) == 2


def test_evaluate_writes_metrics_beside_the_checkpoint(run, capsys):
    _, data, logs = run
    assert main(["evaluate", "--dataset", str(data), "--logs", str(logs)]) == 0
    out = capsys.readouterr().out
    last = checkpoints(logs)[-1]
    folder = os.path.join(os.path.dirname(last), f"evaluation_{os.path.basename(last)[:-3]}_val")
    metrics = json.load(open(os.path.join(folder, "metrics.json")))
    config = Config()
    config.CLASS_NAMES = ["a", "b"]
    parts, _ = load_parts(generic_loader, str(data), config)
    assert metrics["num_images"] == len(parts["val"].image_ids)
    assert metrics["subset"] == "val" and metrics["weights"] == last
    assert -1 <= metrics["segm"]["AP"] <= 1 and 0 <= metrics["matterport_mAP50"] <= 1
    results = json.load(open(os.path.join(folder, "coco_results.json")))
    assert len(results) == metrics["num_detections"] <= 8 * metrics["num_images"]
    assert {r["category_id"] for r in results} <= {1, 2}
    assert "mAP@0.5 over" in out and "segm" in out


def test_evaluate_ranks_every_detection_unless_told_a_threshold(run, tmp_path):
    _, data, logs = run

    def evaluate(name, *extra):
        out = tmp_path / name
        assert main(["evaluate", "--dataset", str(data), "--logs", str(logs),
                     "--out", str(out), *extra]) == 0
        metrics = json.load(open(out / "metrics.json"))
        scores = sorted(r["score"] for r in json.load(open(out / "coco_results.json")))
        return metrics["min_confidence"], scores

    threshold, every = evaluate("every")
    # The config's DETECTION_MIN_CONFIDENCE (0.7) does not apply.
    assert threshold == 0.0
    # A cut halfway between two neighbouring distinct scores, as near the
    # median as there is one. The network has trained one step from random
    # weights: its detections vary from run to run, and some runs have none.
    gaps = [i for i in range(1, len(every)) if every[i] - every[i - 1] > 1e-5]
    if not gaps:
        pytest.skip(f"the one-step network gave no two distinct scores ({len(every)} detections)")
    split = min(gaps, key=lambda i: abs(i - len(every) / 2))
    cut = (every[split - 1] + every[split]) / 2
    kept = every[split:]
    assert evaluate("flag", "--min-confidence", str(cut)) == (cut, pytest.approx(kept))
    assert evaluate("set", "--set", f"DETECTION_MIN_CONFIDENCE={cut}") == (cut, pytest.approx(kept))


def test_predict_writes_drawings_and_coco_results(run, tmp_path):
    root, data, logs = run
    out = tmp_path / "pred"
    assert main(["predict", "--images", str(root / "data" / "img0*.jpg"), "--out", str(out),
                 "--logs", str(logs)]) == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == [f"img{i:02d}.png" for i in range(6)]
    assert Image.open(out / "img00.png").size == (80, 64)
    header = json.load(open(out / "coco_images.json"))
    assert [c["name"] for c in header["categories"]] == ["a", "b"]
    assert [im["file_name"] for im in header["images"]][0].endswith("img00.jpg")
    results = json.load(open(out / "coco_results.json"))
    assert {r["image_id"] for r in results} <= {im["id"] for im in header["images"]}
    for r in results:
        assert len(r["bbox"]) == 4 and 0 <= r["score"] <= 1 and r["segmentation"]["size"] == [64, 80]


def test_predict_labelme_prelabels_images_that_read_back(run, tmp_path):
    root, _, logs = run
    images = tmp_path / "batch2"
    images.mkdir()
    for name in ("img00.jpg", "img01.jpg"):
        (images / name).write_bytes((root / "data" / name).read_bytes())
    assert main(["predict", "--images", str(images), "--out", str(images), "--format", "labelme",
                 "--logs", str(logs)]) == 0
    assert sorted(p.name for p in images.glob("*.json")) == ["img00.json", "img01.json"]
    assert not list(images.glob("*.png"))
    document = json.load(open(images / "img00.json"))
    assert document["imagePath"] == "img00.jpg" and document["imageHeight"] == 64
    assert {s["label"] for s in document["shapes"]} <= {"a", "b"}
    # The project's reader takes the pre-labelled folder as a dataset.
    if any(json.load(open(images / n))["shapes"] for n in ("img00.json", "img01.json")):
        dataset = read_dataset(images, format="labelme")
        assert len(dataset.image_ids) == 2


def test_splash_an_image_keeps_colour_only_inside_detections(run, tmp_path):
    root, _, logs = run
    out = tmp_path / "splash.png"
    assert main(["splash", "--image", str(root / "data" / "img00.jpg"), "--out", str(out),
                 "--logs", str(logs)]) == 0
    original = np.asarray(Image.open(root / "data" / "img00.jpg").convert("RGB")).astype(int)
    splash = np.asarray(Image.open(out)).astype(int)
    assert splash.shape == original.shape
    grey = (splash[..., 0] == splash[..., 1]) & (splash[..., 1] == splash[..., 2])
    kept = (splash == original).all(-1)
    assert (grey | kept).all()


def test_splash_a_video_writes_every_frame(run, tmp_path):
    import cv2

    _, _, logs = run
    video = str(tmp_path / "in.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 5, (80, 64))
    for i in range(3):
        frame = np.full((64, 80, 3), 40, np.uint8)
        frame[10:40, 10 + 5 * i:40 + 5 * i] = (40, 40, 230)
        writer.write(frame)
    writer.release()
    out = str(tmp_path / "out.avi")
    assert main(["splash", "--video", video, "--out", out, "--logs", str(logs)]) == 0
    capture = cv2.VideoCapture(out)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    assert size == (80, 64)
    capture.release()


@pytest.mark.slow
def test_pretrained_weights_train_the_heads_then_all_layers(run, tmp_path, monkeypatch, capsys):
    """--weights=coco (a stand-in file in MRCNN_WEIGHTS_DIR: this run's first
    checkpoint under COCO's file name) follows the schedule as written."""
    import shutil

    from mrcnn.training.layers import LAYER_REGEX

    _, data, _ = run
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    shutil.copy(checkpoints(run[2])[0], weights_dir / "mask_rcnn_coco.h5")
    monkeypatch.setenv("MRCNN_WEIGHTS_DIR", str(weights_dir))
    logs = tmp_path / "logs"
    assert main(["train", "--dataset", str(data), *tiny_args(logs), "--weights=coco",
                 "--set", "TRAINING_SCHEDULE=[{layers: heads, epochs: 1}, "
                          "{layers: all, epochs: 1, learning_rate_factor: 0.5}]"]) == 0
    out = capsys.readouterr().out
    assert "epochs 1-1: layers=heads at lr 0.001" in out and "epochs 2-2: layers=all at lr 0.0005" in out
    files = checkpoints(logs)
    assert [os.path.basename(f) for f in files] == ["mask_rcnn_mrcnn_0001.h5", "mask_rcnn_mrcnn_0002.h5"]
    layers = []
    for f in files:
        with h5py.File(f, "r") as h5:
            layers.append(h5.attrs["mrcnn_layers"])
    assert layers == [LAYER_REGEX["heads"], LAYER_REGEX["all"]]
