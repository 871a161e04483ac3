"""SavedModel export: a checkpoint as a TensorFlow SavedModel that takes a
raw image and returns detections at that image's size, pre- and
post-processing inside the graph (mrcnn.modeling.transform), so that it
runs wherever TensorFlow runs, without this package.

    model = MaskRCNN("inference", config, "logs"); model.load_weights(path)
    export_saved_model(model, "export/shapes", class_names)
    ExportedModel("export/shapes").predict(image)      # or tf.saved_model.load

Signatures (one image per call):

    serving_default          image uint8 [H, W, 3], any size and aspect ratio
    serving_bytes            image_bytes string scalar: an encoded JPEG or PNG
    serving_threshold        image, score_threshold float32 scalar
    serving_bytes_threshold  image_bytes, score_threshold

A SavedModel signature cannot have an optional input, hence the pairs: the
first two keep the detections scoring at least the config's
DETECTION_MIN_CONFIDENCE; the `_threshold` ones those scoring at least
`score_threshold`, lower or higher than the config's. They run the mask head
on the detections above the threshold only, as the defaults do.

Outputs of every signature:

    boxes           float32 [N, 4]  y1, x1, y2, x2 in the image's pixels (y2, x2 exclusive)
    class_ids       int32   [N]
    class_names     string  [N]
    scores          float32 [N]     highest first
    masks           uint8   [N, H, W]  1 on the instance, at the image's size
    num_detections  int32   []

`<dir>/mrcnn_export.json` describes the export: class names, the config,
the signatures, the dtype policy, the source checkpoint and its epoch, the
TensorFlow and Keras versions.
"""
import contextlib
import copy
import datetime
import json
import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from mrcnn.modeling import transform
from mrcnn.weights import copy_weights_by_name

METADATA_FILE = "mrcnn_export.json"

OUTPUTS = {
    "boxes": ("float32", "[N, 4]"),
    "class_ids": ("int32", "[N]"),
    "class_names": ("string", "[N]"),
    "scores": ("float32", "[N]"),
    "masks": ("uint8", "[N, H, W]"),
    "num_detections": ("int32", "[]"),
}
IMAGE_INPUT = {"image": ("uint8", "[H, W, 3]")}
BYTES_INPUT = {"image_bytes": ("string", "[]")}
THRESHOLD_INPUT = {"score_threshold": ("float32", "[]")}
SIGNATURES = {
    "serving_default": IMAGE_INPUT,
    "serving_bytes": BYTES_INPUT,
    "serving_threshold": {**IMAGE_INPUT, **THRESHOLD_INPUT},
    "serving_bytes_threshold": {**BYTES_INPUT, **THRESHOLD_INPUT},
}


def signature_table():
    """{name: {"inputs": {name: {dtype, shape}}, "outputs": {...}}} of the
    exported signatures."""
    def spec(d):
        return {k: {"dtype": dtype, "shape": shape} for k, (dtype, shape) in d.items()}
    return {name: {"inputs": spec(inputs), "outputs": spec(OUTPUTS)}
            for name, inputs in SIGNATURES.items()}


class _ScoreFloor:
    """DETECTION_MIN_CONFIDENCE as a run-time tensor for the detection layer.

    refine_detections_graph reads the setting with `if config.X:` and
    `class_scores >= config.X`: this object is truthy, and TensorFlow
    converts it to `tensor` where it is compared, so one traced network
    serves every threshold and the mask head still runs only on the
    detections that pass it.
    """

    def __init__(self, tensor):
        self.tensor = tensor

    def __bool__(self):
        return True


def _convert_score_floor(value, dtype=None, name=None, as_ref=False):
    return tf.cast(value.tensor, dtype or tf.float32, name=name)


tf.register_tensor_conversion_function(_ScoreFloor, _convert_score_floor)


