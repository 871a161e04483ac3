"""SIGKILL while a checkpoint is being written: `last` is the previous
complete checkpoint and training resumes from it."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
from resume_fixtures import ResumeConfig, datasets

from mrcnn import model as modellib
from mrcnn.training.resume import read_optimizer_state
from mrcnn.weights import load_initial_weights

STEPS = ResumeConfig.STEPS_PER_EPOCH

# Trains to epoch 3; while writing epoch 2's checkpoint, after 40 tensors,
# it signals the test through `marker` and waits to be killed.
TRAINER = textwrap.dedent("""
    import os, sys, time
    import h5py
    model_dir, marker = sys.argv[1:3]
    create_dataset = h5py.Group.create_dataset
    written = [0]

    def slow_create_dataset(self, name, *args, **kwargs):
        if "mask_rcnn_tiny_0002.h5.tmp-" in self.file.filename:
            written[0] += 1
            if written[0] == 40:
                self.file.flush()
                open(marker, "w").close()
                time.sleep(600)
        return create_dataset(self, name, *args, **kwargs)

    h5py.Group.create_dataset = slow_create_dataset
    from resume_fixtures import ResumeConfig, datasets
    from mrcnn import model as modellib
    model = modellib.MaskRCNN("training", ResumeConfig(), model_dir)
    model.train(*datasets(), learning_rate=0.01, epochs=3, layers="heads")
""")


def kill_during_second_checkpoint(tmp_path):
    """Run TRAINER in a child process and SIGKILL it mid-write. Returns its output."""
    here = os.path.dirname(__file__)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [here, os.path.join(here, "..", "core"), os.environ.get("PYTHONPATH", "")]))
    marker, log = tmp_path / "writing", tmp_path / "trainer.log"
    with open(log, "w") as out:
        child = subprocess.Popen([sys.executable, "-c", TRAINER, str(tmp_path / "logs"), str(marker)],
                                 env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while not marker.exists():
            assert child.poll() is None, f"trainer ended early:\n{log.read_text()[-3000:]}"
            assert time.time() < deadline, f"trainer too slow:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    return child.pid


def test_killed_write_leaves_the_previous_checkpoint_as_last(tmp_path):
    pid = kill_during_second_checkpoint(tmp_path)
    (run_dir,) = [e.path for e in os.scandir(tmp_path / "logs")]
    partial = f"mask_rcnn_tiny_0002.h5.tmp-{pid}"
    files = sorted(f for f in os.listdir(run_dir) if ".h5" in f)
    assert files == ["mask_rcnn_tiny_0001.h5", partial]

    model = modellib.MaskRCNN("training", ResumeConfig(), tmp_path / "logs")
    assert model.find_last() == os.path.join(run_dir, "mask_rcnn_tiny_0001.h5")
    load_initial_weights(model, "last")
    assert (model.epoch, model.log_dir) == (1, run_dir)

    model.train(*datasets(), learning_rate=None, epochs=2, layers="heads")
    # Epoch 2 ran again from epoch 1's state; the killed run's partial file is gone.
    assert sorted(os.listdir(run_dir)) == ["mask_rcnn_tiny_0001.h5", "mask_rcnn_tiny_0002.h5",
                                           "results.csv", "results.png", "train", "validation"]
    path = os.path.join(run_dir, "mask_rcnn_tiny_0002.h5")
    with h5py.File(path, "r") as f:
        assert f.attrs["epoch"] == 2
    assert read_optimizer_state(path).iterations == 2 * STEPS
    assert model.find_last() == path
