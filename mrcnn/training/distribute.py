"""Data-parallel training over several devices: matterport's GPU_COUNT.

matterport built one tower per GPU and concatenated their outputs on the CPU
(ParallelModel); here Keras 3 does it through tf.distribute: the training
model and its optimizer are created inside a `tf.distribute.MirroredStrategy`
scope, every variable is mirrored on each device, and `fit()` splits each
global batch of BATCH_SIZE = IMAGES_PER_GPU * GPU_COUNT images into GPU_COUNT
per-replica batches of IMAGES_PER_GPU. Each replica computes its gradients,
the optimizer sums them across replicas (all-reduce) and applies the same
update to every copy.

    strategy = distribution_strategy(config)
    with strategy.scope():
        model = ...build and compile...
    model.fit(batches_of_BATCH_SIZE)

On several machines (TF_CONFIG naming a cluster) the strategy is
tf.distribute.MultiWorkerMirroredStrategy: see mrcnn.training.cluster.
"""
import logging

import tensorflow as tf

from mrcnn.training.cluster import Cluster, cluster_strategy

logger = logging.getLogger("mrcnn")


def distribution_strategy(config):
    """The tf.distribute strategy that trains `config` on GPU_COUNT devices.

    - A strategy whose scope is already active (the caller opened
      `with strategy.scope():`): that one. Variables are created in it
      anyway, and another strategy's scope cannot be opened inside it.
    - TF_CONFIG names a cluster: the process's MultiWorkerMirroredStrategy
      (mrcnn.training.cluster.cluster_strategy). In a cluster (either way)
      each replica takes IMAGES_PER_GPU images: GPU_COUNT is set to the
      cluster's replica count, so that BATCH_SIZE is the global batch.
    - GPU_COUNT == 1: the default strategy (one device, no replication).
    - At least GPU_COUNT GPUs visible: MirroredStrategy over the first
      GPU_COUNT of them (cross-device reduction chosen by TensorFlow: NCCL
      where available).
    - Fewer GPUs, but at least GPU_COUNT logical CPU devices (the CPU split
      with tf.config.set_logical_device_configuration before TensorFlow
      initialised): MirroredStrategy over those CPUs, reducing through one
      device (NCCL is GPU-only).
    - Otherwise: one warning naming GPU_COUNT and the devices found, and the
      default strategy. The batch stays BATCH_SIZE images, on one device: the
      same update the replicas would average (BatchNorm batch statistics
      then span the whole batch), so a config written for 2 GPUs still runs
      on a laptop.

    config: a Config (reads GPU_COUNT). Returns a tf.distribute.Strategy.
    """
    strategy = (tf.distribute.get_strategy() if tf.distribute.has_strategy()
                else cluster_strategy())
    if strategy is not None and Cluster.from_strategy(strategy) is not None:
        if config.GPU_COUNT != strategy.num_replicas_in_sync:
            logger.info("GPU_COUNT=%d set to the cluster's %d replicas: BATCH_SIZE=%d images a "
                        "step", config.GPU_COUNT, strategy.num_replicas_in_sync,
                        config.IMAGES_PER_GPU * strategy.num_replicas_in_sync)
            config.GPU_COUNT = strategy.num_replicas_in_sync
        return strategy
    if tf.distribute.has_strategy():
        if config.BATCH_SIZE % strategy.num_replicas_in_sync:
            raise ValueError(
                f"BATCH_SIZE={config.BATCH_SIZE} (IMAGES_PER_GPU * GPU_COUNT) does not split "
                f"into the {strategy.num_replicas_in_sync} replicas of the active "
                f"{type(strategy).__name__}")
        return strategy
    count = int(config.GPU_COUNT)
    if count <= 1:
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) >= count:
        return tf.distribute.MirroredStrategy(devices=[d.name for d in gpus[:count]])
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) >= count:
        return tf.distribute.MirroredStrategy(
            devices=[d.name for d in cpus[:count]],
            cross_device_ops=tf.distribute.ReductionToOneDevice())
    found = ", ".join(d.name for d in gpus + cpus) or "none"
    logger.warning(
        "GPU_COUNT=%d but only %d GPU(s) and %d CPU device(s) are visible (%s): training "
        "on one device with the whole batch of BATCH_SIZE=%d images (not data-parallel)",
        count, len(gpus), len(cpus), found, config.BATCH_SIZE)
    return tf.distribute.get_strategy()


def is_distributed(strategy):
    """Whether `strategy` is a real tf.distribute strategy (not the default
    one): Keras then distributes fit()'s data and builds the model from a
    batch averaged across replicas, even for a single replica."""
    with strategy.scope():
        return tf.distribute.has_strategy()


def replica_count():
    """Replicas in sync of the strategy in effect (1 outside any strategy).
    Inside `strategy.run` (a training step) it is the training strategy's."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def scale_loss_for_replicas(loss):
    """loss / replicas: the loss to differentiate in a replica's step.

    Each replica sees 1/replicas of the global batch and its loss is that
    part's mean; Keras' optimizer SUMS the replicas' gradients, so dividing
    by the replica count makes the update the gradient of the mean of the
    replicas' losses, as matterport's ParallelModel averaged its towers'.
    That is the one-device gradient exactly when each replica's loss
    averages the same number of terms (the RPN class loss: 256 anchors per
    image); losses over a varying number of positives (RPN boxes, ROIs)
    weigh each replica's part equally. loss: float32 scalar; returns the same.
    """
    replicas = replica_count()
    if replicas == 1:
        return loss
    return loss * tf.cast(1.0 / replicas, loss.dtype)


def reducible_metrics(results):
    """A training or test step's {name: float32 scalar} as Keras can reduce
    them across the workers of a cluster.

    Keras 3 averages each step's results over the replicas of several
    workers with strategy.reduce(MEAN, axis=0), which a scalar has no axis
    for (tensorflow/tensorflow#72388): there each becomes a [1] tensor,
    which that mean turns back into a scalar. Elsewhere they are returned
    as they are.
    """
    cluster = Cluster.from_strategy(tf.distribute.get_strategy())
    if cluster is None or cluster.workers < 2:
        return results
    return {name: tf.reshape(value, [1]) for name, value in results.items()}


def describe_devices(strategy):
    """One line naming the devices `strategy` trains on, e.g. "Training on
    /device:GPU:0 (GPUs visible: 1)".
    Under a strategy with replicas it lists this process's replica devices;
    otherwise the device TensorFlow places the step on (the first GPU, else
    the CPU)."""
    gpus = tf.config.list_logical_devices("GPU")
    if is_distributed(strategy):
        devices = list(strategy.extended.worker_devices)
        where = (f"{len(devices)} replica(s) here, {strategy.num_replicas_in_sync} in sync: "
                 + ", ".join(devices))
    else:
        where = gpus[0].name if gpus else tf.config.list_logical_devices("CPU")[0].name
    return f"Training on {where} (GPUs visible: {len(gpus)})"
