"""`mrcnn train` with an AUGMENTATION list in the YAML file: one tiny step,
the list saved in the checkpoint and kept by --weights=last; a bad entry is
one usage line naming the file."""
import glob
import os

import h5py
import pytest
import yaml
from cli_fixtures import TINY_YAML, write_via2

from mrcnn.cli import main

AUGMENTATION = [{"HorizontalFlip": {"p": 0.5}},
                {"RandomBrightnessContrast": {"brightness_limit": 0.2, "p": 0.5}},
                {"Affine": {"rotate": [-15, 15], "p": 0.3}}]


def config_with(folder, augmentation, name="augment.yaml"):
    """tests/tiny.yaml's settings plus an AUGMENTATION list, as one file
    (the CLI takes one --config)."""
    settings = yaml.safe_load(open(TINY_YAML))
    settings["AUGMENTATION"] = augmentation
    path = folder / name
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def saved(checkpoint):
    with h5py.File(checkpoint, "r") as f:
        return yaml.safe_load(f.attrs["mrcnn_config"]), int(f.attrs["epoch"])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("augment_list")
    data = write_via2(root / "data", count=6)
    yaml_path = config_with(root, AUGMENTATION)
    logs = root / "logs"
    return root, data, logs, yaml_path


def checkpoints(logs):
    return sorted(glob.glob(os.path.join(str(logs), "mrcnn*", "mask_rcnn_mrcnn_*.h5")))


def test_a_yaml_list_trains_and_survives_the_checkpoint_and_resume(run, caplog):
    _, data, logs, yaml_path = run
    assert main(["train", "--dataset", str(data), "--config", str(yaml_path), "--logs", str(logs),
                 "--weights=none", "--epochs", "1"]) == 0
    # The vanished-instance summary of the augmented epoch.
    assert "Epoch 1 augmentation: 2 images" in caplog.text
    first = checkpoints(logs)
    settings, epoch = saved(first[0])
    assert epoch == 1 and settings["AUGMENTATION"] == AUGMENTATION

    # --weights=last takes the settings from the checkpoint (no --config) and
    # continues the same run: the list compares equal to the saved one.
    caplog.clear()
    assert main(["train", "--dataset", str(data), "--logs", str(logs), "--weights=last",
                 "--epochs", "2"]) == 0
    files = checkpoints(logs)
    assert len(files) == 2 and os.path.dirname(files[1]) == os.path.dirname(files[0])
    settings, epoch = saved(files[1])
    assert epoch == 2 and settings["AUGMENTATION"] == AUGMENTATION
    assert "Epoch 2 augmentation: 2 images" in caplog.text
    assert "settings differ" not in caplog.text.lower()


@pytest.mark.parametrize("entry,expected", [
    ({"HorizontalFlp": {"p": 0.5}}, "AUGMENTATION[1]: 'HorizontalFlp' is not an albumentations "
                                    "transform; did you mean HorizontalFlip?"),
    ({"Affine": {"rotation": [-15, 15]}}, "AUGMENTATION[1] Affine: unknown argument(s) "
                                          "'rotation' (did you mean rotate?); Affine takes scale"),
])
def test_a_bad_entry_is_one_usage_line_naming_the_file(run, tmp_path, capsys, entry, expected):
    _, data, _, _ = run
    bad = config_with(tmp_path, [AUGMENTATION[0], entry], name="bad.yaml")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--dataset", str(data), "--config", str(bad), "--logs",
              str(tmp_path / "logs"), "--weights=none"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"mrcnn train: error: {bad}: {expected}"), err[-1]
    assert "Traceback" not in "\n".join(err)
    assert not os.path.exists(tmp_path / "logs")
