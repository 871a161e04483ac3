"""Detections as LabelMe JSON: a trained model pre-labels the next batch of
images, an annotator corrects the polygons in labelme (model-assisted
annotation, as CVAT's auto-annotation and Fluid Annotation do), and
`read_dataset` reads them back for the next training round.

Each instance mask becomes polygons: the outer outlines of its connected
parts (mrcnn.outlines, holes left out), simplified. A mask in several parts gives several
shapes with one `group_id`, which LabelMe (and the project's reader) treat as
one object.
"""
import json
import os

import numpy as np

from mrcnn.outlines import mask_outlines, signed_area

LABELME_VERSION = "5.2.1"


def labelme_polygons(mask, tolerance=1.0, min_area=4.0):
    """The outer outlines of a binary mask as LabelMe polygon points.

    mask: bool [H, W].
    tolerance: the largest distance (pixels) of the simplified outline from
        the traced one.
    min_area: polygons smaller than this (pixels) are dropped.
    Returns: list of float arrays [K, 2] of (x, y) pixel-centre points
    (K >= 3), largest first, inside the image; the polygons, filled,
    reproduce the mask up to about one pixel along the outline (holes are
    filled).
    """
    mask = np.asarray(mask, dtype=bool)
    kept = [(signed_area(points), points) for points in mask_outlines(mask, tolerance)]
    kept = sorted([(area, p) for area, p in kept if area >= min_area], key=lambda o: -o[0])
    return [np.clip(p, [0, 0], [mask.shape[1] - 1, mask.shape[0] - 1]) for _, p in kept]


def labelme_document(result, class_names, image_path, image_shape, json_dir, tolerance=1.0):
    """The LabelMe JSON dict of one image's detections.

    result: a detect() result dict ("class_ids" [N], "scores" [N], "masks"
        bool [H, W, N]).
    class_names: ["BG", ...] naming the class ids.
    image_path: the image file; stored relative to `json_dir` (where the JSON
        goes), as labelme does.
    image_shape: (H, W, ...) of the image.
    Returns: {"version", "flags", "shapes", "imagePath", "imageData": None,
    "imageHeight", "imageWidth"}; one polygon shape per outline with label,
    points [[x, y], ...], group_id (shared by the parts of one instance),
    description (the score), shape_type "polygon", flags.
    """
    masks = np.asarray(result["masks"])
    shapes = []
    for i, class_id in enumerate(np.asarray(result["class_ids"]).astype(int)):
        polygons = labelme_polygons(masks[..., i], tolerance=tolerance)
        group = i if len(polygons) > 1 else None
        for points in polygons:
            shapes.append({
                "label": class_names[class_id],
                "points": [[round(float(x), 2), round(float(y), 2)] for x, y in points],
                "group_id": group,
                "description": f"score {float(result['scores'][i]):.3f}",
                "shape_type": "polygon",
                "flags": {},
            })
    relative = os.path.relpath(os.path.abspath(image_path), os.path.abspath(json_dir))
    return {"version": LABELME_VERSION, "flags": {}, "shapes": shapes,
            "imagePath": relative.replace(os.sep, "/"), "imageData": None,
            "imageHeight": int(image_shape[0]), "imageWidth": int(image_shape[1])}


def write_labelme(path, document):
    """Write a LabelMe JSON atomically. Returns the path."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2)
    os.replace(tmp, path)
    return path
