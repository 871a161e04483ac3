"""A prediction -> the JSON body of POST /v1/predict.

    {"image": {"width", "height"},
     "model": {...},                       mrcnn.serving.predictor.describe(predictor)
     "timing": {"decode_ms", "queue_ms", "inference_ms", "encode_ms", "total_ms"},
     "score_threshold": float or null, "classes": [names] or null,
     "count": N,
     "instances": [{"class_id", "class_name", "score",
                    "box": {"y1", "x1", "y2", "x2", "xywh": [x, y, w, h]},
                    "area": pixels of the mask,
                    "mask": {"size": [H, W], "counts": "..."},   COCO compressed RLE
                    "polygons": [[x1, y1, x2, y2, ...], ...]}]}  COCO polygons
                                                  (left out with polygons=false)

Masks are encoded with pycocotools and traced with the project's COCO
exporter (mrcnn.data.export), so `pycocotools.mask.decode` gives the mask
back exactly and the polygons are what `mrcnn` writes to COCO files.
"""
import numpy as np

from mrcnn.data.export import encode_rle
from mrcnn.outlines import coco_polygons
from mrcnn.serving.decode import RequestError


def parse_score_threshold(text):
    """The `score_threshold` query value: None when absent, else a float
    in [0, 1]. Raises RequestError 400."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise RequestError(400, f"score_threshold={text!r}: give a number between 0 and 1")
    return value


def parse_classes(text, class_names):
    """The `classes` query value: None when absent, else the list of class
    names to keep (comma-separated). Raises RequestError 400 naming the
    unknown ones and the model's classes."""
    if text is None or not text.strip():
        return None
    wanted = [name.strip() for name in text.split(",") if name.strip()]
    known = [str(n) for n in class_names[1:]]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise RequestError(400, f"classes={text!r}: this model has no class {', '.join(unknown)}; "
                                f"its classes are {', '.join(known)}")
    return wanted


def parse_flag(name, text, default=True):
    """A yes/no query value (1/0, true/false, yes/no); `default` when
    absent. Raises RequestError 400."""
    if text is None or text == "":
        return default
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise RequestError(400, f"{name}={text!r}: give true or false")


def instance_json(box, class_id, class_name, score, mask, polygons=True):
    """One instance. box: (y1, x1, y2, x2) pixels; mask: uint8 [H, W].
    polygons: False leaves "polygons" out (tracing costs more than the
    rest of the encoding: about a millisecond for a smooth mask, a second
    for a ragged 100 x 100 one)."""
    y1, x1, y2, x2 = (round(float(v), 2) for v in box)
    instance = {
        "class_id": int(class_id),
        "class_name": str(class_name),
        "score": round(float(score), 6),
        "box": {"y1": y1, "x1": x1, "y2": y2, "x2": x2,
                "xywh": [x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)]},
        "area": int(np.count_nonzero(mask)),
        "mask": encode_rle(np.asarray(mask, bool)),
    }
    if polygons:
        instance["polygons"] = coco_polygons(mask)
    return instance


def keep_classes(prediction, classes):
    """Indices of the instances whose class name is in `classes` (None: all)."""
    names = prediction["class_names"]
    return [i for i, name in enumerate(names) if classes is None or name in classes]


def instances_json(prediction, classes=None, polygons=True):
    """The `instances` list of a predictor's output dict (see
    mrcnn.serving.predictor), keeping the classes named in `classes`, with
    or without the traced `polygons`."""
    return [instance_json(prediction["boxes"][i], prediction["class_ids"][i],
                          prediction["class_names"][i], prediction["scores"][i],
                          prediction["masks"][i], polygons=polygons)
            for i in keep_classes(prediction, classes)]
