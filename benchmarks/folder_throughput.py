"""Throughput on a folder: images per second of `mrcnn predict --images`
(decode, detect, draw, write PNG and COCO results) with its read-ahead
pipeline and without it (--read-ahead 0), and of torchvision's equivalent
loop (decode, detect, draw masks and boxes, write PNG) on the same images,
in the same run.

    python benchmarks/folder_throughput.py                        # 100 images of 512²
    python benchmarks/folder_throughput.py --count 50 --size 1024
    python benchmarks/folder_throughput.py --torch-python /path/to/venv/bin/python

Both networks are Mask R-CNN ResNet-50-FPN, 4 classes, random weights made
to return DETECTIONS detections per image (step_times.maximise_detections;
torchvision with a zero score threshold), so that both draw as much. The
command's start (import, build, load, tracing) is left out: it runs on the
first `--warm` images and on all of them, and the rate is the difference.
torchvision runs in a child process (torch and TensorFlow in one process
crash here), timed after one warm-up image. Absolute rates on a shared
machine are noise; compare the rows of one run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.abspath(os.path.join(HERE, ".."))
for path in (ROOT_DIR, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from step_times import run_torch_child  # noqa: E402

NUM_CLASSES = 1 + 3
DETECTIONS = 20


def write_images(folder, count, size, seed=0):
    """`count` JPEGs of coloured ellipses and rectangles on a gradient: what
    a camera folder compresses like, unlike noise."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    ramp = np.linspace(40, 200, size, dtype=np.float32)
    for i in range(count):
        base = np.stack([np.add.outer(ramp, ramp[::-1]) / 2] * 3, axis=-1).astype(np.uint8)
        image = Image.fromarray(base)
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = (int(v) for v in rng.integers(0, size * 3 // 4, 2))
            w, h = (int(v) for v in rng.integers(size // 10, size // 4, 2))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape([x, y, x + w, y + h], fill=colour)
        image.save(os.path.join(folder, f"image_{i:04d}.jpg"), quality=90)
    return sorted(os.path.join(folder, n) for n in os.listdir(folder))


def write_checkpoint(folder, size, dtype_policy):
    """An .h5 checkpoint of random weights that detects DETECTIONS
    instances per image (written by a child: this process stays free of
    TensorFlow until it needs it)."""
    checkpoint = os.path.join(folder, f"mrcnn_{size}.h5")
    code = (
        "import sys; sys.path[:0] = [{root!r}, {here!r}]\n"
        "from step_times import benchmark_config, maximise_detections\n"
        "from mrcnn.model import MaskRCNN\n"
        "from mrcnn.weights import save_weights_h5\n"
        "config = benchmark_config({size}, dtype_policy={policy!r})\n"
        "config.DETECTION_MAX_INSTANCES = {detections}\n"
        "model = MaskRCNN('training', config, {folder!r})\n"
        "maximise_detections(model)\n"
        "save_weights_h5(model.keras_model, {checkpoint!r}, attrs=model.checkpoint_attrs(0))\n"
    ).format(root=ROOT_DIR, here=HERE, size=size, policy=dtype_policy, detections=DETECTIONS,
             folder=folder, checkpoint=checkpoint)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return checkpoint


def time_predict(checkpoint, images, folder, read_ahead, dtype_policy):
    """Wall seconds of `mrcnn predict` on the folder holding `images`, and
    the detections per image it wrote."""
    out = tempfile.mkdtemp(prefix="out-", dir=folder)
    source = os.path.dirname(images[0])
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mrcnn.cli", "predict", "--weights", checkpoint,
                    "--images", source, "--out", out, "--logs", folder,
                    "--read-ahead", str(read_ahead), "--set", f"DTYPE_POLICY={dtype_policy}"],
                   check=True, capture_output=True, cwd=ROOT_DIR)
    seconds = time.perf_counter() - started
    drawn = [n for n in os.listdir(out) if n.endswith(".png")]
    if len(drawn) != len(images):
        raise RuntimeError(f"mrcnn predict drew {len(drawn)} of {len(images)} images")
    with open(os.path.join(out, "coco_results.json")) as f:
        detections = len(json.load(f)) / len(images)
    return seconds, detections


def torchvision_rate(images, size, out):
    """Images per second of torchvision's loop over `images` (child side)."""
    import numpy as np
    import torch
    import torchvision
    from PIL import Image
    from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

    torch.set_num_threads(os.cpu_count() or 1)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=NUM_CLASSES, min_size=size,
        max_size=size, box_score_thresh=0.0, box_detections_per_img=DETECTIONS).eval()
    os.makedirs(out, exist_ok=True)

    def one(path):
        pixels = torch.from_numpy(np.asarray(Image.open(path).convert("RGB")).copy())
        pixels = pixels.permute(2, 0, 1)
        with torch.no_grad():
            result = model([pixels.float() / 255])[0]
        drawn = draw_segmentation_masks(pixels, result["masks"][:, 0] > 0.5, alpha=0.5)
        drawn = draw_bounding_boxes(drawn, result["boxes"])
        Image.fromarray(drawn.permute(1, 2, 0).numpy()).save(
            os.path.join(out, os.path.basename(path) + ".png"))
        return len(result["boxes"])

    one(images[0])
    started = time.perf_counter()
    detections = [one(p) for p in images]
    return len(images) / (time.perf_counter() - started), float(np.mean(detections))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="images in the folder")
    parser.add_argument("--warm", type=int, default=10,
                        help="images of the run whose time is subtracted (start and tracing)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--dtype-policy", nargs="+", default=["auto", "float32"],
                        choices=["auto", "float32", "mixed_bfloat16"])
    parser.add_argument("--torch-python", default=sys.executable,
                        help="a Python with torch and torchvision (default: this one)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-only", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.torch_only:
        folder, out = args.torch_only
        images = sorted(os.path.join(folder, n) for n in os.listdir(folder))
        print(json.dumps(torchvision_rate(images, args.size, out)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="folder-throughput-") as folder:
        images = write_images(os.path.join(folder, "all"), args.count, args.size)
        warm_folder = os.path.join(folder, "warm")
        os.makedirs(warm_folder)
        for path in images[:args.warm]:
            os.link(path, os.path.join(warm_folder, os.path.basename(path)))
        warm = sorted(os.path.join(warm_folder, n) for n in os.listdir(warm_folder))
        measured = None if args.no_torch else run_torch_child(
            os.path.abspath(__file__), args.torch_python,
            [os.path.dirname(images[0]), os.path.join(folder, "tv-out"), "--size", str(args.size)])
        if measured:
            rate, detections = measured
            rows.append(("torchvision, float32, one image after the other", rate, detections))
        for policy in args.dtype_policy:
            checkpoint = write_checkpoint(folder, args.size, policy)
            for depth in (4, 0):
                short, _ = time_predict(checkpoint, warm, folder, depth, policy)
                full, detections = time_predict(checkpoint, images, folder, depth, policy)
                how = f"--read-ahead {depth}" + (" (default)" if depth == 4 else "")
                rows.append((f"mrcnn predict, DTYPE_POLICY {policy}, {how}",
                             (len(images) - len(warm)) / (full - short), detections))
                print(f"done {policy} {depth}", file=sys.stderr, flush=True)
    print(f"\n{args.count} images of {args.size}², up to {DETECTIONS} detections each, "
          f"drawn and written as PNG")
    print("| | images / s | detections per image |")
    print("|---|---:|---:|")
    for label, rate, detections in rows:
        print(f"| {label} | {rate:.2f} | {detections:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
