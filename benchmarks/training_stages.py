"""Where a training step's time goes: the training graph cut after each
stage and timed forward, then forward and backward, then the whole step
with its optimizer update; ROIAlign alone; the input pipeline; and
torchvision's training step split the same coarse way, in the same run
(ResNet-50-FPN, batch 1, the settings of benchmarks/step_times.py).

    python benchmarks/training_stages.py                       # 512
    python benchmarks/training_stages.py --sizes 512 1024 --repeats 5
    python benchmarks/training_stages.py --dtype-policy mixed_bfloat16
    python benchmarks/training_stages.py --torch-python /path/to/venv/bin/python

Each row of the cut graph is that graph's time; a stage's own cost is the
difference to the row above. "forward + backward" of a cut differentiates
the mean of the cut's outputs, so the backward pass covers the same layers
(proposals and detection targets have no gradient). torchvision runs in a
child process (torch and TensorFlow in one process crash here) when
`--torch-python` (or this Python) has torch and torchvision. Medians of
--repeats calls after one untimed call (graph tracing); compare rows of one
run: the machine's load moves absolute seconds.
"""
import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
if ROOT_DIR not in sys.path:
    sys.path.insert(0, ROOT_DIR)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from step_times import (  # noqa: E402
    benchmark_config,
    run_torch_child,
    synthetic_dataset,
    time_calls,
    torchvision_sample,
)

# (row label, layers whose outputs end the cut graph)
STAGES = [
    ("backbone + FPN", ("fpn_p2", "fpn_p3", "fpn_p4", "fpn_p5", "fpn_p6")),
    ("+ RPN + proposals (NMS)", ("rpn_class_logits", "rpn_bbox", "ROI")),
    ("+ detection targets", ("rpn_class_logits", "rpn_bbox", "proposal_targets")),
    ("+ ROIAlign + classifier head", ("rpn_class_logits", "rpn_bbox", "mrcnn_class_logits",
                                      "mrcnn_bbox")),
    ("+ ROIAlign + mask head (whole graph)", None),
]


def _float_outputs(values):
    import tensorflow as tf

    flat = tf.nest.flatten(values)
    return [tf.cast(v, tf.float32) for v in flat if v.dtype.is_floating]


def _cut(keras_model, layer_names):
    import keras

    if layer_names is None:
        return keras_model
    outputs = []
    for name in layer_names:
        output = keras_model.get_layer(name).output
        outputs.extend(output if isinstance(output, (list, tuple)) else [output])
    return keras.Model(keras_model.inputs, outputs)


def _cut_functions(cut, batch):
    """tf.functions of the mean of `cut`'s floating outputs on `batch`, and
    of its gradient (closures: variables passed to a tf.function as
    arguments would not be watched by its tape, and the backward pass
    would be pruned away)."""
    import tensorflow as tf

    def objective():
        return tf.add_n([tf.reduce_mean(v) for v in _float_outputs(cut(batch, training=True))])

    def backward():
        with tf.GradientTape() as tape:
            value = objective()
        return tape.gradient(value, cut.trainable_variables)

    return tf.function(objective), tf.function(backward)


def _align_functions(layer, rois, image_meta, features):
    """tf.functions of ROIAlign `layer` on fixed inputs, and of the gradient
    of its mean with respect to the feature maps."""
    import tensorflow as tf

    def align():
        return layer([rois, image_meta] + list(features))

    def backward():
        with tf.GradientTape() as tape:
            tape.watch(features)
            value = tf.reduce_mean(align())
        return tape.gradient(value, features)

    return tf.function(align), tf.function(backward)


def mrcnn_stages(size, repeats, rng, dtype_policy):
    """{"forward": [(label, s)], "backward": [(label, s)], "step": [(label, s)],
    "roi_align": [(label, s)], "input": s}."""
    import tensorflow as tf

    import mrcnn.model as modellib
    from mrcnn.modeling.roi_align import PyramidROIAlign
    from mrcnn.training.keras_model import compute_losses

    config = benchmark_config(size, dtype_policy=dtype_policy)
    model = modellib.MaskRCNN("training", config, "/tmp/mrcnn-bench")
    keras_model = model.keras_model
    from mrcnn.data.pipeline import DataGenerator

    generator = DataGenerator(synthetic_dataset(config, rng), config, workers=1)
    batch = {k: tf.constant(v) for k, v in generator[0].items()}
    results = {"forward": [], "backward": [], "step": [], "roi_align": []}
    for label, names in STAGES:
        forward, backward = _cut_functions(_cut(keras_model, names), batch)
        results["forward"].append((label, time_calls(forward, repeats)))
        results["backward"].append((label, time_calls(backward, repeats)))

    @tf.function
    def with_losses():
        outputs = keras_model(batch, training=True)
        return tf.add_n(list(compute_losses(batch, outputs).values()))

    @tf.function
    def losses_backward():
        with tf.GradientTape() as tape:
            value = with_losses()
        return tape.gradient(value, keras_model.trainable_variables)

    results["forward"].append(("+ losses", time_calls(with_losses, repeats)))
    results["backward"].append(("+ losses", time_calls(losses_backward, repeats)))
    model.compile(0.001, 0.9)
    keras_model.optimizer.build(keras_model.trainable_variables)
    step = tf.function(keras_model.train_step)
    results["step"].append(("train_step (+ weight decay, optimizer update)",
                            time_calls(lambda: step(batch), repeats)))

    # ROIAlign alone, on the feature maps and the ROIs of this batch.
    features = _cut(keras_model, STAGES[0][1])(batch, training=False)[:4]
    rois = _cut(keras_model, ("proposal_targets",))(batch, training=True)[0]
    for pool, label in ((config.POOL_SIZE, "classifier"), (config.MASK_POOL_SIZE, "mask")):
        layer = PyramidROIAlign([pool, pool])
        roi_count = rois.shape[1]

        align, align_backward = _align_functions(layer, rois, batch["input_image_meta"],
                                                 features)

        results["roi_align"].append((f"{label} {pool}×{pool}, {roi_count} ROIs: forward",
                                     time_calls(align, repeats)))
        results["roi_align"].append((f"{label} {pool}×{pool}, {roi_count} ROIs: forward + "
                                     "backward", time_calls(align_backward, repeats)))

    results["input"] = time_calls(lambda: generator[0], repeats)
    return results


