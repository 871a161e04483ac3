"""Training on several machines: `mrcnn train` under TF_CONFIG runs
tf.distribute.MultiWorkerMirroredStrategy.

A two-worker cluster on 127.0.0.1 (two processes, CPU, free ports; the
helper tests/core/multi_worker_worker.py) trains a tiny model from scratch
until worker 1 stops after epoch 2, then continues with --weights=last, and
worker 1 is killed after the first step of epoch 4. The fixture runs it
once (about a minute on 2 cores); the tests read what each worker recorded.
"""
import json
import os
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import tensorflow as tf
from tiny import TinyConfig, tiny_dataset

from mrcnn.data.pipeline import DataGenerator
from mrcnn.training.checkpoints import find_last_checkpoint, list_checkpoints, list_runs
from mrcnn.training.cluster import (
    Cluster,
    ClusterError,
    cluster_from_environment,
    lost_worker,
)
from mrcnn.training.results import read_results

# A hang fails the test instead of blocking the run.
pytestmark = pytest.mark.timeout(900)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WORKERS = 2


class ClusterConfig(TinyConfig):
    """The helper's config, as every worker sees it (GPU_COUNT: the
    cluster's replicas)."""
    IMAGES_PER_GPU = 2
    GPU_COUNT = WORKERS
    STEPS_PER_EPOCH = 2
    VALIDATION_STEPS = 1
    DATA_WORKERS = 1
    NORMALIZATION = "batch"
    BN_STATISTICS_BATCHES = 2


