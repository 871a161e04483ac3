"""Cold start: from a fresh process, the time to the first prediction on
one image (import, build, load, first call): mrcnn from a checkpoint, mrcnn
from its exported SavedModel (`mrcnn export`), and torchvision's equivalent
script in the same run when torch is installed
(`pip install -r benchmarks/requirements-torch.txt`).

    python benchmarks/cold_start.py                   # 128 px, 3 processes each
    python benchmarks/cold_start.py --sizes 128 512 --repeats 5

Both networks are Mask R-CNN ResNet-50-FPN with 4 classes and random
weights, saved once (mrcnn: an .h5 checkpoint as training writes it, and
its SavedModel; torchvision: a state dict) and loaded by every child
process. Each child reports its stages; `mrcnn predict` is also timed end
to end with --weights and with --model (the command a user runs: it also
reads and writes files). Prints the medians of each stage over the
processes; absolute seconds on a shared machine are noise, compare the
columns of one run.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

START = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
if ROOT_DIR not in sys.path:
    sys.path.insert(0, ROOT_DIR)

NUM_CLASSES = 1 + 3
STAGES = ("import numpy", "import tensorflow / torch", "import mrcnn / torchvision", "build",
          "load", "first detect", "second detect")
KINDS = ("checkpoint", "saved_model", "torchvision")


class Marks:
    """Seconds since the process started, per stage."""

    def __init__(self):
        self.last = START
        self.stages = {}

    def __call__(self, stage):
        now = time.perf_counter()
        self.stages[stage] = now - self.last
        self.last = now


def mrcnn_child(checkpoint, image_path):
    """One cold start of the library: the stages of `mrcnn predict`."""
    mark = Marks()
    import numpy as np
    mark("import numpy")
    import tensorflow  # noqa: F401
    mark("import tensorflow / torch")
    from PIL import Image

    from mrcnn.config import Config
    from mrcnn.model import MaskRCNN
    from mrcnn.training.checkpoints import read_checkpoint_config
    mark("import mrcnn / torchvision")
    config = Config.from_yaml(read_checkpoint_config(checkpoint))
    config.IMAGES_PER_GPU = 1
    model = MaskRCNN("inference", config, tempfile.mkdtemp(prefix="cold-start-"))
    model.keras_model  # built on first use
    mark("build")
    model.load_weights(checkpoint, by_name=True)
    mark("load")
    image = np.asarray(Image.open(image_path).convert("RGB"))
    model.detect([image])
    mark("first detect")
    model.detect([image])
    mark("second detect")
    return mark.stages


def saved_model_child(export_dir, image_path):
    """One cold start of the exported SavedModel (mrcnn.export.ExportedModel:
    TensorFlow alone, no graph to build or trace)."""
    mark = Marks()
    import numpy as np
    mark("import numpy")
    import tensorflow  # noqa: F401
    mark("import tensorflow / torch")
    from PIL import Image

    from mrcnn.export import ExportedModel
    mark("import mrcnn / torchvision")
    mark("build")
    model = ExportedModel(export_dir)
    mark("load")
    image = np.asarray(Image.open(image_path).convert("RGB"))
    model.predict(image)
    mark("first detect")
    model.predict(image)
    mark("second detect")
    return mark.stages


def torchvision_child(state_dict, image_path):
    """One cold start of torchvision's equivalent script."""
    mark = Marks()
    import numpy as np
    mark("import numpy")
    import torch
    mark("import tensorflow / torch")
    import torchvision
    from PIL import Image
    mark("import mrcnn / torchvision")
    torch.set_num_threads(os.cpu_count() or 1)
    # At the image's size, as mrcnn's IMAGE_MAX_DIM: torchvision's default
    # would scale it to 800 pixels.
    with Image.open(image_path) as header:
        size = max(header.size)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=NUM_CLASSES, min_size=size,
        max_size=size).eval()
    mark("build")
    model.load_state_dict(torch.load(state_dict))
    mark("load")
    image = torch.from_numpy(np.asarray(Image.open(image_path).convert("RGB")).copy())
    image = image.permute(2, 0, 1).float() / 255
    with torch.no_grad():
        model([image])
        mark("first detect")
        model([image])
        mark("second detect")
    return mark.stages


