"""One `predict(image)` for a checkpoint and for an exported model.

The exported model (mrcnn.export.ExportedModel, a SavedModel with the
pre- and post-processing inside) and a checkpoint run through
`MaskRCNN.detect()` answer the same call with the same arrays, so the
service, the benchmark and the tests treat them alike:

    predictor.predict(image uint8 [H, W, 3], score_threshold=None) -> {
        "boxes":       float32 [N, 4]  (y1, x1, y2, x2) in the image's pixels
        "class_ids":   int32   [N]
        "class_names": list of N str
        "scores":      float32 [N]    highest first
        "masks":       uint8   [N, H, W]  0/1
    }
    predictor.class_names  ["BG", ...]
    predictor.config       dict of the settings
    predictor.path         the checkpoint file or the export folder
"""
import os

import numpy as np


def filter_scores(prediction, score_threshold):
    """The instances of a prediction dict scoring at least `score_threshold`
    (None keeps all). Returns a new dict with the same keys."""
    if score_threshold is None:
        return prediction
    keep = np.asarray(prediction["scores"]) >= float(score_threshold)
    return {key: ([v for v, k in zip(value, keep) if k] if isinstance(value, list) else value[keep])
            for key, value in prediction.items()}


class CheckpointPredictor:
    """`predict()` over `MaskRCNN.detect()` of an inference-mode model.

    model: a MaskRCNN in inference mode with its weights loaded.
    class_names: ["BG", ...] naming the class ids.
    path: the weight file (reported by the service).
    Not thread-safe: the service makes one call at a time.
    """

    kind = "checkpoint"

    def __init__(self, model, class_names, path=None):
        if model.mode != "inference":
            raise ValueError("CheckpointPredictor needs a MaskRCNN in inference mode")
        self.model = model
        self.class_names = [str(n) for n in class_names]
        self.config = model.config.to_dict()
        self.path = path

    def predict(self, image, score_threshold=None):
        """image: uint8 [H, W, 3]. score_threshold: drop instances scoring
        less (None: the model's DETECTION_MIN_CONFIDENCE alone, applied
        inside detect()). Returns the dict of the module docstring."""
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"expected an image uint8 [H, W, 3], got {image.dtype} {image.shape}")
        result = self.model.detect([image])[0]
        class_ids = np.asarray(result["class_ids"], np.int32)
        masks = np.asarray(result["masks"], bool)
        prediction = {
            "boxes": np.asarray(result["rois"], np.float32).reshape(-1, 4),
            "class_ids": class_ids,
            "class_names": [self.class_names[i] for i in class_ids],
            "scores": np.asarray(result["scores"], np.float32),
            # [H, W, N] bool -> [N, H, W] uint8, the exported model's layout
            "masks": np.ascontiguousarray(np.moveaxis(masks, -1, 0)).astype(np.uint8),
        }
        return filter_scores(prediction, score_threshold)


def detect_result(prediction):
    """A `predict()` dict as MaskRCNN.detect() gives one image's result:
    "rois" int32 [N, (y1, x1, y2, x2)], "class_ids" int32 [N], "scores"
    float32 [N], "masks" bool [H, W, N]."""
    masks = np.asarray(prediction["masks"]).astype(bool)
    boxes = np.rint(np.asarray(prediction["boxes"], np.float32)).astype(np.int32)
    return {"rois": boxes.reshape(-1, 4),
            "class_ids": np.asarray(prediction["class_ids"], np.int32),
            "scores": np.asarray(prediction["scores"], np.float32),
            "masks": np.moveaxis(masks, 0, -1)}


class PredictorDetector:
    """MaskRCNN's `detect(images)` over a predictor's `predict(image)`, so that
    code written for detect() results (drawing, COCO and LabelMe outputs, video)
    runs on an exported model alike.

    predictor: an ExportedModel or a CheckpointPredictor.
    """

    def __init__(self, predictor):
        self.predictor = predictor
        self.class_names = list(predictor.class_names)

    def detect(self, images, verbose=0):
        """images: uint8 [H, W, 3] each. Returns one detect() result per image
        (see detect_result)."""
        return [detect_result(self.predictor.predict(np.asarray(image))) for image in images]


def describe(predictor):
    """What /healthz and each response say about the model, for a
    CheckpointPredictor or an ExportedModel (kind "saved_model")."""
    config = dict(predictor.config or {})
    return {"kind": getattr(predictor, "kind", "saved_model"), "path": None if predictor.path is None else str(predictor.path),
            "name": config.get("NAME"), "backbone": config.get("BACKBONE"),
            "image_max_dim": config.get("IMAGE_MAX_DIM"),
            "class_names": [str(n) for n in predictor.class_names[1:]]}


def load_checkpoint_predictor(config, weights_path, logs=None, class_names=None):
    """A CheckpointPredictor of an inference Config and a weight file.

    config: the inference Config (mrcnn.commands.session.configure makes it
        from the flags and the checkpoint's saved settings).
    weights_path: an .h5 file (checkpoint, matterport's file).
    class_names: ["BG", ...]; default: from config.CLASS_NAMES.
    """
    from mrcnn.model import MaskRCNN

    model = MaskRCNN(mode="inference", config=config, model_dir=logs or os.getcwd())
    model.load_weights(weights_path, by_name=True)
    return CheckpointPredictor(model, class_names or config.class_names(), path=weights_path)


def load_predictor(model_dir=None, weights=None, config=None, logs=None):
    """The predictor of `mrcnn serve`: the exported SavedModel in `model_dir`
    (mrcnn.export.ExportedModel) when given, else the checkpoint `weights`
    (a path) with the inference `config`.

    Raises ValueError when neither or both are given.
    """
    if (model_dir is None) == (weights is None):
        raise ValueError("give either model_dir (an exported model) or weights (a checkpoint)")
    if model_dir is not None:
        from mrcnn.export import ExportedModel

        return ExportedModel(model_dir)
    if config is None:
        raise ValueError("a checkpoint needs its inference config")
    return load_checkpoint_predictor(config, weights, logs=logs)
