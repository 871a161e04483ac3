"""Bad flags and bad values stop the CLI before any work, with the usage
line and a message that names the flag or the setting."""
import pytest
from cli_fixtures import TINY_YAML, write_via2

from mrcnn.cli import main


def usage_error(capsys, argv):
    """Run main(argv) expecting argparse's exit; returns stderr."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: mrcnn")
    return err


@pytest.fixture
def dataset(tmp_path):
    return str(write_via2(tmp_path / "data", count=3))


@pytest.mark.parametrize("argv, message", [
    (["train", "--dataset", "x", "--bogus"], "unrecognized arguments: --bogus"),
    (["train"], "the following arguments are required: --dataset"),
    (["train", "--dataset", "x", "--epochs", "0"], "argument --epochs: 0 is not >= 1"),
    (["train", "--dataset", "x", "--epochs", "two"], "'two' is not an integer"),
    (["train", "--dataset", "x", "--val-fraction", "1.5"], "1.5 is not in [0, 1)"),
    (["train", "--dataset", "x", "--layers", "res("], "neither heads, 3+, 4+, 5+, all nor"),
    (["train", "--dataset", "x", "--augment", "wild"], "invalid choice: 'wild'"),
    (["evaluate", "--dataset", "x", "--iou-type", "mask"], "invalid choice: 'mask'"),
    (["evaluate", "--dataset", "x", "--min-confidence", "1.5"], "1.5 is not in [0, 1]"),
    (["predict", "--images", "x"], "required: --out"),
    (["predict", "--images", "x", "--out", "y", "--format", "voc"], "invalid choice: 'voc'"),
    (["splash", "--image", "a.jpg", "--video", "b.avi"], "not allowed with argument"),
    (["splash"], "one of the arguments --image --video is required"),
])
def test_bad_flags(capsys, argv, message):
    assert message in usage_error(capsys, argv)


@pytest.mark.parametrize("extra, message", [
    (["--set", "IMAGE_MAX_DIM"], "write it as KEY=VALUE"),
    (["--set", "NO_SUCH_SETTING=1"], "Unknown setting 'NO_SUCH_SETTING'"),
    (["--set", "IMAGE_MAX_DIM=100"], "IMAGE_MAX_DIM: is 100; image sides must be divisible by 64"),
    (["--set", "BATCH_SIZE=4"], "BATCH_SIZE is derived"),
    (["--set", "TRAINING_SCHEDULE=[{layers: heads}]"], "TRAINING_SCHEDULE: stage 0"),
    (["--weights", "no/such/file.h5"], "--weights=no/such/file.h5: no such file"),
    (["--config", "no/such.yaml"], "--config no/such.yaml: no such file"),
    (["--set", "NUM_CLASSES=5"], "NUM_CLASSES is 5 but the dataset has 2 classes ['a', 'b']"),
])
def test_bad_values(capsys, tmp_path, dataset, extra, message):
    argv = ["train", "--dataset", dataset, "--config", TINY_YAML, "--logs", str(tmp_path),
            "--epochs", "1", *extra]
    assert message in usage_error(capsys, argv)
    assert not list(tmp_path.glob("mrcnn*"))  # nothing started


def test_weights_last_without_a_run_names_the_folder(capsys, tmp_path, dataset):
    code = main(["evaluate", "--dataset", dataset, "--logs", str(tmp_path / "empty"),
                 "--config", TINY_YAML])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("mrcnn evaluate: ") and "empty" in err and "mrcnn" in err


def test_missing_dataset_is_reported_with_its_path(capsys, tmp_path):
    code = main(["train", "--dataset", str(tmp_path / "nothing"), "--logs", str(tmp_path)])
    assert code == 2
    assert "nothing: no such file or folder" in capsys.readouterr().err


def test_help_lists_every_command(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "predict", "splash", "validate", "split"):
        assert f"    {command} " in out


def test_runs_go_to_the_checkouts_logs_from_any_working_directory(tmp_path, monkeypatch):
    from cli_fixtures import REPO

    from mrcnn.commands.project import Project

    monkeypatch.chdir(tmp_path)
    assert Project().default_logs == str(REPO / "logs")
    assert Project(logs_dir="/elsewhere").default_logs == "/elsewhere"