@contextlib.contextmanager
def _score_floor(keras_model, min_confidence):
    """While tracing, the detection layer keeps detections scoring at least
    the float32 scalar tensor `min_confidence` (the layer reads its config
    when called; its variables are untouched)."""
    layer = keras_model.get_layer("mrcnn_detection")
    saved = layer.config
    layer.config = copy.copy(saved)
    layer.config.DETECTION_MIN_CONFIDENCE = _ScoreFloor(min_confidence)
    try:
        yield
    finally:
        layer.config = saved


def _check_exportable(config):
    if int(config.IMAGE_CHANNEL_COUNT) != 3:
        raise ValueError(f"IMAGE_CHANNEL_COUNT is {config.IMAGE_CHANNEL_COUNT}: the export "
                         "takes RGB images (3 channels) only")
    if config.IMAGE_RESIZE_MODE == "pad64" and int(config.IMAGE_MIN_DIM or 0) % 64:
        raise ValueError(f"IMAGE_MIN_DIM {config.IMAGE_MIN_DIM} must be a multiple of 64 "
                         "with IMAGE_RESIZE_MODE pad64")


class _Detector:
    """The serving functions of one inference model: image -> outputs."""

    def __init__(self, model, class_names):
        self.model = model
        self.config = model.config
        self.class_names = tf.constant([str(n) for n in class_names])
        mode = self.config.IMAGE_RESIZE_MODE
        self.mode = "square" if mode == "crop" else mode
        # One network function for all four signatures: tracing the network
        # is most of an export's time.
        if self.mode == "square":
            side = int(self.config.IMAGE_MAX_DIM)
            image_spec = tf.TensorSpec([1, side, side, 3], tf.float32)
        else:
            image_spec = tf.TensorSpec([1, None, None, 3], tf.float32)
        meta_spec = tf.TensorSpec([1, int(self.config.IMAGE_META_SIZE)], tf.float32)
        keras_model = model.keras_model

        def network(molded, meta, min_confidence):
            with _score_floor(keras_model, min_confidence):
                outputs = keras_model({"input_image": molded, "input_image_meta": meta},
                                      training=False)
            return {k: tf.cast(outputs[k], tf.float32) for k in ("detections", "mrcnn_mask")}

        self.network = tf.function(
            network, input_signature=[image_spec, meta_spec, tf.TensorSpec([], tf.float32)],
            autograph=False)

    def detect(self, image, score_threshold=None):
        """image: uint8 [H, W, 3]. score_threshold: float32 scalar, or None
        for the config's DETECTION_MIN_CONFIDENCE. Returns the OUTPUTS dict."""
        config = self.config
        image = tf.ensure_shape(image, [None, None, 3])
        molded, meta, window = transform.mold_image(
            image, config.MEAN_PIXEL, int(config.NUM_CLASSES), config.IMAGE_MIN_DIM,
            config.IMAGE_MAX_DIM, config.IMAGE_MIN_SCALE, self.mode)
        if self.mode == "square":
            side = int(config.IMAGE_MAX_DIM)
            molded = tf.ensure_shape(molded, [side, side, 3])
        if score_threshold is None:
            score_threshold = tf.constant(float(config.DETECTION_MIN_CONFIDENCE or 0.0),
                                          tf.float32)
        outputs = self.network(molded[None], meta[None], score_threshold)
        boxes, class_ids, scores, small_masks = transform.unmold_detections(
            outputs["detections"][0], outputs["mrcnn_mask"][0],
            tf.shape(image), tf.shape(molded), window)
        masks = transform.paste_masks(small_masks, boxes, tf.shape(image)[0], tf.shape(image)[1])
        return {
            "boxes": tf.cast(boxes, tf.float32),
            "class_ids": class_ids,
            "class_names": tf.gather(self.class_names, class_ids),
            "scores": scores,
            "masks": masks,
            "num_detections": tf.shape(class_ids)[0],
        }

    @staticmethod
    def decode(image_bytes):
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
        return tf.ensure_shape(image, [None, None, 3])

    def endpoints(self):
        """{signature name: (function, input signature)}."""
        image = tf.TensorSpec([None, None, 3], tf.uint8, name="image")
        data = tf.TensorSpec([], tf.string, name="image_bytes")
        threshold = tf.TensorSpec([], tf.float32, name="score_threshold")

        def serving_default(image):
            return self.detect(image)

        def serving_bytes(image_bytes):
            return self.detect(self.decode(image_bytes))

        def serving_threshold(image, score_threshold):
            return self.detect(image, score_threshold)

        def serving_bytes_threshold(image_bytes, score_threshold):
            return self.detect(self.decode(image_bytes), score_threshold)

        return {
            "serving_default": (serving_default, [image]),
            "serving_bytes": (serving_bytes, [data]),
            "serving_threshold": (serving_threshold, [image, threshold]),
            "serving_bytes_threshold": (serving_bytes_threshold, [data, threshold]),
        }


