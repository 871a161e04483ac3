"""One worker of a two-worker cluster on 127.0.0.1, for
tests/core/test_multi_worker.py: runs `mrcnn train` (mrcnn.cli.main with a
tiny config and DiscsAndBars) under TF_CONFIG, and records what it did.

    python tests/core/multi_worker_worker.py OUT_DIR INDEX PORT0,PORT1 LOGS

Two runs, one after the other in this process (one cluster):
"new": --weights none --epochs 3, with validation; the chief's --logs is
LOGS, worker 1's OUT_DIR/logs_1 (which must stay empty); worker 1 stops
training after epoch 2 (as EarlyStopping would), and so must the chief.
"resume": --weights=last --epochs 4 on LOGS (a shared filesystem); worker 1
kills itself (SIGKILL) after the first step of epoch 4, so the chief must
stop with a message naming it.
OUT_DIR/<run>_<INDEX>.json: mrcnn train's exit code, what train() started
from, the batches each generator made, the images each replica computed
on at each step and timings; OUT_DIR/<run>_<INDEX>_start.npz and _epoch<N>.npz: the
weights when train() starts and after epoch N.
"""
import importlib
import json
import os
import signal
import sys
import time

STARTED = time.time()
OUT, INDEX, PORTS, LOGS = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
# Before TensorFlow is imported: the cluster and this task.
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"127.0.0.1:{port}" for port in PORTS.split(",")]},
    "task": {"type": "worker", "index": INDEX}})
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE), os.path.dirname(os.path.dirname(HERE))]

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tiny import TinyConfig, tiny_dataset  # noqa: E402

from mrcnn import cli  # noqa: E402
from mrcnn.data.pipeline import DataGenerator  # noqa: E402
from mrcnn.model import MaskRCNN  # noqa: E402
from mrcnn.training.keras_model import MaskRCNNTrainingModel  # noqa: E402

importlib.import_module("tiny_backbone")  # registers BACKBONE "tiny"


class ClusterConfig(TinyConfig):
    IMAGES_PER_GPU = 2        # 2 workers x 1 replica: global batches of 4
    STEPS_PER_EPOCH = 2
    VALIDATION_STEPS = 1
    DATA_WORKERS = 1
    # Learned BatchNorm statistics, recomputed from 2 batches each epoch:
    # the weights that each worker would update on its own.
    NORMALIZATION = "batch"
    BN_STATISTICS_BATCHES = 2


TRAIN = tiny_dataset(12, seed=0)
VAL = tiny_dataset(4, seed=1)
ROLES = {id(TRAIN): "train", id(VAL): "val"}
# What the current run recorded (see the module docstring).
RECORD = {}
RUN_ARGS = {"new": ["--weights", "none", "--epochs", "3"],
            "resume": ["--weights", "last", "--epochs", "4"]}


def save_record(**extra):
    with open(os.path.join(OUT, f"{RECORD['run']}_{INDEX}.json"), "w") as f:
        json.dump(dict(RECORD, **extra), f)


def load(path, config, **options):
    # Validation in the new run only: tracing its step costs time.
    return {"train": TRAIN, "val": VAL if RECORD["run"] == "new" else None}


original_getitem = DataGenerator.__getitem__


def getitem(self, index):
    batch = original_getitem(self, index)
    role = ROLES.get(id(self.dataset), "other")
    if role == "train" and self.shard is None:
        role = "statistics"     # precise BN's whole batches
    RECORD["batches"].append({"role": role,
                              "epoch": self._epoch, "index": int(index),
                              "ids": [int(m[0]) for m in batch["input_image_meta"]]})
    return batch


original_train_step = MaskRCNNTrainingModel.train_step


def record_step(image_ids):
    RECORD["step_image_ids"].append([int(i) for i in image_ids.numpy()])


def train_step(self, data):
    inputs = data[0] if isinstance(data, (tuple, list)) else data
    # At every step, on every replica: the images it computes on.
    tf.py_function(record_step, [tf.cast(inputs["input_image_meta"][:, 0], tf.int64)], [])
    return original_train_step(self, data)


class Record(keras.callbacks.Callback):
    """Weights after each epoch. Worker 1 stops the new run after epoch 2
    (as EarlyStopping would), and dies after the first step of epoch 4 of
    the resumed run."""

    def on_epoch_end(self, epoch, logs=None):
        np.savez(os.path.join(OUT, f"{RECORD['run']}_{INDEX}_epoch{epoch + 1}.npz"),
                 *self.model.get_weights())
        RECORD["epochs_done"].append(epoch + 1)
        if RECORD["run"] == "new" and INDEX == 1 and epoch + 1 == 2:
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if RECORD["run"] == "resume" and INDEX == 1 and RECORD["epochs_done"][-1:] == [3]:
            save_record(killed_after_step=batch + 1)
            os.kill(os.getpid(), signal.SIGKILL)


original_train = MaskRCNN.train


def train(self, *args, **kwargs):
    RECORD["train_calls"].append({
        "seconds_before": time.time() - RECORD["started"], "start_epoch": self.epoch,
        "batch_size": self.config.BATCH_SIZE, "images_per_gpu": self.config.IMAGES_PER_GPU,
        "replicas": self.strategy.num_replicas_in_sync})
    np.savez(os.path.join(OUT, f"{RECORD['run']}_{INDEX}_start.npz"),
             *self.keras_model.get_weights())
    kwargs["custom_callbacks"] = [Record()]
    try:
        return original_train(self, *args, **kwargs)
    finally:
        RECORD["train_calls"][-1].update(
            seconds_after=time.time() - RECORD["started"], end_epoch=self.epoch,
            data_seed=int(self.data_seed), log_dir=self.log_dir)


DataGenerator.__getitem__ = getitem
MaskRCNNTrainingModel.train_step = train_step
MaskRCNN.train = train


def main():
    code = None
    for run in ("new", "resume"):
        RECORD.clear()
        RECORD.update(run=run, started=time.time(), seconds_into_process=time.time() - STARTED,
                      batches=[], step_image_ids=[], train_calls=[], epochs_done=[])
        # A new run: the workers other than the chief get a --logs of their
        # own, which must stay empty. Continuing: the chief's (a shared
        # filesystem), where --weights=last finds its checkpoint.
        logs = LOGS if run == "resume" or INDEX == 0 else os.path.join(OUT, f"logs_{INDEX}")
        code = cli.main(["train", "--logs", logs, "--layers", "all", *RUN_ARGS[run]],
                        config_class=ClusterConfig, dataset_loader=load, prog="mrcnn",
                        dataset_required=False)
        save_record(exit_code=code)
        if code:
            break
    return code


if __name__ == "__main__":
    sys.exit(main())
