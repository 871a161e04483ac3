"""The optimizer update and the L2 weight decay: mrcnn's (fused kernels,
one-pass norms; mrcnn/training/optimizer.py, modeling/losses.py) against
Keras's SGD and Adam and matterport's L2 formula, in the same run, alone
and inside whole training steps.

    python benchmarks/optimizer_update.py                  # shapes sample + 512², SGD
    python benchmarks/optimizer_update.py --repeats 20 --size 1024

Two networks: the shapes sample's training graph (ShapesConfig: ResNet-50,
128², 2 images, Adam, the default DTYPE_POLICY), which is what
`python samples/shapes/shapes.py train` runs, and benchmark_config(--size)
of step_times.py (ResNet-50-FPN, batch 1, SGD with momentum, matterport's
optimizer). Each row times the reference and mrcnn's version alternately,
call after call, so both see the same machine load; medians of --repeats
calls after one untimed call (graph tracing). Both use clipnorm 5
(GRADIENT_CLIP_NORM).
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.abspath(os.path.join(HERE, ".."))
for path in (ROOT_DIR, HERE, os.path.join(ROOT_DIR, "samples", "shapes")):
    if path not in sys.path:
        sys.path.insert(0, path)

import numpy as np  # noqa: E402


def time_pair(reference, candidate, repeats):
    """Medians of alternating calls of reference() and candidate(), after
    one untimed call of each: (reference s, candidate s)."""
    reference()
    candidate()
    times = ([], [])
    for _ in range(repeats):
        for fn, out in ((reference, times[0]), (candidate, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def reference_weight_decay(trainable_weights, weight_decay):
    """matterport's L2 term as matterport wrote it: weight_decay *
    reduce_sum(square(w)) / size(w) over the kernels."""
    import tensorflow as tf

    terms = [weight_decay * tf.reduce_sum(tf.square(tf.convert_to_tensor(w))) /
             tf.cast(tf.size(w), tf.float32)
             for w in trainable_weights if w.path.endswith("kernel")]
    return tf.add_n(terms)


def keras_optimizer(name, learning_rate, momentum, clipnorm):
    import keras

    if name == "SGD":
        return keras.optimizers.SGD(learning_rate, momentum=momentum, clipnorm=clipnorm)
    return keras.optimizers.Adam(learning_rate, clipnorm=clipnorm)


def network_rows(label, config, dataset, repeats):
    """[(row, reference s, mrcnn s)] for one network."""
    import tensorflow as tf

    import mrcnn.model as modellib
    from mrcnn.data.pipeline import DataGenerator
    from mrcnn.modeling import losses
    from mrcnn.training.optimizer import make_optimizer

    model = modellib.MaskRCNN("training", config, "/tmp/mrcnn-bench")
    keras_model = model.keras_model
    batch = {k: tf.constant(v) for k, v in
             DataGenerator(dataset, config, workers=1, shuffle=False)[0].items()}
    variables = keras_model.trainable_variables
    ours = make_optimizer(config, config.LEARNING_RATE, config.GRADIENT_CLIP_NORM)
    name = type(ours).__name__
    theirs = keras_optimizer(name, config.LEARNING_RATE, config.LEARNING_MOMENTUM,
                             config.GRADIENT_CLIP_NORM)
    rng = np.random.default_rng(0)
    gradients = [tf.constant(rng.normal(0, 1e-3, v.shape).astype(np.float32)) for v in variables]
    rows = []
    for optimizer in (ours, theirs):
        optimizer.build(variables)
    apply_ours = tf.function(lambda: ours.apply_gradients(zip(gradients, variables)))
    apply_theirs = tf.function(lambda: theirs.apply_gradients(zip(gradients, variables)))
    rows.append((f"{label}: {name} update of {len(variables)} variables, clipnorm",
                 *time_pair(apply_theirs, apply_ours, repeats)))

    decay = float(config.WEIGHT_DECAY)

    def decay_gradient(formula):
        def run():
            with tf.GradientTape() as tape:
                value = formula(variables, decay)
            return tape.gradient(value, variables)
        return tf.function(run)

    rows.append((f"{label}: L2 weight decay, forward + backward",
                 *time_pair(decay_gradient(reference_weight_decay),
                            decay_gradient(losses.weight_decay_loss), repeats)))

    # Whole steps: the training graph's train_step traced once with each
    # pair (the tf.function keeps the optimizer and formula it traced with).
    def traced_step(optimizer, formula):
        keras_model.optimizer = optimizer
        saved, losses.weight_decay_loss = losses.weight_decay_loss, formula
        try:
            step = tf.function(keras_model.train_step)
            step(batch)
        finally:
            losses.weight_decay_loss = saved
        return lambda: step(batch)

    step_theirs = traced_step(theirs, reference_weight_decay)
    step_ours = traced_step(ours, losses.weight_decay_loss)
    rows.append((f"{label}: whole training step", *time_pair(step_theirs, step_ours, repeats)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="benchmark_config's image size")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)

    import keras
    import shapes
    from step_times import benchmark_config, synthetic_dataset

    rows = []
    config = shapes.ShapesConfig()
    rows += network_rows("shapes sample (Adam)", config, shapes.make_datasets(config)[0],
                         args.repeats)
    keras.backend.clear_session()
    config = benchmark_config(args.size, dtype_policy="auto")
    rows += network_rows(f"{args.size}², batch 1 (SGD)", config,
                         synthetic_dataset(config, np.random.default_rng(0)), args.repeats)

    print("\n| | Keras / matterport | mrcnn | ratio |")
    print("|---|---:|---:|---:|")
    for label, reference, ours in rows:
        print(f"| {label} | {reference:.4f} s | {ours:.4f} s | {ours / reference:.2f}× |")


if __name__ == "__main__":
    main()
