"""Time one training step and one inference of Mask R-CNN ResNet-50-FPN,
batch 1, at several image sizes, and torchvision's maskrcnn_resnet50_fpn
beside it in the same run when torch is installed
(`pip install -r benchmarks/requirements-torch.txt`).

    python benchmarks/step_times.py                 # 128, 512, 1024
    python benchmarks/step_times.py --sizes 512 --repeats 5
    python benchmarks/step_times.py --dtype-policy float32
    python benchmarks/step_times.py --rpn-channels 512 256
    python benchmarks/step_times.py --sizes 512 --dtype-policy mixed_float16
    python benchmarks/step_times.py --sizes 512 --accumulation 1 4

mrcnn is timed for every combination of the settings given: each
Config.DTYPE_POLICY (default: float32 and mixed_bfloat16; mixed_float16 on
request: CPUs have no float16 arithmetic, so on a CPU it only shows what
the conversions cost, slower than float32) and each
Config.RPN_CONV_CHANNELS (default: matterport's 512, which COCO weights
need; torchvision's RPN has 256). torchvision always runs in float32.
With --accumulation k (Config.GRADIENT_ACCUMULATION_STEPS) the training
time is that of one update: k steps of one image.

Prints a table of medians. The first call of each traced function (graph
tracing and optimisation, 15-20 s) is excluded. Absolute seconds on a shared
machine are noise; compare the columns of one run. Each mrcnn variant and
each torchvision size runs in a fresh child process, so that every row's
peak memory is its own (a process keeps memory that earlier models freed);
`--same-process` times the mrcnn variants one after the other in this one.
"""
import argparse
import itertools
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
if ROOT_DIR not in sys.path:
    sys.path.insert(0, ROOT_DIR)

import numpy as np  # noqa: E402


def benchmark_config(size, normalization="batch", dtype_policy="float32", rpn_channels=512):
    """normalization: "batch" (what fine-tunes COCO or ImageNet weights, as
    torchvision's frozen BatchNorm) or "group" (the from-scratch default).
    dtype_policy: Config.DTYPE_POLICY. rpn_channels: Config.RPN_CONV_CHANNELS."""
    from mrcnn.config import Config

    class BenchConfig(Config):
        NAME = "bench"
        NUM_CLASSES = 1 + 3
        BACKBONE = "resnet50"
        IMAGES_PER_GPU = 1
        IMAGE_MIN_DIM = size
        IMAGE_MAX_DIM = size
        # Anchor sizes that follow the image so every size does similar work.
        RPN_ANCHOR_SCALES = tuple(int(s * size / 1024) or 1 for s in (32, 64, 128, 256, 512))
        STEPS_PER_EPOCH = 1
        DETECTION_MIN_CONFIDENCE = 0.0
        # Per-class NMS still runs but suppresses nothing (see
        # maximise_detections).
        DETECTION_NMS_THRESHOLD = 1.0

    config = BenchConfig()
    config.NORMALIZATION = normalization
    config.DTYPE_POLICY = dtype_policy
    config.RPN_CONV_CHANNELS = rpn_channels
    return config


def maximise_detections(model):
    """Make a random-weight inference model return DETECTION_MAX_INSTANCES
    detections, as torchvision's always returns DETECTIONS_PER_IMG (it scores
    each class separately), so both mask heads do their maximum work and
    the inference times compare. The work of every layer stays the same.

    - Random class heads pick one class for every ROI, often the background;
      a background logit of -100 makes every ROI foreground.
    - Random box regressions can pile the boxes onto each other (clipped to
      the same corner), and NMS then keeps few: measured 6 and 16 detections
      of 100 in two runs at 1024². Zero box deltas keep the proposals on
      their anchors and the detections on their proposals.
    """
    layer = model.keras_model.get_layer("mrcnn_class_logits")
    kernel, bias = layer.get_weights()
    # A bias alone is not enough: random features give logits of either sign
    # and some size (measured: 49 of 1000 ROIs stayed background at -10).
    kernel[:, 0] = 0.0
    bias[0] = -100.0
    layer.set_weights([kernel, bias])
    for name in ("rpn_bbox_pred", "mrcnn_bbox_fc"):
        layer = model.keras_model.get_layer(name)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])


