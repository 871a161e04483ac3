"""Train the shapes sample's network for a few steps under each
Config.DTYPE_POLICY from the same initial weights and images, and print
seconds per step, the loss over the last steps and mAP@0.5 on held-out
images: what mixed precision costs or saves in time and in accuracy.

    python benchmarks/precision_accuracy.py                 # 100 steps each, about 10 minutes
    python benchmarks/precision_accuracy.py --steps 30 --policies float32 mixed_float16
    python benchmarks/precision_accuracy.py --accumulation 2   # GRADIENT_ACCUMULATION_STEPS

ShapesConfig (samples/shapes/shapes.py: ResNet-50, 128 px, Adam with
warm-up), all layers, from scratch, batches of 2 images. One update is
GRADIENT_ACCUMULATION_STEPS steps. mixed_float16 starts at Keras's loss
scale of 2**15 and lowers it where the gradients overflow: the table gives
the final scale and the steps skipped. On a CPU, float16 computes through
float32 conversions (no float16 arithmetic) and is slower than float32.
Seconds per step are medians without the first two steps (graph tracing).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
for path in (ROOT_DIR, os.path.join(ROOT_DIR, "samples", "shapes")):
    if path not in sys.path:
        sys.path.insert(0, path)

import numpy as np  # noqa: E402

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def step_recorder():
    import keras

    class Steps(keras.callbacks.Callback):
        """Seconds and loss of each step (fit's logs hold running means)."""

        def on_train_begin(self, logs=None):
            self.seconds, self.losses, self.skipped, self.mean = [], [], 0, 0.0
            optimizer = self.model.optimizer
            inner = getattr(optimizer, "inner_optimizer", optimizer)
            # The batches trained (optimizer.iterations counts updates).
            self.batches = next(v for v in inner.variables if v.name == "iteration")

        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()
            self.before = int(self.batches.numpy())

        def on_train_batch_end(self, batch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)
            mean = float(logs["loss"])
            self.losses.append((batch + 1) * mean - batch * self.mean)
            self.mean = mean
            # A step skipped for a float16 overflow is not counted.
            if int(self.batches.numpy()) == self.before:
                self.skipped += 1

    return Steps()


def run(policy, steps, accumulation, initial_weights, eval_images, logs):
    """Train `steps` steps under `policy`; returns a dict of the table's values."""
    import keras
    import shapes

    import mrcnn.model as modellib

    config = shapes.ShapesConfig()
    config.DTYPE_POLICY = policy
    config.STEPS_PER_EPOCH = steps
    config.GRADIENT_ACCUMULATION_STEPS = accumulation
    config.EVAL_EVERY_EPOCHS = 0
    keras.utils.set_random_seed(0)
    model = modellib.MaskRCNN("training", config, logs)
    if initial_weights is None:
        initial_weights = model.keras_model.get_weights()
    model.keras_model.set_weights(initial_weights)
    model.data_seed = 0
    train, _ = shapes.make_datasets(config, val_count=1)
    recorder = step_recorder()
    model.train(train, None, learning_rate=config.LEARNING_RATE, epochs=1, layers="all",
                custom_callbacks=[recorder], verbose=0)
    optimizer = model.keras_model.optimizer
    scale = float(optimizer.dynamic_scale.numpy()) if hasattr(optimizer, "dynamic_scale") else None

    inference_config = shapes.InferenceConfig()
    inference_config.DTYPE_POLICY = policy
    inference = modellib.MaskRCNN("inference", inference_config, logs)
    inference.load_weights(model.find_last(), by_name=True)
    test = shapes.ShapesDataset()
    test.load_shapes(eval_images, *shapes.generated_size(config), seed=shapes.HELD_OUT_SEED)
    test.prepare()
    last = recorder.losses[-min(20, len(recorder.losses)):]
    return initial_weights, {
        "policy": policy,
        "seconds": statistics.median(recorder.seconds[2:] or recorder.seconds),
        "loss": float(np.mean(last)), "last": len(last),
        "map": shapes.evaluate_map(inference, test, inference_config),
        "scale": scale, "skipped": recorder.skipped,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="training steps per policy")
    parser.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES))
    parser.add_argument("--accumulation", type=int, default=1,
                        help="Config.GRADIENT_ACCUMULATION_STEPS")
    parser.add_argument("--eval-images", type=int, default=50,
                        help="held-out images for mAP@0.5 (the shapes sample's fixed set)")
    args = parser.parse_args(argv)
    rows, initial = [], None
    with tempfile.TemporaryDirectory() as logs:
        for policy in args.policies:
            initial, row = run(policy, args.steps, args.accumulation, initial, args.eval_images,
                               logs)
            rows.append(row)
            print(f"done {policy}", file=sys.stderr, flush=True)
    print(f"\n{args.steps} steps of 2 images, GRADIENT_ACCUMULATION_STEPS={args.accumulation}; "
          f"mAP@0.5 on {args.eval_images} held-out images\n")
    print("| DTYPE_POLICY | s / step | loss, last steps | mAP@0.5 | loss scale at the end "
          "| steps skipped |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        scale = "—" if row["scale"] is None else f"2^{int(np.log2(row['scale']))}"
        skipped = row["skipped"] if row["scale"] is not None else "—"
        print(f"| {row['policy']} | {row['seconds']:.2f} | {row['loss']:.3f} (last {row['last']}) "
              f"| {row['map']:.3f} | {scale} | {skipped} |")
    if "mixed_float16" in args.policies:
        print("\nmixed_float16: CPUs have no float16 arithmetic, so on a CPU it is slower than "
              "float32; it is meant for GPUs.")
    return rows


if __name__ == "__main__":
    main()
