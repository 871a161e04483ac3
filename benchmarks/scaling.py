"""Training throughput (images/s) on one worker and on a cluster of local
workers (tf.distribute.MultiWorkerMirroredStrategy, TF_CONFIG on
127.0.0.1), on the same data: the shapes sample (ResNet-50, 128² images,
its config), trained from scratch.

    python benchmarks/scaling.py                       # 1 worker, then 2 local workers
    python benchmarks/scaling.py --steps 20 --workers 2 3

Rows: one worker with IMAGES_PER_GPU images a step; one worker with the
cluster's global batch (IMAGES_PER_GPU x workers), the same update on one
process; and W local workers, each computing IMAGES_PER_GPU images of every
global batch and averaging gradients with the others through gRPC on
127.0.0.1. Each setup runs in fresh processes; the first epoch (tracing,
warm-up) is not timed, then --steps steps are, on every worker (a step
ends when the slowest worker's does). images/s = global batch / median step
time.

On one machine the workers share its cores and every step sends the
gradients (the shapes model: 27 M float32 values) through the loopback
network: local workers measure the overhead of the cluster, not a
speed-up, which needs one machine (or GPU) per worker. Results:
docs/multi-worker.md.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_setup(workers, images_per_gpu, steps):
    """Train in `workers` fresh processes (a cluster when > 1); returns the
    step times (s) of each worker, a list per worker."""
    ports = free_ports(workers) if workers > 1 else []
    with tempfile.TemporaryDirectory(prefix="mrcnn-scaling-") as tmp:
        processes = []
        for index in range(workers):
            out = os.path.join(tmp, f"steps_{index}.json")
            command = [sys.executable, os.path.abspath(__file__), "--child", out,
                       "--images-per-gpu", str(images_per_gpu), "--steps", str(steps),
                       "--logs", os.path.join(tmp, "logs")]
            env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            if workers > 1:
                env["TF_CONFIG"] = json.dumps({
                    "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                    "task": {"type": "worker", "index": index}})
            processes.append((out, subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                                    stderr=subprocess.STDOUT, text=True)))
        times = []
        for out, process in processes:
            output, _ = process.communicate()
            if process.returncode:
                sys.exit(f"a worker failed (exit {process.returncode}):\n{output[-3000:]}")
            with open(out) as f:
                times.append(json.load(f))
    return times


def child(out, images_per_gpu, steps, logs):
    """One worker: train the shapes sample's config for 1 + ceil(steps /
    STEPS_PER_EPOCH) epochs and write the times of the steps after the first
    epoch to `out` (JSON list of seconds)."""
    sys.path.insert(0, ROOT_DIR)
    sys.path.insert(0, os.path.join(ROOT_DIR, "samples", "shapes"))
    import keras
    from shapes import ShapesConfig, make_datasets

    from mrcnn.model import MaskRCNN

    class BenchConfig(ShapesConfig):
        IMAGES_PER_GPU = images_per_gpu
        STEPS_PER_EPOCH = 10
        EVAL_EVERY_EPOCHS = 0
        LEARNING_RATE_WARMUP_STEPS = 0

    class StepTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.epoch, self.start = [], 0, None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch > 0:
                self.times.append(time.perf_counter() - self.start)

    config = BenchConfig()
    train, _ = make_datasets(config, train_count=200, val_count=1)
    model = MaskRCNN("training", config, logs)
    timer = StepTimes()
    epochs = 1 + -(-steps // config.STEPS_PER_EPOCH)
    model.train(train, None, learning_rate=config.LEARNING_RATE, epochs=epochs, layers="all",
                custom_callbacks=[timer], verbose=0)
    with open(out, "w") as f:
        json.dump(timer.times[:steps], f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per setup (10)")
    parser.add_argument("--images-per-gpu", type=int, default=2,
                        help="images per replica (the shapes sample's 2)")
    parser.add_argument("--workers", type=int, nargs="+", default=[2],
                        help="cluster sizes to time beside one worker (2)")
    parser.add_argument("--child", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--logs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.images_per_gpu, args.steps, args.logs)

    rows = []
    setups = [(1, args.images_per_gpu)]
    for workers in args.workers:
        setups += [(1, args.images_per_gpu * workers), (workers, args.images_per_gpu)]
    done = set()
    for workers, images in setups:
        if (workers, images) in done:
            continue
        done.add((workers, images))
        print(f"timing {workers} worker(s) x {images} image(s) ...", flush=True)
        times = run_setup(workers, images, args.steps)
        # A step of the cluster ends on every worker when the slowest ends.
        step = statistics.median(max(ts) for ts in zip(*times))
        batch = workers * images
        rows.append((f"{workers} local worker(s)" if workers > 1 else "1 worker",
                     f"{workers} x {images}", batch, step, batch / step))
    print(f"\nshapes sample (ResNet-50, 128² images), {args.steps} steps after the first epoch, "
          f"{os.cpu_count()} CPU cores\n")
    print("| setup | workers x images a replica | global batch | s/step (median) | images/s |")
    print("|---|---|---|---|---|")
    for name, split, batch, step, rate in rows:
        print(f"| {name} | {split} | {batch} | {step:.2f} | {rate:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
