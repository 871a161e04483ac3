"""Each sample end to end on tiny images from its data: train one short
epoch from scratch, continue with --weights=last, evaluate, predict. The
gns script's first training runs as a program from another working
directory (`python samples/gns/gns.py train --dataset=../shared/data/gns
--weights=none --epochs 1`); everything else runs in-process."""
import glob
import json
import os
import subprocess
import sys

import h5py
import pytest
import yaml
from cli_fixtures import TINY_YAML
from conftest import REPO, SAMPLES, import_sample
from PIL import Image
from sample_cases import CONFIG_CLASSES, prepare_data

from mrcnn.commands.datasets import load_parts


def checkpoints(logs, name):
    return sorted(glob.glob(os.path.join(str(logs), f"{name}2*", f"mask_rcnn_{name}_*.h5")))


def two_images(sample, name, data_flags, folder):
    """Copy two images of the sample's training data into `folder`."""
    folder.mkdir()
    config = getattr(sample, CONFIG_CLASSES[name])()
    flags = dict(zip(data_flags[::2], data_flags[1::2]))
    options = {"image_dir": flags["--image-dir"]} if "--image-dir" in flags else {}
    loader = getattr(sample, f"load_{name}")
    parts, _ = load_parts(loader, flags.get("--dataset"), config, options)
    train = parts["train"]
    for i in train.image_ids[:2]:
        Image.fromarray(train.load_image(i)).save(folder / f"image{i}.png")


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_train_resume_evaluate_predict(name, tmp_path, request, capsys):
    sample = import_sample(name)
    data_flags = prepare_data(name, tmp_path, lambda: request.getfixturevalue("shared_data"))
    logs = tmp_path / "logs"
    config_name = getattr(sample, CONFIG_CLASSES[name]).NAME
    # The simpsons file comes without its pictures and the test draws a few:
    # the missing ones are an error that train refuses unless told.
    train_flags = [*data_flags, *(["--ignore-data-errors"] if name == "simpsons" else [])]

    if name == "gns":
        train_gns_from_elsewhere(tmp_path, data_flags[1], logs)
    else:
        assert sample.main(["train", *train_flags, "--config", TINY_YAML, "--logs", str(logs),
                            "--weights=none", "--epochs", "1"]) == 0
    # --weights=last takes the run's settings from its checkpoint: no --config.
    assert sample.main(["train", *train_flags, "--logs", str(logs), "--weights=last",
                        "--epochs", "2"]) == 0
    files = checkpoints(logs, config_name)
    assert [os.path.basename(f)[-7:] for f in files] == ["0001.h5", "0002.h5"]
    assert os.path.dirname(files[0]) == os.path.dirname(files[1])
    with h5py.File(files[-1], "r") as f:
        settings = yaml.safe_load(f.attrs["mrcnn_config"])
        assert int(f.attrs["epoch"]) == 2
    assert settings["NAME"] == config_name and settings["IMAGE_MAX_DIM"] == 64
    assert all(stage["layers"] == "all" for stage in settings["TRAINING_SCHEDULE"])
    capsys.readouterr()

    assert sample.main(["evaluate", *data_flags, "--logs", str(logs), "--limit", "2",
                        "--out", str(tmp_path / "eval")]) == 0
    metrics = json.load(open(tmp_path / "eval" / "metrics.json"))
    assert metrics["num_images"] == 2 and metrics["weights"] == files[-1]
    assert [row["name"] for row in metrics["segm"]["per_class"]] == list(settings["CLASS_NAMES"])
    assert os.path.isfile(tmp_path / "eval" / "coco_results.json")

    two_images(sample, name, data_flags, tmp_path / "to_predict")
    assert sample.main(["predict", "--images", str(tmp_path / "to_predict"),
                        "--out", str(tmp_path / "pred"), "--logs", str(logs)]) == 0
    assert len(list((tmp_path / "pred").glob("*.png"))) == 2
    header = json.load(open(tmp_path / "pred" / "coco_images.json"))
    assert [c["name"] for c in header["categories"]] == list(settings["CLASS_NAMES"])


def train_gns_from_elsewhere(tmp_path, dataset, logs):
    """The gns script as a program started in another folder, the dataset
    given relative to it (tiny settings keep it short, --logs the repo clean)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Not the repository on PYTHONPATH: the script finds it itself. The tests'
    # tiny backbone stays declared (tests/conftest.py puts it there).
    plugins = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
               if p and os.path.abspath(p) != os.path.abspath(REPO)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(plugins), TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, os.path.join(REPO, "samples", "gns", "gns.py"), "train",
               f"--dataset={os.path.relpath(dataset, elsewhere)}", "--weights=none", "--epochs", "1",
               "--config", TINY_YAML, "--logs", os.path.relpath(logs, elsewhere)]
    done = subprocess.run(command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "train: 64 images" in done.stdout and "val: 16 images" in done.stdout
