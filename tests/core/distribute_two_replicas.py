"""Two-replica training on a CPU split into two logical devices; run by
tests/core/test_distribute.py in a child process, because logical devices
must be configured before TensorFlow initialises.

    python tests/core/distribute_two_replicas.py OUT_DIR

Prints one JSON line (prefixed RESULT) of measurements for the test to
assert on; any failure is a traceback and a non-zero exit.
"""
import json
import logging
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import tensorflow as tf  # noqa: E402

# Before anything else runs TensorFlow: two logical CPU devices.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(os.path.dirname(HERE))]

import numpy as np  # noqa: E402
from tiny import TinyConfig, tiny_dataset  # noqa: E402

import mrcnn.model as modellib  # noqa: E402
from mrcnn.data.pipeline import DataGenerator  # noqa: E402


class TwoReplicaConfig(TinyConfig):
    GPU_COUNT = 2
    IMAGES_PER_GPU = 1       # BATCH_SIZE = 2: one image per replica
    STEPS_PER_EPOCH = 2
    VALIDATION_STEPS = 1
    DATA_WORKERS = 1
    BN_STATISTICS_BATCHES = 2
    # The replicas' BatchNorm statistics are what is under test here.
    NORMALIZATION = "batch"


class FrozenBNConfig(TwoReplicaConfig):
    """For comparing one SGD step on 2 replicas x 1 image with one step on
    1 device x 2 images: BatchNorm uses stored statistics (per image, so
    independent of how the batch is split), the RPN class loss is the only
    loss reaching rpn_class_raw, and no clipping acts."""
    TRAIN_BN = False
    WEIGHT_DECAY = 0.0
    LEARNING_MOMENTUM = 0.0
    GRADIENT_CLIP_NORM = 1e9
    LOSS_WEIGHTS = {"rpn_class_loss": 1.0, "rpn_bbox_loss": 1.0, "mrcnn_class_loss": 0.0,
                    "mrcnn_bbox_loss": 0.0, "mrcnn_mask_loss": 0.0}


def is_mirrored(variable):
    return isinstance(variable.value, tf.distribute.DistributedValues)


def replica_values(model, variable):
    """numpy copies of a mirrored variable on each device."""
    return [np.array(v.numpy()) for v in model.strategy.experimental_local_results(variable.value)]


def one_step_delta(model, batch, layer="rpn_class_raw", learning_rate=0.1):
    """Change of `layer`'s kernel after one SGD step (momentum 0) on `batch`."""
    kernel = model.keras_model.get_layer(layer).kernel
    before = np.array(kernel.numpy())
    model.compile(learning_rate, momentum=0.0)
    model.keras_model.fit(batch, batch_size=2, epochs=1, steps_per_epoch=1,
                          shuffle=False, verbose=0)
    return np.array(kernel.numpy()) - before


def gradient_equivalence(out_dir):
    config = FrozenBNConfig()
    two = modellib.MaskRCNN("training", config, out_dir)
    one_config = FrozenBNConfig()
    one_config.GPU_COUNT, one_config.IMAGES_PER_GPU = 1, 2
    one = modellib.MaskRCNN("training", one_config, out_dir)
    one.keras_model.set_weights(two.keras_model.get_weights())
    # Only the RPN trains: a small backward graph, quick to trace.
    for model in (two, one):
        model.set_trainable(r"rpn\_.*", verbose=0)
    # Both images in one fixed batch (targets sampled with a fixed seed);
    # uint8 masks, as train() feeds a distributed model.
    batch = DataGenerator(tiny_dataset(2, seed=3), config, shuffle=False, seed=0,
                          mask_dtype=np.uint8)[0]
    anchors_per_image = (batch["input_rpn_match"] != 0).sum(axis=(1, 2)).tolist()
    delta_two = one_step_delta(two, batch)
    delta_one = one_step_delta(one, batch)
    kernel = two.keras_model.get_layer("rpn_class_raw").kernel
    copies = replica_values(two, kernel)
    return {
        "replicas": two.strategy.num_replicas_in_sync,
        "devices": list(two.strategy.extended.worker_devices),
        "single_device_replicas": one.strategy.num_replicas_in_sync,
        "kernel_mirrored": is_mirrored(kernel),
        "copies_equal_after_step": bool(np.array_equal(copies[0], copies[1])),
        "anchors_per_image": anchors_per_image,
        "delta_norm_one_device": float(np.linalg.norm(delta_one)),
        "delta_norm_two_replicas": float(np.linalg.norm(delta_two)),
        "delta_relative_difference": float(
            np.linalg.norm(delta_two - delta_one) / np.linalg.norm(delta_one)),
        "clipnorm_two_replicas": float(two.keras_model.optimizer.clipnorm),
        "clipnorm_one_device": float(one.keras_model.optimizer.clipnorm),
    }