def synthetic_dataset(config, rng):
    """A one-image dataset: random pixels and three box instances."""
    from mrcnn import utils

    size = int(config.IMAGE_MAX_DIM)

    class Boxes(utils.Dataset):
        def load_image(self, image_id):
            return rng.integers(0, 255, (size, size, 3)).astype(np.uint8)

        def load_mask(self, image_id):
            masks = np.zeros((size, size, 3), bool)
            for k in range(3):
                y, x = rng.integers(0, size // 2, 2)
                masks[y:y + size // 4, x:x + size // 3, k] = True
            return masks, np.array([1, 2, 3], np.int32)

    dataset = Boxes()
    for c in range(1, 4):
        dataset.add_class("bench", c, f"c{c}")
    dataset.add_image("bench", 0, None, height=size, width=size)
    dataset.prepare()
    return dataset


def synthetic_batch(config, rng):
    """One molded training batch of synthetic_dataset, and its image."""
    from mrcnn.data.pipeline import DataGenerator

    dataset = synthetic_dataset(config, rng)
    return DataGenerator(dataset, config, workers=1)[0], dataset.load_image(0)


def resident_bytes():
    """This process's resident memory now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def peak_resident(fn, interval=0.005):
    """The highest resident memory of this process while fn() runs, in
    bytes, sampled every `interval` seconds by a thread (after a warm-up
    call, so tracing's memory is not counted as the step's)."""
    import threading

    peak = [resident_bytes()]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], resident_bytes())
            done.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return max(peak[0], resident_bytes())


def time_calls(fn, repeats):
    fn()  # tracing / warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_mrcnn(size, repeats, rng, variant, accumulations=(1,)):
    """variant: keyword arguments of `benchmark_config` besides the size.
    accumulations: Config.GRADIENT_ACCUMULATION_STEPS values k to time.
    Returns ({k: seconds of one update, k steps}, inference seconds,
    detections, peak resident bytes of the process during a training step)."""
    import gc

    import keras
    import tensorflow as tf

    import mrcnn.model as modellib

    # The previous variant's models out of memory before this one is measured.
    keras.backend.clear_session()
    gc.collect()
    config = benchmark_config(size, **variant)
    model = modellib.MaskRCNN("training", config, "/tmp/mrcnn-bench")
    keras_model = model.keras_model
    batch, image = synthetic_batch(config, rng)
    train_times = {}
    for k in accumulations:
        config.GRADIENT_ACCUMULATION_STEPS = k
        model.compile(0.001, 0.9)
        keras_model.optimizer.build(keras_model.trainable_variables)
        step = tf.function(keras_model.train_step)
        train_times[k] = time_calls(lambda: [step(batch) for _ in range(k)], repeats)
    train_memory = peak_resident(lambda: step(batch))
    del model, keras_model

    inference = modellib.MaskRCNN("inference", config, "/tmp/mrcnn-bench")
    maximise_detections(inference)
    infer_time = time_calls(lambda: inference.detect([image]), repeats)
    detections = len(inference.detect([image])[0]["class_ids"])
    return train_times, infer_time, detections, train_memory


def torchvision_sample(size, rng):
    """torchvision's training input like synthetic_dataset's: a random
    image float32 [3, size, size] and its target of three boxes."""
    import torch

    image = torch.rand(3, size, size)
    masks = torch.zeros(3, size, size, dtype=torch.uint8)
    boxes = []
    for k in range(3):
        y, x = (int(v) for v in rng.integers(0, size // 2, 2))
        masks[k, y:y + size // 4, x:x + size // 3] = 1
        boxes.append([x, y, x + size // 3, y + size // 4])
    target = {"boxes": torch.tensor(boxes, dtype=torch.float32),
              "labels": torch.tensor([1, 2, 3]), "masks": masks}
    return image, target


def run_json_child(python, script, args, what):
    """`python script *args`: the JSON of its last output line, or None when
    the child fails (said on stderr, naming `what`)."""
    import json
    import subprocess

    result = subprocess.run([python or sys.executable, script, *args],
                            capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        print(f"{what} not timed: {result.stderr.strip().splitlines()[-3:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def run_torch_child(script, python, args):
    """`python script --torch-only *args` (torch and TensorFlow in one
    process crash here): the JSON of its last output line; {} when torch
    is not installed for `python` or the child fails (said on stderr)."""
    return run_json_child(python, script, ["--torch-only", *args], "torchvision") or {}


def time_torchvision(size, repeats, rng):
    try:
        import torch
        import torchvision
    except ImportError:
        return None, None, None, None
    torch.set_num_threads(os.cpu_count() or 1)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=4, min_size=size, max_size=size,
        box_score_thresh=0.0)
    image, target = torchvision_sample(size, rng)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

    def train_step():
        model.train()
        losses = model([image], [target])
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def infer():
        model.eval()
        with torch.no_grad():
            return model([image])

    train_time = time_calls(train_step, repeats)
    train_memory = peak_resident(train_step)
    infer_time = time_calls(infer, repeats)
    return train_time, infer_time, len(infer()[0]["boxes"]), train_memory


def torchvision_in_subprocess(sizes, repeats, python=None):
    """{str(size): (train s, inference s, detections, train peak bytes)} from
    a child process of `python` (default: this one), {} when torch is not
    installed there or the child fails."""
    return run_torch_child(os.path.abspath(__file__), python,
                           ["--repeats", str(repeats), "--sizes"] + [str(s) for s in sizes])


def mrcnn_in_subprocess(size, repeats, variant, accumulations):
    """time_mrcnn in a fresh child process of this Python: (train times {k:
    s}, inference s, detections, peak bytes), or None when the child fails
    (said on stderr)."""
    import json

    measured = run_json_child(
        sys.executable, os.path.abspath(__file__),
        ["--mrcnn-only", json.dumps(variant), "--sizes", str(size), "--repeats", str(repeats),
         "--accumulation", *[str(k) for k in accumulations]], f"mrcnn {size} {variant}")
    if measured is None:
        return None
    trains, infer, detections, memory = measured
    return {int(k): v for k, v in trains.items()}, infer, detections, memory


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 512, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-torch", action="store_true", help="skip torchvision")
    parser.add_argument("--normalization", nargs="+", choices=["batch", "group"],
                        default=["batch"], help="mrcnn's normalisation(s): batch (as when "
                        "fine-tuning pretrained weights; the default) and/or group (from scratch)")
    parser.add_argument("--dtype-policy", nargs="+",
                        choices=["auto", "float32", "mixed_bfloat16", "mixed_float16"],
                        default=["float32", "mixed_bfloat16"],
                        help="mrcnn's Config.DTYPE_POLICY value(s) to time (mixed_float16: "
                        "slow on CPUs, which have no float16 arithmetic)")
    parser.add_argument("--accumulation", type=int, nargs="+", default=[1],
                        help="mrcnn's Config.GRADIENT_ACCUMULATION_STEPS value(s) k: the "
                        "training time is that of one update (k steps of one image)")
    parser.add_argument("--rpn-channels", type=int, nargs="+", default=[512],
                        help="mrcnn's Config.RPN_CONV_CHANNELS value(s) to time")
    parser.add_argument("--torch-python", default=None,
                        help="a Python with torch and torchvision, e.g. a venv's "
                        "(default: this one)")
    parser.add_argument("--same-process", action="store_true",
                        help="time mrcnn's variants in this process, one after the other "
                        "(the peak memory of later rows then includes what earlier ones freed)")
    parser.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mrcnn-only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    if args.torch_only or args.mrcnn_only:
        import json

        if args.torch_only:
            print(json.dumps({size: time_torchvision(size, args.repeats, rng)
                              for size in args.sizes}))
        else:
            print(json.dumps(time_mrcnn(args.sizes[0], args.repeats, rng,
                                        json.loads(args.mrcnn_only), args.accumulation)))
        return None
    rows = []
    for size in args.sizes:
        # torch and TensorFlow in one process crash here (both bring their
        # own oneDNN): torchvision is timed in a child process of the run.
        torch_times = ({} if args.no_torch
                       else torchvision_in_subprocess([size], args.repeats, args.torch_python))
        tv_train, tv_infer, tv_detections, tv_memory = torch_times.get(str(size), (None,) * 4)
        for normalization, policy, rpn_channels in itertools.product(
                args.normalization, args.dtype_policy, args.rpn_channels):
            variant = dict(normalization=normalization, dtype_policy=policy,
                           rpn_channels=rpn_channels)
            if args.same_process:
                measured = time_mrcnn(size, args.repeats, rng, variant, args.accumulation)
            else:
                measured = mrcnn_in_subprocess(size, args.repeats, variant, args.accumulation)
            if measured is None:
                continue
            trains, infer, detections, memory = measured
            for k, train in trains.items():
                rows.append((size, normalization, policy, rpn_channels, k, train, infer,
                             tv_train, tv_infer, detections, tv_detections, memory, tv_memory))
            print(f"done {size} {variant}", file=sys.stderr, flush=True)

    def fmt(v):
        return "—" if v is None else f"{v:.2f} s"

    def ratio(a, b):
        return "—" if a is None or b is None else f"{a / b:.2f}×"

    # Inference time grows with the detections the mask head sees (a zero
    # score threshold and maximise_detections give each model its
    # maximum); both counts are printed: compare where they agree.
    # torchvision runs in float32 throughout.
    # With accumulation k the mrcnn train column is one update (k steps of
    # one image); torchvision's is always one step.
    def gib(v):
        return "—" if not v else f"{v / 2 ** 30:.2f} GiB"

    # Memory: the process's peak resident set during one training step
    # (runtime, weights, optimizer state and activations together).
    print("\n| size | mrcnn norm | mrcnn dtype policy | mrcnn RPN channels | "
          "mrcnn accumulation | mrcnn train (one update) | torchvision train step | ratio | "
          "mrcnn inference | torchvision inference | ratio | detections (mrcnn / tv) | "
          "training peak memory (mrcnn / tv) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (size, normalization, policy, rpn_channels, k, train, infer, tv_train, tv_infer,
         detections, tv_detections, memory, tv_memory) in rows:
        print(f"| {size}² | {normalization} | {policy} | {rpn_channels} | {k} | {fmt(train)} | "
              f"{fmt(tv_train)} | {ratio(train, tv_train)} | "
              f"{fmt(infer)} | {fmt(tv_infer)} | {ratio(infer, tv_infer)} | "
              f"{detections} / {'—' if tv_detections is None else tv_detections} | "
              f"{gib(memory)} / {gib(tv_memory)} |")
    if "mixed_float16" in args.dtype_policy:
        print("\nmixed_float16: CPUs have no float16 arithmetic (TensorFlow's CPU kernels "
              "convert to float32 and back), so on a CPU it is slower than float32; it is "
              "meant for GPUs.")
    return rows


if __name__ == "__main__":
    main()
