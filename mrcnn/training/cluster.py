"""Training on several machines: tf.distribute.MultiWorkerMirroredStrategy
from TF_CONFIG.

The launcher (Kubernetes' TF operator, Vertex AI, SageMaker, or a shell on
each machine) starts the same `mrcnn train` command on every machine with
TF_CONFIG naming the cluster and this process's task in it:

    TF_CONFIG='{"cluster": {"worker": ["host0:2222", "host1:2222"]},
                "task": {"type": "worker", "index": 0}}'

Tasks of the jobs "chief" and "worker" train; the chief is the "chief" task,
or worker 0 when there is none. Every replica of the cluster (each GPU, or a
worker's CPU) takes IMAGES_PER_GPU images of each global batch of BATCH_SIZE
= IMAGES_PER_GPU x replicas (GPU_COUNT is set to the cluster's replica
count), and the gradients are averaged across all of them, so every worker
holds the same weights after each step.

- Data: every worker reads the same dataset and draws the same image order
  (the chief's data seed); worker w loads only its own replicas' images of
  each global batch (`DataGenerator(shard=(w, workers))`), handed to fit()
  as per-replica batches (`WorkerInput`), without tf.data's auto-sharding.
- Files: the chief creates the run folder and writes the checkpoints,
  TensorBoard logs, results.csv/png and the evaluation; the other workers
  write nothing (`join_chief_run` gives them the chief's folder, epoch and
  data seed, and checks that they train the same thing).
- A worker that stops (killed, crashed, unreachable) is noticed by
  TensorFlow's coordination service within seconds; the others' pending
  collectives are aborted and `peer_failures` turns the error into
  WorkerLost naming the task and its address.
"""
import contextlib
import json
import logging
import os
import re
import zlib

import keras
import numpy as np
import tensorflow as tf
import yaml

from mrcnn.console import inform
from mrcnn.modeling.normalization import learning_statistics

logger = logging.getLogger(__name__)

TRAINING_JOBS = ("chief", "worker")
# Bytes of a run folder's path that join_chief_run sends to the workers.
_MAX_PATH_BYTES = 4096
_TASK_IN_MESSAGE = re.compile(r"/job:(\w+)(?:/replica:\d+)?/task:(\d+)")
# What TensorFlow's errors say when a collective lost a peer.
_ABOUT_A_PEER = ("Collective ops is aborted", "unhealthy", "heartbeat", "coordination service",
                 "failed to connect", "Connection reset")

_strategy = None


class ClusterError(RuntimeError):
    """Training in a cluster cannot go on: TF_CONFIG is wrong, TensorFlow
    ran before the strategy was made, or the workers do not train the same
    run. The message is one line naming the task at fault and what to do."""


class WorkerLost(ClusterError):
    """A worker of the cluster stopped (killed, crashed, unreachable) and
    training stopped on the others. The message names it and what to do.

    task: "<job> <index>" of the lost task, or None when TensorFlow's error
    named none; address: its host:port from TF_CONFIG, or None."""

    def __init__(self, message, task=None, address=None):
        super().__init__(message)
        self.task = task
        self.address = address


class Cluster:
    """This process's place in a training cluster.

    jobs: {job name: [host:port, ...]} (TF_CONFIG's "cluster");
    task_type, task_index: this task. `index` is the task's position among
    the training tasks (the chief first), `workers` their count.
    """

    def __init__(self, jobs, task_type, task_index):
        self.jobs = {job: list(addresses) for job, addresses in jobs.items()}
        self.task_type = task_type
        self.task_index = int(task_index)
        self.training_tasks = [(job, i) for job in TRAINING_JOBS
                               for i in range(len(self.jobs.get(job, [])))]
        if (task_type, self.task_index) not in self.training_tasks:
            raise ClusterError(
                f"TF_CONFIG: task {task_type} {task_index} is not a training task of the cluster "
                f"({self.describe_tasks()}); mrcnn trains on 'chief' and 'worker' tasks only")
        self.index = self.training_tasks.index((task_type, self.task_index))
        self.workers = len(self.training_tasks)

    @classmethod
    def from_strategy(cls, strategy):
        """The Cluster of a MultiWorkerMirroredStrategy with a cluster, else None."""
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return None
        resolver = strategy.cluster_resolver
        jobs = resolver.cluster_spec().as_dict()
        if not jobs:
            return None
        jobs = {job: (addresses if isinstance(addresses, list)
                      else [addresses[i] for i in sorted(addresses)])
                for job, addresses in jobs.items()}
        return cls(jobs, resolver.task_type, resolver.task_id)

    @property
    def is_chief(self):
        return self.index == 0

    @property
    def shard(self):
        """(index, workers): DataGenerator's `shard` for this worker."""
        return self.index, self.workers

    def name(self, task_type=None, task_index=None):
        """'worker 1 (host:port)' of a task (default: this one)."""
        task_type = self.task_type if task_type is None else task_type
        task_index = self.task_index if task_index is None else int(task_index)
        addresses = self.jobs.get(task_type, [])
        address = addresses[task_index] if task_index < len(addresses) else "?"
        return f"{task_type} {task_index} ({address})"

    def describe_tasks(self):
        return ", ".join(f"{job} {i} at {address}" for job, addresses in self.jobs.items()
                         for i, address in enumerate(addresses))

    def describe(self, strategy=None):
        """One line: this task's role and the cluster."""
        role = ("the chief (it writes the run's files)" if self.is_chief else
                f"a worker (the chief, {self.name(*self.training_tasks[0])}, writes the run's "
                "files)")
        what = (f"Cluster (TF_CONFIG): this process is {self.name()}, {role}, one of "
                f"{self.workers} training tasks: {self.describe_tasks()}")
        if strategy is not None:
            what += (f"; {len(strategy.extended.worker_devices)} replica(s) here, "
                     f"{strategy.num_replicas_in_sync} in the cluster")
        return what


