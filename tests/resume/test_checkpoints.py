"""Which checkpoint `last` means: complete files of this NAME's newest run."""
import logging
import os
import re

import h5py
import numpy as np
import pytest

from mrcnn.training.checkpoints import (checkpoint_problem, continued_run, create_run_dir,
                                        find_last_checkpoint, list_runs, remove_stale_temporaries)


def write_checkpoint(path, epoch=1):
    """A minimal complete file in matterport's layout."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"conv1"])
        f.attrs["epoch"] = epoch
        group = f.create_group("conv1")
        group.attrs["weight_names"] = np.array([b"conv1/kernel:0"])
        group.create_dataset("conv1/kernel:0", data=np.zeros((1, 1, 3, 4), np.float32))
    return str(path)


def test_no_checkpoint_names_the_folder_and_name(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        find_last_checkpoint(str(tmp_path), "Shapes")
    message = str(error.value)
    assert f"model named 'Shapes' in {tmp_path}" in message
    assert "no run folder shapes<YYYYmmddTHHMM>" in message and "--weights=coco" in message
    os.makedirs(tmp_path / "shapes20260101T0000")
    with pytest.raises(FileNotFoundError, match="runs shapes20260101T0000 hold no complete"):
        find_last_checkpoint(str(tmp_path), "shapes")


def test_newest_run_and_epoch_of_this_name(tmp_path):
    write_checkpoint(tmp_path / "tiny20260101T0000" / "mask_rcnn_tiny_0009.h5")
    newest = write_checkpoint(tmp_path / "tiny20260102T0000" / "mask_rcnn_tiny_0010.h5")
    write_checkpoint(tmp_path / "tiny20260102T0000" / "mask_rcnn_tiny_0002.h5")
    # Other names, other files: never taken.
    write_checkpoint(tmp_path / "tinyx20260105T0000" / "mask_rcnn_tinyx_0001.h5")
    write_checkpoint(tmp_path / "tiny20260102T0000" / "mask_rcnn_other_0011.h5")
    write_checkpoint(tmp_path / "tiny20260102T0000" / "best.h5")
    assert find_last_checkpoint(str(tmp_path), "Tiny") == newest


def test_partial_files_are_passed_over(tmp_path, caplog):
    run = tmp_path / "tiny20260101T0000"
    good = write_checkpoint(run / "mask_rcnn_tiny_0001.h5")
    (run / "mask_rcnn_tiny_0002.h5.tmp-12345").write_bytes(b"\x89HDF\r\n half")
    (run / "mask_rcnn_tiny_0003.h5").write_bytes(b"\x89HDF\r\n truncated by a crash")
    with caplog.at_level(logging.WARNING):
        assert find_last_checkpoint(str(tmp_path), "tiny") == good
    assert "mask_rcnn_tiny_0003.h5: cannot be opened" in caplog.text
    assert checkpoint_problem(good) is None


def test_a_run_without_complete_checkpoint_falls_back_to_the_previous_run(tmp_path):
    previous = write_checkpoint(tmp_path / "tiny20260101T0000" / "mask_rcnn_tiny_0004.h5")
    os.makedirs(tmp_path / "tiny20260102T0000")
    (tmp_path / "tiny20260102T0000" / "mask_rcnn_tiny_0001.h5.tmp-99").write_bytes(b"")
    assert find_last_checkpoint(str(tmp_path), "tiny") == previous


def test_continued_run(tmp_path):
    path = tmp_path / "tiny20260101T0930" / "mask_rcnn_tiny_0012.h5"
    assert continued_run(path, "TINY") == (str(tmp_path / "tiny20260101T0930"), 12)
    assert continued_run(path, "shapes") is None
    assert continued_run(tmp_path / "mask_rcnn_coco.h5", "coco") is None


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    dead = tmp_path / "mask_rcnn_tiny_0002.h5.tmp-999999999"
    alive = tmp_path / f"mask_rcnn_tiny_0002.h5.tmp-{os.getppid()}"
    for path in (dead, alive):
        path.write_bytes(b"")
    assert remove_stale_temporaries(str(tmp_path)) == [str(dead)]
    assert os.listdir(tmp_path) == [alive.name]


def test_runs_started_in_the_same_minute_get_their_own_folders(tmp_path):
    first = create_run_dir(str(tmp_path), "Tiny")
    assert re.fullmatch(r"tiny\d{8}T\d{4}", os.path.basename(first))
    # Two more runs that were built in that minute: the folder is taken.
    second = create_run_dir(str(tmp_path), "Tiny", preferred=first)
    third = create_run_dir(str(tmp_path), "Tiny", preferred=first)
    assert len({first, second, third}) == 3
    assert all(os.path.dirname(p) == str(tmp_path) for p in (second, third))
    # Names sort in start order, so `last` is the newest run's checkpoint
    # and a checkpoint in a seconds-stamped folder continues that run.
    assert list_runs(str(tmp_path), "tiny") == [first, second, third]
    for run in (first, second, third):
        write_checkpoint(os.path.join(run, "mask_rcnn_tiny_0001.h5"))
    newest = os.path.join(third, "mask_rcnn_tiny_0001.h5")
    assert find_last_checkpoint(str(tmp_path), "tiny") == newest
    assert continued_run(newest, "tiny") == (third, 1)
    # A free preferred folder is taken as it is.
    free = str(tmp_path / "tiny20300101T0000")
    assert create_run_dir(str(tmp_path), "tiny", preferred=free) == free
