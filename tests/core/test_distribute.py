"""GPU_COUNT > 1 trains data-parallel with tf.distribute.MirroredStrategy.

The two-replica part runs in a child process (distribute_two_replicas.py)
that splits the CPU into two logical devices before TensorFlow initialises;
GPUs are hidden from it so that it tests the same CPU path everywhere.
"""
import json
import logging
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tiny import TinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn.training.distribute import distribution_strategy, is_distributed

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LOSSES = ("loss", "rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss", "mrcnn_bbox_loss",
          "mrcnn_mask_loss")


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory):
    """The measurements printed by distribute_two_replicas.py."""
    out = tmp_path_factory.mktemp("two-replicas")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1",
               PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "distribute_two_replicas.py"),
                           str(out)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def test_two_logical_cpus_give_two_mirrored_replicas(two_replicas):
    eq = two_replicas["equivalence"]
    assert two_replicas["logical_cpus"] == 2
    assert eq["replicas"] == 2 and eq["single_device_replicas"] == 1
    assert [d.rsplit("/", 1)[-1] for d in eq["devices"]] == ["device:CPU:0", "device:CPU:1"]
    assert eq["kernel_mirrored"]
    # Both copies got the same (all-reduced) update.
    assert eq["copies_equal_after_step"]


def test_one_step_on_two_replicas_equals_one_step_on_one_device(two_replicas):
    """2 replicas x 1 image and 1 device x 2 images, same weights and batch,
    BatchNorm frozen, momentum 0: the RPN classifier's update is the same.
    Without dividing each replica's loss by the replica count it would be
    twice as large (Keras sums the replicas' gradients)."""
    eq = two_replicas["equivalence"]
    # The RPN class loss averages the same number of anchors per image, so
    # the mean of the replicas' means is the batch mean.
    assert eq["anchors_per_image"][0] == eq["anchors_per_image"][1] > 0
    assert eq["delta_norm_one_device"] > 1e-3
    assert eq["delta_relative_difference"] < 1e-5, eq
    # Clipping happens per replica before the sum: the limit is divided.
    assert eq["clipnorm_two_replicas"] == pytest.approx(eq["clipnorm_one_device"] / 2)


def test_train_on_two_replicas_reports_finite_losses_and_recomputes_batchnorm(two_replicas):
    train = two_replicas["train"]
    for name in LOSSES + tuple("val_" + n for n in LOSSES):
        values = train["history"][name]
        assert len(values) == 1 and all(math.isfinite(v) for v in values), name
    assert train["epoch"] == 1 and train["checkpoint"] == "mask_rcnn_tiny_0001.h5"
    # Precise BN assigned the mirrored moving statistics (initially zero)
    # on both devices alike.
    assert train["bn_moving_mean_replicas_equal"] and train["bn_moving_mean_abs"] > 0


def test_checkpoint_resumes_weights_and_optimizer_into_mirrored_variables(two_replicas):
    train = two_replicas["train"]
    # load_weights assigned the checkpoint to both copies of each weight.
    assert train["resumed_weights_on_both_replicas"]
    assert train["momentum_slots"] > 0 and train["momentum_mirrored"]
    assert train["resumed_iterations"] == 2  # STEPS_PER_EPOCH steps done
    assert train["resumed_momentum_mirrored"]
    assert train["resumed_momentum_equal"] and train["resumed_momentum_nonzero"]


def test_two_replica_checkpoint_detects_on_one_device(two_replicas):
    train = two_replicas["train"]
    assert train["inference_replicas"] == 1 and not train["inference_kernel_mirrored"]
    assert train["inference_loaded_checkpoint"]
    assert len(train["detections"]) == 3
    for count, shape in zip(train["detections"], train["mask_shapes"]):
        assert shape == [64, 64, count]


def test_gpu_count_1_is_the_default_strategy(caplog):
    config = TinyConfig()
    with caplog.at_level(logging.WARNING, logger="mrcnn"):
        strategy = distribution_strategy(config)
    assert strategy is tf.distribute.get_strategy() and not is_distributed(strategy)
    assert not caplog.records


def test_an_active_strategy_scope_is_used():
    config = TinyConfig()
    config.GPU_COUNT = 2
    user = tf.distribute.OneDeviceStrategy("/cpu:0")
    with user.scope():
        assert distribution_strategy(config) is user
    assert is_distributed(user)


@pytest.mark.skipif(len(tf.config.list_logical_devices("GPU")) >= 2
                    or len(tf.config.list_logical_devices("CPU")) >= 2,
                    reason="this process has two devices: no fallback")
def test_gpu_count_2_on_one_device_warns_once_and_trains(tmp_path, caplog):
    class TwoGpuConfig(TinyConfig):
        GPU_COUNT = 2
        IMAGES_PER_GPU = 1
        STEPS_PER_EPOCH = 1
        TRAIN_BN = False

    config = TwoGpuConfig()
    with caplog.at_level(logging.WARNING, logger="mrcnn"):
        model = modellib.MaskRCNN("training", config, str(tmp_path))
    warnings = [r.getMessage() for r in caplog.records if "GPU_COUNT" in r.getMessage()]
    assert len(warnings) == 1 and "GPU_COUNT=2" in warnings[0], warnings
    assert "CPU:0" in warnings[0] and "BATCH_SIZE=2" in warnings[0]
    assert model.strategy.num_replicas_in_sync == 1 and not is_distributed(model.strategy)

    history = model.train(tiny_dataset(4), None, learning_rate=0.01, epochs=1, layers="heads")
    for name in LOSSES:
        assert np.isfinite(history.history[name]).all(), name
    # One device, so the full clipping limit.
    assert model.keras_model.optimizer.clipnorm == config.GRADIENT_CLIP_NORM
    assert os.path.isfile(model.find_last())
