"""Detections as LabelMe JSON: a trained model pre-labels the next batch of
images, an annotator corrects the polygons in labelme (model-assisted
annotation, as CVAT's auto-annotation and Fluid Annotation do), and
`read_dataset` reads them back for the next training round.

Each instance mask becomes polygons: the outlines of its connected parts
(skimage.measure.find_contours at 0.5, holes left out), simplified with
skimage.measure.approximate_polygon. A mask in several parts gives several
shapes with one `group_id`, which LabelMe (and the project's reader) treat as
one object.
"""
import json
import os

import numpy as np

LABELME_VERSION = "5.2.1"


def _signed_area(points):
    """Shoelace area of a closed polygon [(x, y), ...]: the sign gives the
    winding direction."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def mask_to_polygons(mask, tolerance=1.0, min_area=4.0):
    """The outer outlines of a binary mask as polygons.

    mask: bool [H, W].
    tolerance: the largest distance (pixels) of the simplified outline from
        the traced one (approximate_polygon).
    min_area: polygons smaller than this (pixels) are dropped.
    Returns: list of float arrays [K, 2] of (x, y) points (K >= 3), largest
    first; the polygons, filled, reproduce the mask up to about one pixel
    along the outline (holes are filled).
    """
    from skimage import measure

    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return []
    # Padding closes the outlines of parts that touch the image border.
    padded = np.pad(mask, 1).astype(np.float32)
    contours = measure.find_contours(padded, 0.5, positive_orientation="high")
    outlines = []
    for contour in contours:
        simplified = measure.approximate_polygon(contour, tolerance=tolerance)
        if simplified.shape[0] > 3 and np.allclose(simplified[0], simplified[-1]):
            simplified = simplified[:-1]  # LabelMe polygons are implicitly closed
        if simplified.shape[0] < 3:
            continue
        points = simplified[:, ::-1] - 1.0  # (row, col) of the padded mask -> (x, y)
        outlines.append((_signed_area(points), points))
    if not outlines:
        return []
    # Outer outlines all wind one way, holes the other: the largest outline
    # is an outer one and gives the sign to keep.
    outer_sign = np.sign(max(outlines, key=lambda o: abs(o[0]))[0])
    kept = [(abs(a), p) for a, p in outlines if np.sign(a) == outer_sign and abs(a) >= min_area]
    kept.sort(key=lambda o: -o[0])
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
        polygons = mask_to_polygons(masks[..., i], tolerance=tolerance)
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
