"""Where inference time goes: the inference graph timed up to each stage
(ResNet-50-FPN, batch 1, random weights made to keep every ROI as a detection
(step_times.maximise_detections), so that the mask head sees
DETECTION_MAX_INSTANCES detections, a trained model's worst case), at several
image sizes, with the settings of benchmarks/step_times.py.

    python benchmarks/inference_stages.py                # 128 and 512
    python benchmarks/inference_stages.py --sizes 512 --repeats 5
    python benchmarks/inference_stages.py --dtype-policy mixed_bfloat16
    python benchmarks/inference_stages.py --sizes 1024 --rpn-channels 256

Each row is the graph cut after that stage; the stage's own cost is the
difference to the row above. `detect()` adds molding the image and pasting
the masks back at the original size. Medians; compare rows of one run.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
if ROOT_DIR not in sys.path:
    sys.path.insert(0, ROOT_DIR)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from step_times import benchmark_config, maximise_detections, time_calls  # noqa: E402

# (row label, layer whose output ends the cut graph)
STAGES = [
    ("backbone + FPN", "fpn_p6"),
    ("+ RPN + proposals (NMS)", "ROI"),
    ("+ ROIAlign + classifier + detection layer", "mrcnn_detection"),
    ("+ mask head (whole graph)", "mrcnn_mask_probs"),
]


def stage_times(size, repeats, rng, dtype_policy="float32", rpn_channels=512):
    """[(label, seconds)] for the cut graphs and detect(); also the number
    of real proposals and detections of the run."""
    import keras
    import tensorflow as tf

    import mrcnn.model as modellib

    config = benchmark_config(size, dtype_policy=dtype_policy, rpn_channels=rpn_channels)
    model = modellib.MaskRCNN("inference", config, "/tmp/mrcnn-bench")
    maximise_detections(model)
    image = rng.integers(0, 255, (size, size, 3)).astype(np.uint8)
    molded, metas, _ = model.mold_inputs([image])
    inputs = {"input_image": tf.constant(molded, tf.float32),
              "input_image_meta": tf.constant(metas, tf.float32)}
    keras_model = model.keras_model
    rows = []
    for label, layer_name in STAGES:
        cut = keras.Model(keras_model.inputs, keras_model.get_layer(layer_name).output)
        run = tf.function(lambda x, cut=cut: cut(x, training=False))
        rows.append((label, time_calls(lambda: run(inputs), repeats)))
    rows.append(("detect() (+ mold, unmold, paste masks)",
                 time_calls(lambda: model.detect([image]), repeats)))
    out = model._predict(molded, metas)
    proposals = int(np.any(out["rpn_rois"][0] != 0, axis=-1).sum())
    detections = int((out["detections"][0][:, 4] > 0).sum())
    return rows, proposals, detections


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype-policy", choices=["auto", "float32", "mixed_bfloat16"],
                        default="float32", help="Config.DTYPE_POLICY")
    parser.add_argument("--rpn-channels", type=int, default=512, help="Config.RPN_CONV_CHANNELS")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    results = {}
    for size in args.sizes:
        results[size] = stage_times(size, args.repeats, rng, args.dtype_policy,
                                    args.rpn_channels)
        print(f"done {size}", file=sys.stderr, flush=True)
    for size, (rows, proposals, detections) in results.items():
        print(f"\n{size}², {args.dtype_policy}, RPN {args.rpn_channels} channels: "
              f"{proposals} proposals, {detections} detections")
        print("| graph up to | seconds | this stage |")
        print("|---|---|---|")
        previous = 0.0
        for label, seconds in rows:
            print(f"| {label} | {seconds:.3f} s | {seconds - previous:+.3f} s |")
            previous = seconds
    return results


if __name__ == "__main__":
    main()