def _checkpoint_epoch(path):
    """The epoch a checkpoint of this project records (root attribute
    `epoch`), else None."""
    if not path or not os.path.isfile(path):
        return None
    try:
        import h5py

        with h5py.File(path, "r") as f:
            epoch = f.attrs.get("epoch")
    except OSError:
        return None
    return None if epoch is None else int(epoch)


def export_metadata(model, class_names, checkpoint=None):
    """The content of mrcnn_export.json (a JSON-able dict)."""
    config = model.config
    return {
        "format": "mrcnn SavedModel export",
        "class_names": [str(n) for n in class_names],
        "config": config.to_dict(),
        "signatures": signature_table(),
        # What the graph computes in ("auto" resolved when it was built).
        "dtype_policy": model.precision.policy,
        "checkpoint": os.path.abspath(checkpoint) if checkpoint else None,
        "epoch": _checkpoint_epoch(checkpoint),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def check_out_dir(out_dir, overwrite):
    """Refuse an existing non-empty `out_dir` unless `overwrite`."""
    if os.path.isfile(out_dir):
        raise ValueError(f"{out_dir} is a file; give a folder to export into")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise ValueError(f"{out_dir} exists and is not empty; choose a new folder or "
                         "overwrite it (--overwrite, overwrite=True)")


def export_dtype_policy(setting):
    """The dtype policy an export of Config.DTYPE_POLICY `setting` computes
    in: float32 for "auto" (a SavedModel runs on the machines that serve
    it, whose hardware "auto" cannot know), a named policy as it is."""
    return "float32" if setting == "auto" else setting


def portable_model(model):
    """The model an export computes with: `model`, or a copy of it in
    export_dtype_policy (weights copied by layer name) when this machine
    resolved "auto" to another policy."""
    policy = export_dtype_policy(model.config.DTYPE_POLICY)
    if model.precision.policy == policy:
        return model
    config = copy.copy(model.config)
    config.DTYPE_POLICY = policy
    twin = type(model)("inference", config, model.model_dir)
    twin.weights_normalization = model.weights_normalization
    twin.pretrained_batchnorm = model.pretrained_batchnorm
    copy_weights_by_name(model.keras_model, twin.keras_model)
    return twin


def export_saved_model(model, out_dir, class_names, overwrite=False, checkpoint=None):
    """Write `model` as a SavedModel into `out_dir` (see the module docstring).

    model: an inference-mode MaskRCNN with its weights loaded. Under
        DTYPE_POLICY "auto" the export computes in float32 (portable_model).
    class_names: ["BG", ...], NUM_CLASSES names (the graph's class_names output).
    overwrite: replace an existing non-empty `out_dir` (otherwise ValueError).
    checkpoint: the weights file, recorded with its epoch in mrcnn_export.json.
    The export is written beside `out_dir` and renamed into place, so an
    interrupted export leaves no half-written folder.
    Returns: the absolute path of `out_dir`.
    """
    if model.mode != "inference":
        raise ValueError("export_saved_model needs a MaskRCNN in inference mode")
    config = model.config
    if len(class_names) != int(config.NUM_CLASSES):
        raise ValueError(f"{len(class_names)} class names for NUM_CLASSES={config.NUM_CLASSES}; "
                         "give ['BG', ...] with one name per class")
    _check_exportable(config)
    out_dir = os.path.abspath(os.fspath(out_dir))
    check_out_dir(out_dir, overwrite)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)

    model = portable_model(model)
    detector = _Detector(model, class_names)
    archive = keras.export.ExportArchive()
    # No archive.track(model.keras_model): the endpoints track the variables
    # they use, and track() would store every weight a second time
    # (keras-team/keras#23553: twice the size on disk and in memory).
    for name, (fn, signature) in detector.endpoints().items():
        archive.add_endpoint(name, fn, input_signature=signature)

    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.", dir=parent)
    try:
        # mkdtemp's folder is private (0700): give the export the usual
        # permissions, so that a server running as another user can read it.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)
        archive.write_out(staging, verbose=False)
        with open(os.path.join(staging, METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(export_metadata(model, class_names, checkpoint), f, indent=2)
        check_out_dir(out_dir, overwrite)
        if os.path.isdir(out_dir):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(out_dir)}.old.", dir=parent)
            os.rename(out_dir, os.path.join(old, "previous"))
            os.rename(staging, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, out_dir)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return out_dir


class ExportedModel:
    """An exported SavedModel, loaded (TensorFlow only; the numpy interface
    the service and CheckpointPredictor share).

    path: the export folder. Attributes: path, class_names (["BG", ...]),
    config (dict of the settings), metadata (all of mrcnn_export.json).
    """

    def __init__(self, path):
        self.path = os.path.abspath(os.fspath(path))
        metadata_path = os.path.join(self.path, METADATA_FILE)
        if not os.path.isfile(metadata_path):
            raise FileNotFoundError(f"{self.path}: no {METADATA_FILE}; export the model with "
                                    "`mrcnn export` (or mrcnn.export.export_saved_model)")
        with open(metadata_path, encoding="utf-8") as f:
            self.metadata = json.load(f)
        self.class_names = list(self.metadata["class_names"])
        self.config = dict(self.metadata["config"])
        self._saved = tf.saved_model.load(self.path)
        self._signatures = self._saved.signatures

    def _run(self, name, **inputs):
        out = self._signatures[name](**inputs)
        return {
            "boxes": out["boxes"].numpy(),
            "class_ids": out["class_ids"].numpy(),
            "class_names": [n.decode("utf-8") for n in out["class_names"].numpy()],
            "scores": out["scores"].numpy(),
            "masks": out["masks"].numpy(),
        }

    def predict(self, image, score_threshold=None):
        """image: uint8 [H, W, 3] (grayscale [H, W] is repeated to RGB).
        score_threshold: None for the config's DETECTION_MIN_CONFIDENCE.
        Returns {"boxes" float32 [N, 4] (y1, x1, y2, x2 pixels), "class_ids"
        int32 [N], "class_names" list[str], "scores" float32 [N], "masks"
        uint8 [N, H, W]}."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"predict takes a uint8 [H, W, 3] image, got {image.dtype} "
                             f"{list(image.shape)}")
        if score_threshold is None:
            return self._run("serving_default", image=tf.constant(image))
        return self._run("serving_threshold", image=tf.constant(image),
                         score_threshold=tf.constant(float(score_threshold), tf.float32))

    def predict_bytes(self, data, score_threshold=None):
        """The same from an encoded JPEG or PNG (bytes)."""
        data = tf.constant(bytes(data))
        try:
            if score_threshold is None:
                return self._run("serving_bytes", image_bytes=data)
            return self._run("serving_bytes_threshold", image_bytes=data,
                             score_threshold=tf.constant(float(score_threshold), tf.float32))
        except tf.errors.InvalidArgumentError as e:
            raise ValueError(f"the data is not an image TensorFlow decodes (JPEG, PNG, GIF, "
                             f"BMP): {e.message.splitlines()[0]}") from e