def train_checkpoint_and_detect(out_dir):
    """train() with learned BatchNorm statistics (precise BN), checkpoint,
    optimizer state back into a fresh two-replica model, and the checkpoint
    into a one-device inference model."""
    config = TwoReplicaConfig()
    model = modellib.MaskRCNN("training", config, out_dir)
    history = model.train(tiny_dataset(4, seed=0), tiny_dataset(2, seed=1),
                          learning_rate=0.01, epochs=1, layers="heads")
    km = model.keras_model
    bn = km.get_layer("mrcnn_mask_bn1")
    bn_means = replica_values(model, bn.moving_mean)
    momentum = [v for v in km.optimizer.variables if "momentum" in v.name]
    checkpoint = model.find_last()

    resumed = modellib.MaskRCNN("training", TwoReplicaConfig(), out_dir)
    resumed.load_weights(checkpoint)
    # What the next train(layers="heads") call does before fit(): select the
    # layers and continue the optimizer state of the checkpoint.
    resumed.set_trainable("heads", verbose=0)
    resumed._prepare_optimizer(None)
    new_momentum = {v.name: v for v in resumed.keras_model.optimizer.variables
                    if "momentum" in v.name}
    trained_kernel = km.get_layer("mrcnn_mask").kernel.numpy()
    loaded_copies = replica_values(resumed, resumed.keras_model.get_layer("mrcnn_mask").kernel)
    saved = momentum[-1]

    class InferenceConfig(TinyConfig):
        IMAGES_PER_GPU = 1
        GPU_COUNT = 2     # a training config reused: runs on one device
    inference = modellib.MaskRCNN("inference", InferenceConfig(), out_dir)
    inference.load_weights(checkpoint, by_name=True)
    images = [tiny_dataset(3, seed=5).load_image(i) for i in range(3)]
    results = inference.detect(images)
    same_kernel = np.array_equal(inference.keras_model.get_layer("mrcnn_mask").kernel.numpy(),
                                 km.get_layer("mrcnn_mask").kernel.numpy())
    return {
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "epoch": model.epoch,
        "checkpoint": os.path.basename(checkpoint),
        "bn_moving_mean_replicas_equal": bool(np.array_equal(bn_means[0], bn_means[1])),
        "bn_moving_mean_abs": float(np.abs(bn_means[0]).mean()),
        "momentum_slots": len(momentum),
        "momentum_mirrored": all(is_mirrored(v) for v in momentum),
        "resumed_weights_on_both_replicas": bool(all(
            np.array_equal(copy, trained_kernel) for copy in loaded_copies)),
        "resumed_iterations": int(resumed.keras_model.optimizer.iterations.numpy()),
        "resumed_momentum_mirrored": all(is_mirrored(v) for v in new_momentum.values()),
        "resumed_momentum_equal": bool(all(
            np.array_equal(copy, saved.numpy())
            for copy in replica_values(resumed, new_momentum[saved.name]))),
        "resumed_momentum_nonzero": bool(np.abs(saved.numpy()).sum() > 0),
        "inference_replicas": inference.strategy.num_replicas_in_sync,
        "inference_kernel_mirrored": is_mirrored(
            inference.keras_model.get_layer("mrcnn_mask").kernel),
        "inference_loaded_checkpoint": bool(same_kernel),
        "detections": [len(r["class_ids"]) for r in results],
        "mask_shapes": [list(r["masks"].shape) for r in results],
    }


def main(out_dir):
    logging.basicConfig(level=logging.WARNING)
    result = {"logical_cpus": len(tf.config.list_logical_devices("CPU"))}
    start = time.perf_counter()
    result["equivalence"] = gradient_equivalence(os.path.join(out_dir, "equivalence"))
    result["seconds_equivalence"] = time.perf_counter() - start
    start = time.perf_counter()
    result["train"] = train_checkpoint_and_detect(os.path.join(out_dir, "train"))
    result["seconds_train"] = time.perf_counter() - start
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
