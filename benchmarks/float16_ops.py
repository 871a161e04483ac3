"""List the TensorFlow ops that compute in float16 under
DTYPE_POLICY="mixed_float16", in one training step and in inference, and
run both on this machine's devices: an op without a float16 kernel there
fails the run ("No registered kernel"), so a clean run means every float16
op printed has one.

    python benchmarks/float16_ops.py                    # tiny and ResNet-50 networks
    python benchmarks/float16_ops.py --backbone resnet50 --normalization batch

Each listed op has a float16 input or output (the `T`, `dtype`, `SrcT` or
`DstT` attribute is half), nested loop and branch bodies included.
"""
import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
for path in (ROOT_DIR, os.path.join(ROOT_DIR, "tests"), os.path.join(ROOT_DIR, "tests", "core")):
    if path not in sys.path:
        sys.path.insert(0, path)


def half_ops(graph_def):
    """The op types of a GraphDef (and its function library) with a float16
    attribute."""
    from tensorflow.core.framework import types_pb2

    found = set()
    nodes = list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]
    for node in nodes:
        for attr in node.attr.values():
            if attr.type == types_pb2.DT_HALF or types_pb2.DT_HALF in attr.list.type:
                found.add(node.op)
    return found


def inventory(backbone, normalization):
    """(training ops, inference ops) that run in float16 for the test suite's
    tiny network on `backbone`, after running a step and a detection."""
    import importlib

    import tensorflow as tf

    importlib.import_module("tiny_backbone")  # registers BACKBONE "tiny"
    from tiny import TinyConfig, tiny_dataset

    import mrcnn.model as modellib
    from mrcnn.data.pipeline import DataGenerator

    config = TinyConfig()
    config.BACKBONE, config.NORMALIZATION = backbone, normalization
    config.DTYPE_POLICY, config.IMAGES_PER_GPU = "mixed_float16", 1
    logs = tempfile.mkdtemp()
    model = modellib.MaskRCNN("training", config, logs)
    model.compile(0.01, 0.9)
    keras_model = model.keras_model
    keras_model.optimizer.build(keras_model.trainable_variables)
    batch = DataGenerator(tiny_dataset(2), config, shuffle=False, seed=0, workers=1)[0]
    batch = batch[0] if isinstance(batch, tuple) else batch
    step = tf.function(keras_model.train_step)
    step(batch)
    training = half_ops(step.get_concrete_function(batch).graph.as_graph_def())

    inference = modellib.MaskRCNN("inference", config, logs)
    inference.detect([tiny_dataset(1).load_image(0)])
    predict = inference._predict_function.get_concrete_function(
        tf.TensorSpec([None] + list(config.IMAGE_SHAPE), tf.float32),
        tf.TensorSpec([None, config.IMAGE_META_SIZE], tf.float32))
    return training, half_ops(predict.graph.as_graph_def())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", nargs="+", default=["tiny", "resnet50"])
    parser.add_argument("--normalization", nargs="+", choices=["batch", "group"],
                        default=["group", "batch"])
    args = parser.parse_args(argv)
    import tensorflow as tf

    devices = ", ".join(d.name for d in tf.config.list_logical_devices())
    for backbone in args.backbone:
        for normalization in args.normalization:
            training, inference = inventory(backbone, normalization)
            print(f"{backbone}, {normalization} normalization, ran on {devices}:")
            print(f"  training step: {', '.join(sorted(training))}")
            print(f"  inference:     {', '.join(sorted(inference))}")


if __name__ == "__main__":
    main()