def free_ports(count):
    """Ports nothing listens on now (held open together, so distinct)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_cluster(out, logs, attempt):
    """Start both workers and wait for them (at most 10 minutes). Returns
    the ports and [(exit code, stdout, stderr)] of each, or None when a
    worker could not listen on its port (another program took it)."""
    ports = free_ports(WORKERS)
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")
    files = [(out / f"stdout_{attempt}_{i}.txt", out / f"stderr_{attempt}_{i}.txt")
             for i in range(WORKERS)]
    processes = []
    try:
        for index, (stdout, stderr) in enumerate(files):
            with open(stdout, "w") as o, open(stderr, "w") as e:
                processes.append(subprocess.Popen(
                    [sys.executable, os.path.join(HERE, "multi_worker_worker.py"), str(out),
                     str(index), ",".join(map(str, ports)), str(logs)],
                    cwd=REPO, env=env, stdout=o, stderr=e))
        deadline = time.monotonic() + 600
        while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
            # The others would wait for a worker that could not start.
            if any(p.poll() is not None and "Failed to add port" in stderr.read_text()
                   for p, (_, stderr) in zip(processes, files)):
                return ports, None
            time.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
    return ports, [(p.returncode, o.read_text(), e.read_text())
                   for p, (o, e) in zip(processes, files)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    out = tmp_path_factory.mktemp("cluster")
    logs = out / "logs"
    for attempt in range(3):
        ports, results = run_cluster(out, logs, attempt)
        if results is not None:
            break
    assert results is not None, "no free ports in 3 attempts"
    records = {}
    for run in ("new", "resume"):
        for index in range(WORKERS):
            path = out / f"{run}_{index}.json"
            if path.exists():
                records[run, index] = json.loads(path.read_text())
    return {"out": out, "logs": logs, "ports": ports, "results": results, "records": records}


def weights(cluster, name):
    with np.load(cluster["out"] / f"{name}.npz") as f:
        return [f[key] for key in f.files]


def describe(cluster):
    return "\n".join(f"worker {i}: exit {code}\n{out[-2000:]}\n{err[-4000:]}"
                     for i, (code, out, err) in enumerate(cluster["results"]))


def expected_batch(dataset, seed, epoch, index, steps):
    """Global batch `index` of generator epoch `epoch`: the image ids that
    one process training on the whole batch draws."""
    generator = DataGenerator(dataset, ClusterConfig(), shuffle=True, steps=steps, seed=seed,
                              initial_epoch=epoch, workers=1)
    return [int(m[0]) for m in generator[index]["input_image_meta"]]


def test_the_new_run_trains_on_both_workers_to_the_same_weights(cluster):
    """All weights, the BatchNorm statistics each worker learns from its own
    images included."""
    new = [cluster["records"].get(("new", i)) for i in range(WORKERS)]
    assert all(r and r["exit_code"] == 0 for r in new), describe(cluster)
    for record in new:
        call = record["train_calls"][0]
        # Worker 1 stopped training after epoch 2 of 3: both stopped there.
        assert call["start_epoch"] == 0 and record["epochs_done"] == [1, 2]
        # One global batch of IMAGES_PER_GPU x replicas images a step.
        assert (call["batch_size"], call["images_per_gpu"], call["replicas"]) == (4, 2, 2)
    # All workers train the chief's run: its folder and its data seed.
    assert new[0]["train_calls"][0]["log_dir"] == new[1]["train_calls"][0]["log_dir"]
    assert new[0]["train_calls"][0]["data_seed"] == new[1]["train_calls"][0]["data_seed"]
    start, end = weights(cluster, "new_0_start"), weights(cluster, "new_0_epoch2")
    assert sum(not np.array_equal(a, b) for a, b in zip(start, end)) > len(start) // 2
    for epoch in (1, 2):
        chief, worker = (weights(cluster, f"new_{i}_epoch{epoch}") for i in range(WORKERS))
        assert all(np.array_equal(a, b) for a, b in zip(chief, worker)), epoch
    port = cluster["ports"][1]
    assert (f"Training stops after epoch 2 because worker 1 (127.0.0.1:{port}) stopped it"
            in cluster["results"][0][2])


def test_each_worker_computes_on_its_own_part_of_every_global_batch(cluster):
    new = [cluster["records"][("new", i)] for i in range(WORKERS)]
    seed = new[0]["train_calls"][0]["data_seed"]
    train, val = tiny_dataset(12, seed=0), tiny_dataset(4, seed=1)
    for index, record in enumerate(new):
        # Every batch a worker's generators made is its replica's part of
        # the global batch a single process would draw, IMAGES_PER_GPU images.
        for batch in record["batches"]:
            dataset, steps, data_seed = {"train": (train, 2, seed), "val": (val, 1, seed + 1),
                                         "statistics": (train, 2, seed + 2)}[batch["role"]]
            whole = expected_batch(dataset, data_seed, batch["epoch"], batch["index"], steps)
            # Precise BN's batches are whole, the same on every worker.
            part = whole if batch["role"] == "statistics" else whole[2 * index:2 * index + 2]
            assert batch["ids"] == part, batch
    # At each of the 4 steps each replica computed on 2 images, the two
    # replicas on different ones, together the whole global batch.
    steps = [record["step_image_ids"] for record in new]
    assert [len(s) for s in steps] == [4, 4]
    for step, (first, second) in enumerate(zip(*steps)):
        assert len(first) == len(second) == 2 and not set(first) & set(second), step
        assert any(first + second == expected_batch(train, seed, epoch, step % 2, 2)
                   for epoch in range(4)), step
    # In every epoch the workers load different training images.
    epochs = {batch["epoch"] for batch in new[0]["batches"] if batch["role"] == "train"}
    for epoch in epochs:
        loaded = [{i for batch in record["batches"] if (batch["role"], batch["epoch"]) ==
                   ("train", epoch) for i in batch["ids"]} for record in new]
        assert loaded[0] and loaded[1] and not loaded[0] & loaded[1], epoch


def test_only_the_chief_writes_the_run(cluster):
    runs = list_runs(str(cluster["logs"]), "tiny")
    assert len(runs) == 1, runs
    # Worker 1's own --logs of the new run stayed empty (never created).
    assert not (cluster["out"] / "logs_1").exists()
    run = runs[0]
    assert [epoch for epoch, _ in list_checkpoints(run, "tiny")] == [1, 2, 3]
    assert sorted(read_results(os.path.join(run, "results.csv"))) == [1, 2, 3]
    assert os.listdir(os.path.join(run, "train")) and os.listdir(os.path.join(run, "validation"))
    assert not [name for name in os.listdir(run) if ".tmp" in name]


def test_weights_last_resumes_the_whole_cluster(cluster):
    resume = [cluster["records"].get(("resume", i)) for i in range(WORKERS)]
    assert all(resume), describe(cluster)
    new_seed = cluster["records"][("new", 0)]["train_calls"][0]["data_seed"]
    last_of_new = weights(cluster, "new_0_epoch2")
    for index, record in enumerate(resume):
        assert record["train_calls"][0]["start_epoch"] == 2
        assert record["epochs_done"][:1] == [3]
        # The chief's checkpoint of epoch 2 loaded exactly, on both workers.
        start = weights(cluster, f"resume_{index}_start")
        assert all(np.array_equal(a, b) for a, b in zip(start, last_of_new))
        # The resumed run draws the images of the uninterrupted run.
        for batch in record["batches"]:
            if batch["role"] == "train":
                whole = expected_batch(tiny_dataset(12, seed=0), new_seed, batch["epoch"],
                                       batch["index"], 2)
                assert batch["ids"] == whole[2 * index:2 * index + 2], batch
    chief, worker = weights(cluster, "resume_0_epoch3"), weights(cluster, "resume_1_epoch3")
    assert all(np.array_equal(a, b) for a, b in zip(chief, worker))
    checkpoint = find_last_checkpoint(str(cluster["logs"]), "tiny")
    assert checkpoint.endswith("mask_rcnn_tiny_0003.h5")
    with h5py.File(checkpoint, "r") as f:
        assert int(f.attrs["mrcnn_data_seed"]) == new_seed


def test_a_lost_worker_stops_the_others_with_a_message_naming_it(cluster):
    (chief_code, _, chief_err), (worker_code, _, _) = cluster["results"]
    killed = cluster["records"].get(("resume", 1), {})
    assert killed.get("killed_after_step") == 1 and worker_code == -9, describe(cluster)
    assert chief_code == 2, describe(cluster)
    message = [line for line in chief_err.splitlines() if line.startswith("mrcnn train: ")]
    assert len(message) == 1, chief_err[-3000:]
    assert f"lost worker 1 (127.0.0.1:{cluster['ports'][1]})" in message[0]
    assert "--weights=last" in message[0] and "Traceback" not in chief_err


# ---- without a cluster ----------------------------------------------------

def test_tf_config_names_the_task_and_its_place_among_the_training_tasks():
    spec = {"cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"]},
            "task": {"type": "worker", "index": 1}}
    cluster = cluster_from_environment({"TF_CONFIG": json.dumps(spec)})
    assert (cluster.index, cluster.workers, cluster.is_chief) == (2, 3, False)
    assert cluster.name() == "worker 1 (c:3)" and cluster.shard == (2, 3)
    chief = Cluster(spec["cluster"], "chief", 0)
    assert chief.is_chief and chief.shard == (0, 3)
    assert cluster_from_environment({}) is None
    assert cluster_from_environment({"TF_CONFIG": '{"task": {"type": "worker"}}'}) is None


@pytest.mark.parametrize("text, words", [
    ("{not json", "not the JSON"),
    ('{"cluster": {"worker": ["a:1"]}}', "no task"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "ps", "index": 0}}',
     "not a training task"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
     "not a training task"),
])
def test_a_wrong_tf_config_is_one_line_naming_it(text, words):
    with pytest.raises(ClusterError, match=words) as caught:
        cluster_from_environment({"TF_CONFIG": text})
    assert "TF_CONFIG" in str(caught.value) and "\n" not in str(caught.value)


def test_tensorflow_errors_about_a_peer_name_the_lost_worker():
    cluster = Cluster({"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "worker", 0)
    heartbeat = tf.errors.UnavailableError(None, None, (
        "Collective ops is aborted by: Error reported from /job:worker/task:1: The following "
        "tasks are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1"))
    lost = lost_worker(heartbeat, cluster)
    assert (lost.task, lost.address) == ("worker 1", "10.0.0.2:2222")
    assert str(lost).startswith("lost worker 1 (10.0.0.2:2222)")
    worker = Cluster({"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "worker", 1)
    refused = tf.errors.UnavailableError(None, None, (
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.1:2222: "
        "Connection refused"))
    assert lost_worker(refused, worker).task == "worker 0"
    # Other TensorFlow errors are not about a peer, though they name devices.
    bug = tf.errors.InvalidArgumentError(None, None, (
        "Incompatible shapes: [2,4] vs. [2,5] [Op:AddV2] on "
        "/job:worker/replica:0/task:1/device:CPU:0"))
    assert lost_worker(bug, cluster) is None


def test_sharded_generators_split_each_global_batch_between_workers():
    config = ClusterConfig()
    dataset = tiny_dataset(12, seed=0)
    whole = DataGenerator(dataset, config, seed=7, initial_epoch=3, workers=1)
    parts = [DataGenerator(dataset, config, seed=7, initial_epoch=3, workers=1,
                           shard=(index, WORKERS)) for index in range(WORKERS)]
    assert len(whole) == 2 and [len(p) for p in parts] == [2, 2]
    for step in range(2):
        batch = whole[step]
        items = [part[step] for part in parts]
        # The images and their ground truth (the anchors' sampling draws
        # from a generator seeded per replica).
        for key in ("input_image", "input_image_meta", "input_gt_class_ids", "input_gt_boxes",
                    "input_gt_masks"):
            np.testing.assert_array_equal(np.concatenate([item[key] for item in items]),
                                          batch[key], err_msg=key)
        ids = [[int(m[0]) for m in item["input_image_meta"]] for item in items]
        assert ids[0] + ids[1] == [int(m[0]) for m in batch["input_image_meta"]]
        assert parts[1].batch_image_ids(step) == ids[1]
    with pytest.raises(ValueError, match="does not split"):
        DataGenerator(dataset, config, shard=(0, 3))