def prepare(folder, size, torch_python, dtype_policy):
    """Writes the image, the mrcnn checkpoint, its SavedModel and (torch
    installed for `torch_python`) the torchvision state dict of one size.
    Returns (image, {kind: path or None})."""
    import numpy as np
    from PIL import Image

    image = os.path.join(folder, f"image_{size}.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(image)
    checkpoint = os.path.join(folder, f"mrcnn_{size}.h5")
    state_dict = os.path.join(folder, f"torchvision_{size}.pt")
    code = ("import sys; sys.path.insert(0, {root!r}); sys.path.insert(0, {here!r})\n"
            "from step_times import benchmark_config\n"
            "from mrcnn.model import MaskRCNN\n"
            "from mrcnn.weights import save_weights_h5\n"
            "config = benchmark_config({size}, dtype_policy={dtype_policy!r})\n"
            "config.DETECTION_MIN_CONFIDENCE = 0.7\n"
            "config.DETECTION_NMS_THRESHOLD = 0.3\n"
            "model = MaskRCNN('training', config, {folder!r})\n"
            "save_weights_h5(model.keras_model, {checkpoint!r}, attrs=model.checkpoint_attrs(0))\n"
            ).format(root=ROOT_DIR, here=os.path.dirname(os.path.abspath(__file__)), size=size,
                     folder=folder, checkpoint=checkpoint,
                     dtype_policy=dtype_policy)
    subprocess.run([sys.executable, "-c", code], check=True)
    export_dir = os.path.join(folder, f"saved_model_{size}")
    subprocess.run([sys.executable, "-m", "mrcnn.cli", "export", "--weights", checkpoint,
                    "--out", export_dir, "--logs", folder],
                   check=True, capture_output=True, cwd=ROOT_DIR)
    code = ("import torch, torchvision\n"
            "model = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, "
            f"weights_backbone=None, num_classes={NUM_CLASSES})\n"
            f"torch.save(model.state_dict(), {state_dict!r})\n")
    if subprocess.run([torch_python, "-c", code], capture_output=True).returncode != 0:
        state_dict = None
    return image, {"checkpoint": checkpoint, "saved_model": export_dir, "torchvision": state_dict}


def run_child(kind, path, image, python=sys.executable):
    done = subprocess.run([python, os.path.abspath(__file__), "--child", kind, path, image],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed: {done.stderr.strip()[-2000:]}")
    stages = json.loads(done.stdout.strip().splitlines()[-1])
    return stages


def time_command(flags, image, folder):
    """Wall seconds of `python -m mrcnn.cli predict <flags>` on the one image."""
    out = tempfile.mkdtemp(prefix="cold-start-out-", dir=folder)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mrcnn.cli", "predict", *flags, "--images", image,
                    "--out", out, "--logs", folder], check=True, capture_output=True, cwd=ROOT_DIR)
    return time.perf_counter() - started


def table(size, stages_of, command):
    """Rows of medians; stages_of: {kind: [stages of one process, ...]}."""
    print(f"\n{size}x{size}, medians of {len(stages_of['checkpoint'])} fresh processes each (s)")
    kinds = [k for k in KINDS if stages_of.get(k)]
    print("| stage | " + " | ".join(kinds) + " |")
    print("|---|" + "---:|" * len(kinds))
    median = {k: {s: statistics.median(r[s] for r in stages_of[k]) for s in STAGES}
              for k in kinds}
    for stage in STAGES:
        print(f"| {stage} | " + " | ".join(f"{median[k][stage]:.2f}" for k in kinds) + " |")
    totals = {k: sum(median[k][s] for s in STAGES if s != "second detect") for k in kinds}
    print("| **to the first detection** | "
          + " | ".join(f"**{totals[k]:.2f}**" for k in kinds) + " |")
    if "torchvision" in totals:
        for k in ("checkpoint", "saved_model"):
            print(f"mrcnn {k} / torchvision, to the first detection: "
                  f"{totals[k] / totals['torchvision']:.2f}x")
    for kind, seconds in command.items():
        print(f"`mrcnn predict` from the {kind}, end to end (wall, median): "
              f"{statistics.median(seconds):.2f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per side")
    parser.add_argument("--no-torch", action="store_true", help="skip torchvision")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="a Python with torch and torchvision, e.g. a venv's "
                        "(default: this one)")
    parser.add_argument("--dtype-policy", default="auto",
                        choices=["auto", "float32", "mixed_bfloat16"],
                        help="the checkpoint's Config.DTYPE_POLICY (its SavedModel: float32 "
                        "unless a policy is named, as `mrcnn export` does)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, path, image = args.child
        child = {"checkpoint": mrcnn_child, "saved_model": saved_model_child,
                 "torchvision": torchvision_child}[kind]
        stages = child(path, image)
        print(json.dumps(stages))
        return 0
    with tempfile.TemporaryDirectory(prefix="cold-start-") as folder:
        for size in args.sizes:
            image, paths = prepare(folder, size, args.torch_python, args.dtype_policy)
            if args.no_torch:
                paths["torchvision"] = None
            elif paths["torchvision"] is None:
                print("torchvision not timed: torch is not installed "
                      "(pip install -r benchmarks/requirements-torch.txt)", file=sys.stderr)
            stages_of = {kind: [] for kind in KINDS}
            command = {"checkpoint": [], "saved_model": []}
            # Interleaved, so that a change in the machine's load hits all.
            for _ in range(args.repeats):
                for kind in KINDS:
                    if paths[kind] is not None:
                        python = args.torch_python if kind == "torchvision" else sys.executable
                        stages_of[kind].append(run_child(kind, paths[kind], image, python))
                command["checkpoint"].append(
                    time_command(["--weights", paths["checkpoint"]], image, folder))
                command["saved_model"].append(
                    time_command(["--model", paths["saved_model"]], image, folder))
            table(size, stages_of, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