def torchvision_stages(size, repeats, rng):
    """torchvision's maskrcnn_resnet50_fpn, float32: [(label, s)]."""
    import torch
    import torchvision

    torch.set_num_threads(os.cpu_count() or 1)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=4, min_size=size, max_size=size)
    model.train()
    image, target = torchvision_sample(size, rng)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    images, targets = model.transform([image], [target])

    def backbone_forward():
        return model.backbone(images.tensors)

    def backbone_backward():
        features = model.backbone(images.tensors)
        sum(f.mean() for f in features.values()).backward()

    def forward():
        return sum(model([image], [target]).values())

    def backward():
        forward().backward()

    def step():
        optimizer.zero_grad()
        backward()
        optimizer.step()

    return [
        ("backbone + FPN: forward", time_calls(backbone_forward, repeats)),
        ("backbone + FPN: forward + backward", time_calls(backbone_backward, repeats)),
        ("whole graph + losses: forward", time_calls(forward, repeats)),
        ("whole graph + losses: forward + backward", time_calls(backward, repeats)),
        ("training step (+ optimizer update)", time_calls(step, repeats)),
    ]


def print_rows(title, rows, differences=True):
    print(f"\n{title}")
    print("| | seconds | this stage |" if differences else "| | seconds |")
    print("|---|---:|---:|" if differences else "|---|---:|")
    previous = 0.0
    for label, seconds in rows:
        if differences:
            print(f"| {label} | {seconds:.3f} | {seconds - previous:+.3f} |")
        else:
            print(f"| {label} | {seconds:.3f} |")
        previous = seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype-policy", choices=["auto", "float32", "mixed_bfloat16"],
                        default="float32", help="Config.DTYPE_POLICY")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="a Python with torch and torchvision (default: this one)")
    parser.add_argument("--no-torch", action="store_true", help="skip torchvision")
    parser.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    if args.torch_only:
        print(json.dumps({size: torchvision_stages(size, args.repeats, rng)
                          for size in args.sizes}))
        return None
    torch_rows = ({} if args.no_torch else run_torch_child(
        os.path.abspath(__file__), args.torch_python,
        ["--repeats", str(args.repeats), "--sizes"] + [str(s) for s in args.sizes]))
    results = {}
    for size in args.sizes:
        results[size] = mrcnn_stages(size, args.repeats, rng, args.dtype_policy)
        print(f"done {size}", file=sys.stderr, flush=True)
    for size, result in results.items():
        print(f"\n## {size}², batch 1, mrcnn {args.dtype_policy}")
        print_rows("mrcnn, forward (training=True), graph up to", result["forward"])
        print_rows("mrcnn, forward + backward, graph up to", result["backward"])
        backward = result["backward"][-1][1]
        step = result["step"][0][1]
        print_rows("mrcnn, the whole step", result["step"] + [
            ("of which the backward pass", backward - result["forward"][-1][1]),
            ("of which the optimizer update and weight decay", step - backward)],
            differences=False)
        print_rows("mrcnn, PyramidROIAlign alone (this batch's feature maps and ROIs)",
                   result["roi_align"], differences=False)
        print(f"\nmrcnn, one batch from DataGenerator (runs beside the model in fit(): "
              f"{result['input']:.3f} s, {result['input'] / step:.0%} of a step)")
        if str(size) in torch_rows:
            rows = torch_rows[str(size)]
            print_rows("torchvision maskrcnn_resnet50_fpn, float32", rows, differences=False)
            tv = dict(rows)
            ours_backbone = result["backward"][0][1]
            print("\n| | mrcnn | torchvision | ratio |")
            print("|---|---:|---:|---:|")
            for label, mine, theirs in (
                    ("backbone + FPN, forward", result["forward"][0][1],
                     tv["backbone + FPN: forward"]),
                    ("backbone + FPN, forward + backward", ours_backbone,
                     tv["backbone + FPN: forward + backward"]),
                    ("whole graph + losses, forward", result["forward"][-1][1],
                     tv["whole graph + losses: forward"]),
                    ("whole graph + losses, forward + backward", backward,
                     tv["whole graph + losses: forward + backward"]),
                    ("training step", step, tv["training step (+ optimizer update)"])):
                print(f"| {label} | {mine:.3f} | {theirs:.3f} | {mine / theirs:.2f}× |")
    return results


if __name__ == "__main__":
    main()