def cluster_from_environment(environ=None):
    """The training Cluster that TF_CONFIG names, or None when TF_CONFIG is
    unset, empty or has no "cluster". Raises ClusterError (naming TF_CONFIG)
    when it does not parse or its task is not a chief/worker of the cluster."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        spec = json.loads(text)
        jobs = spec.get("cluster") or {}
        task = spec.get("task") or {}
    except (ValueError, AttributeError) as e:
        raise ClusterError(f"TF_CONFIG is not the JSON object TensorFlow expects "
                         f"({{'cluster': {{...}}, 'task': {{'type': ..., 'index': ...}}}}): "
                         f"{e}") from None
    if not jobs:
        return None
    if "type" not in task:
        raise ClusterError("TF_CONFIG names a cluster but no task: add "
                         "\"task\": {\"type\": \"worker\", \"index\": N} for this process")
    return Cluster(jobs, task["type"], task.get("index", 0))


def cluster_strategy(quiet=False):
    """The process's MultiWorkerMirroredStrategy when TF_CONFIG names a
    cluster (created on the first call, then the same one), else None.

    TensorFlow configures collective operations when it initialises, so this
    must run before anything else uses TensorFlow: `mrcnn train` calls it
    first, and MaskRCNN("training", ...) calls it when it builds the model.
    quiet: do not say the role line (the caller prints it itself).
    Raises ClusterError with what to do when TensorFlow already ran.
    """
    global _strategy
    if _strategy is not None:
        return _strategy
    cluster = cluster_from_environment()
    if cluster is None:
        return None
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as e:
        if "startup" not in str(e):
            raise
        raise ClusterError(
            "TF_CONFIG names a cluster, but TensorFlow was already running in this process: "
            "build MaskRCNN('training', ...) (or call "
            "mrcnn.training.cluster.cluster_strategy()) before any other TensorFlow work") from None
    _strategy = strategy
    if not quiet:
        inform(logger, "%s", cluster.describe(strategy))
    return strategy


def _sum_of_replicas(strategy, values, contributes):
    """The sum over the cluster's replicas of `values` (numpy [n]) from each
    replica r with contributes(r) (r: its replica_id_in_sync_group), zeros
    from the others; the same numpy [n] on every worker."""
    zeros = np.zeros_like(values)

    def value(context):
        return tf.constant(values if contributes(context.replica_id_in_sync_group) else zeros)

    per_replica = strategy.experimental_distribute_values_from_function(value)
    return np.asarray(strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None))


def _int64_from_chief(strategy, values):
    """The chief's `values` (int64 [n]) on every worker: only the chief's
    first replica contributes to the sum."""
    return _sum_of_replicas(strategy, np.asarray(values, np.int64), lambda replica: replica == 0)


def _sum_over_workers(strategy, values):
    """The sum of each worker's `values` (numpy [n], int64 or float) (each
    counted once, by its first replica)."""
    local = len(strategy.extended.worker_devices)
    return _sum_of_replicas(strategy, np.asarray(values), lambda replica: replica % local == 0)


def wait_for_all_workers(strategy):
    """Return when every worker of the cluster has called this (a
    collective of one number)."""
    _int64_from_chief(strategy, [0])


def dataset_fingerprint(dataset):
    """crc32 of a Dataset's images (sources, ids, file names) and classes:
    equal on two workers when they read the same data in the same order,
    wherever its folder is mounted (0 for None)."""
    if dataset is None:
        return 0
    parts = [f"{info.get('source')}:{info.get('id')}:"
             f"{os.path.basename(str(info.get('path') or ''))}" for info in dataset.image_info]
    parts += [str(name) for name in dataset.class_names]
    return zlib.crc32("\n".join(parts).encode("utf-8"))


def join_chief_run(strategy, cluster, data_seed, log_dir, epoch, config, datasets):
    """Make every worker train the chief's run: returns (data_seed, log_dir)
    of the chief, for every worker (a collective: all workers call it at the
    same point). The chief must have created its run folder before.

    Also checks that every worker continues from the same epoch with the
    same settings and datasets; if one does not, every worker raises the same
    ClusterError naming it.
    data_seed: int; log_dir: str; epoch: int (epochs done); config: Config;
    datasets: (train, val or None) Datasets.
    """
    path = os.fsencode(log_dir)
    if len(path) > _MAX_PATH_BYTES:
        raise ClusterError(f"The run folder's path is longer than {_MAX_PATH_BYTES} bytes: "
                           f"{log_dir}; use a shorter --logs")
    settings = yaml.safe_load(config.to_yaml())
    # Loading threads may suit each machine; the rest must be the same.
    settings.pop("DATA_WORKERS", None)
    checked = {
        "epoch (the checkpoint it continues from)": int(epoch),
        "settings": zlib.crc32(json.dumps(settings, sort_keys=True).encode("utf-8")),
        "training images": dataset_fingerprint(datasets[0]),
        "validation images": dataset_fingerprint(datasets[1]),
    }
    # The 62-bit seed in two parts: the collective sums int64.
    mine = [int(data_seed) >> 31, int(data_seed) & (2**31 - 1), *checked.values(), len(path)]
    mine += list(path.ljust(_MAX_PATH_BYTES, b"\0"))
    chief = _int64_from_chief(strategy, mine)
    different = [name for name, value in zip(checked, chief[2:2 + len(checked)])
                 if value != checked[name]]
    # Which workers differ, and in what (bit flags), known to all of them.
    flags = np.zeros(cluster.workers, np.int64)
    flags[cluster.index] = sum(1 << list(checked).index(name) for name in different)
    flags = _sum_over_workers(strategy, flags)
    for index, bits in enumerate(flags):
        if bits:
            task = cluster.training_tasks[index]
            what = [name for k, name in enumerate(checked) if bits >> k & 1]
            raise ClusterError(
                f"{cluster.name(*task)} does not train what the chief does: its "
                f"{', '.join(what)} differ{'s' if len(what) == 1 else ''} from the chief's. "
                "Start every worker with the same command, settings and data, and with "
                "--weights=last on a --logs folder they all see (a shared filesystem)")
    seed = int(chief[0]) << 31 | int(chief[1])
    length = int(chief[2 + len(checked)])
    folder = bytes(int(b) for b in chief[3 + len(checked):3 + len(checked) + length])
    return seed, os.fsdecode(folder)


class SameBatchNormStatistics(keras.callbacks.Callback):
    """Gives every worker the cluster's mean of the moving statistics of
    the BatchNorm layers that learn them, after the last step of each
    epoch.

    Keras updates them from each replica's own images, and precise BN
    (BatchNormStatisticsCallback, which must come before this callback)
    from ROIs each process samples itself: without this, the workers' copies
    would drift apart (the trainable weights stay equal: their gradients are
    averaged). So validation, the chief's checkpoint and the next epoch see
    the same weights on every worker. A no-op without such layers
    (GroupNorm, frozen statistics).

    strategy: the cluster's MultiWorkerMirroredStrategy; steps_per_epoch: int.
    """

    def __init__(self, strategy, steps_per_epoch):
        super().__init__()
        self.strategy = strategy
        self.steps_per_epoch = int(steps_per_epoch)

    def on_train_batch_end(self, batch, logs=None):
        if batch != self.steps_per_epoch - 1:
            return
        variables = learned_statistics(self.model)
        if not variables:
            return
        values = [keras.ops.convert_to_numpy(v) for v in variables]
        flat = np.concatenate([v.ravel() for v in values]).astype(np.float64)
        mean = _sum_over_workers(self.strategy, flat) / Cluster.from_strategy(self.strategy).workers
        start = 0
        for variable, value in zip(variables, values):
            variable.assign(mean[start:start + value.size].reshape(value.shape).astype(value.dtype))
            start += value.size


class StopTogether(keras.callbacks.Callback):
    """Ends fit() on every worker after an epoch at whose end a callback
    stopped it on some (too many unreadable images in a worker's part, a
    user's EarlyStopping): the others would otherwise wait for them in the
    next step forever. Must be the last callback (it reads the decision of
    those before it).

    strategy: the cluster's MultiWorkerMirroredStrategy; cluster: its Cluster.
    """

    def __init__(self, strategy, cluster):
        super().__init__()
        self.strategy = strategy
        self.cluster = cluster

    def on_epoch_end(self, epoch, logs=None):
        flags = np.zeros(self.cluster.workers, np.int64)
        flags[self.cluster.index] = int(bool(self.model.stop_training))
        flags = _sum_over_workers(self.strategy, flags)
        if flags.any() and not self.model.stop_training:
            stopped = [self.cluster.name(*self.cluster.training_tasks[i])
                       for i in np.flatnonzero(flags)]
            logger.warning("Training stops after epoch %d because %s stopped it (its output says "
                           "why)", epoch + 1, " and ".join(stopped))
            self.model.stop_training = True


def learned_statistics(keras_model):
    """The moving_mean and moving_variance variables of the BatchNorm layers
    of `keras_model` (TimeDistributed ones included) that update them when
    training."""
    variables = []
    for layer in keras_model.layers:
        if learning_statistics(layer):
            while isinstance(layer, keras.layers.TimeDistributed):
                layer = layer.layer
            variables += [layer.moving_mean, layer.moving_variance]
    return variables


def lost_worker(error, cluster):
    """WorkerLost for a TensorFlow error that says a peer is gone, naming the
    task (from the error's /job:<type>/task:<index>, else an address of
    TF_CONFIG in it), or None when `error` is not about a peer."""
    if not isinstance(error, tf.errors.OpError):
        return None
    message = str(error.message if hasattr(error, "message") else error)
    peer_error = isinstance(error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                                    tf.errors.AbortedError, tf.errors.CancelledError))
    if not peer_error and not any(words in message for words in _ABOUT_A_PEER):
        # Any other error names this task's devices: not about a peer.
        return None
    named = []
    for job, index in _TASK_IN_MESSAGE.findall(message):
        task = (job, int(index))
        if task in cluster.training_tasks and task not in named:
            named.append(task)
    for job, index in cluster.training_tasks:
        if cluster.jobs[job][index] in message and (job, index) not in named:
            named.append((job, index))
    others = [task for task in named if task != (cluster.task_type, cluster.task_index)]
    task = others[0] if others else None
    who = cluster.name(*task) if task else "a task of the cluster"
    return WorkerLost(
        f"lost {who}: it stopped, crashed or became unreachable (its own output says why), "
        f"so {cluster.name()} stops too ({type(error).__name__}). Restart every worker, "
        "with --weights=last to continue from the chief's newest checkpoint",
        task=f"{task[0]} {task[1]}" if task else None,
        address=cluster.jobs[task[0]][task[1]] if task else None)


@contextlib.contextmanager
def peer_failures(cluster):
    """Raise WorkerLost (see lost_worker) instead of TensorFlow's error when
    a peer of `cluster` is lost inside the block; other errors pass. A no-op
    for cluster None."""
    try:
        yield
    except tf.errors.OpError as error:
        lost = lost_worker(error, cluster) if cluster is not None else None
        if lost is None:
            raise
        raise lost from error


def _keras_adapters():
    # Keras exports no DataAdapter base: the private module of the pinned
    # Keras (requirements.txt); tests/core/test_multi_worker.py runs it.
    from keras.src.trainers.data_adapters.data_adapter import DataAdapter
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    return DataAdapter, PyDatasetAdapter


def worker_input(generator, strategy):
    """fit()'s input on a worker of a cluster: `generator` (a PyDataset whose
    items are this worker's per-replica batches, e.g. a sharded
    DataGenerator), as a Keras DataAdapter that hands them to the replicas
    with `strategy.distribute_datasets_from_function`: no rebatching and no
    auto-sharding, which would make every worker load every image. The
    epoch hooks and the loading threads are Keras' own (PyDatasetAdapter).
    fit() counts `generator.steps` steps per epoch."""
    DataAdapter, PyDatasetAdapter = _keras_adapters()

    class WorkerInput(DataAdapter):
        def __init__(self):
            self.py_dataset = PyDatasetAdapter(generator)
            self._distributed = None

        def get_tf_dataset(self):
            if self._distributed is None:
                self._distributed = strategy.distribute_datasets_from_function(
                    lambda context: self.py_dataset.get_tf_dataset())
            return self._distributed

        def on_epoch_begin(self):
            self.py_dataset.on_epoch_begin()

        def on_epoch_end(self):
            self.py_dataset.on_epoch_end()

        @property
        def num_batches(self):
            return generator.steps

        @property
        def batch_size(self):
            return None

        @property
        def has_partial_batch(self):
            return False

        @property
        def partial_batch_size(self):
            return None

    return WorkerInput()
