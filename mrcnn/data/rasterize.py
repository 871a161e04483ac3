"""Shapes as readers store them -> binary masks.

A shape is a small dict kept in `image_info["instances"][i]["shape"]`, so that
masks are drawn only when `load_mask` asks for them:

    {"kind": "polygon", "x": [..], "y": [..]}        pixel-index vertices
    {"kind": "rect", "x", "y", "width", "height"}     top-left corner and size
    {"kind": "circle", "cx", "cy", "r"}
    {"kind": "ellipse", "cx", "cy", "rx", "ry", "theta"}  theta: radians,
                                                      clockwise on screen (VIA)
    {"kind": "coco", "segmentation": polygons | RLE}  drawn by pycocotools
    {"kind": "file", "path", "value", "resize"}       a mask or label image
    {"kind": "bitmap", "x", "y", "png"}               base64 PNG placed at (x, y)
    {"kind": "union", "parts": [shape, ...]}          several shapes, one instance

Polygons follow skimage's convention: `skimage.draw.polygon(rows=y, cols=x,
shape=(H, W))`, vertices at pixel centres, border pixels included. COCO
segmentations keep COCO's convention (pycocotools), so masks equal `annToMask`.
"""
import numpy as np
import skimage.draw

from mrcnn.data.errors import DatasetError
from mrcnn.data.image_files import decode_base64_mask, read_binary_mask, read_label_png


def polygon_mask(x, y, height, width):
    """Vertices x [N], y [N] (pixels) -> bool [height, width]; clipped to the image."""
    mask = np.zeros((height, width), dtype=bool)
    rr, cc = skimage.draw.polygon(np.asarray(y, float), np.asarray(x, float), shape=(height, width))
    mask[rr, cc] = True
    return mask


def ellipse_mask(cx, cy, rx, ry, theta, height, width):
    """An ellipse centred at (cx, cy) with radii rx, ry -> bool [height, width].

    theta rotates the x radius clockwise on screen (y points down), as VIA
    and the HTML canvas do; skimage turns the other way.
    """
    mask = np.zeros((height, width), dtype=bool)
    if rx <= 0 or ry <= 0:
        return mask
    rr, cc = skimage.draw.ellipse(cy, cx, ry, rx, shape=(height, width), rotation=-float(theta or 0.0))
    mask[rr, cc] = True
    return mask


def rect_polygon(x, y, width, height):
    """The corners of a rectangle as polygon vertices (x [4], y [4])."""
    return [x, x + width, x + width, x], [y, y, y + height, y + height]


def coco_segmentation_mask(segmentation, height, width):
    """A COCO segmentation (polygon list, uncompressed or compressed RLE) ->
    bool [height, width], exactly as pycocotools' `annToMask` draws it."""
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        if not segmentation:
            return np.zeros((height, width), dtype=bool)
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = dict(segmentation)
        if isinstance(rle["counts"], str):
            rle["counts"] = rle["counts"].encode("ascii")
    mask = mask_utils.decode(rle).astype(bool)
    if mask.shape != (height, width):
        raise DatasetError(
            f"an RLE of size {mask.shape[1]}x{mask.shape[0]} (width x height) belongs to an image "
            f"of {width}x{height}. Fix the annotation's 'size'.", kind="size_mismatch")
    return mask


def shape_to_mask(shape, height, width, cache=None):
    """Draw one stored shape. Returns bool [height, width].

    cache: an optional dict that keeps decoded label images for the length of
    one `load_mask` call (VOC stores all instances of an image in one PNG).
    """
    kind = shape["kind"]
    if kind == "polygon":
        return polygon_mask(shape["x"], shape["y"], height, width)
    if kind == "rect":
        x, y = rect_polygon(shape["x"], shape["y"], shape["width"], shape["height"])
        return polygon_mask(x, y, height, width)
    if kind == "circle":
        return ellipse_mask(shape["cx"], shape["cy"], shape["r"], shape["r"], 0.0, height, width)
    if kind == "ellipse":
        return ellipse_mask(shape["cx"], shape["cy"], shape["rx"], shape["ry"],
                            shape.get("theta", 0.0), height, width)
    if kind == "coco":
        return coco_segmentation_mask(shape["segmentation"], height, width)
    if kind == "file":
        return _file_mask(shape, height, width, cache)
    if kind == "bitmap":
        return _bitmap_mask(shape, height, width)
    if kind == "union":
        mask = np.zeros((height, width), dtype=bool)
        for part in shape["parts"]:
            mask |= shape_to_mask(part, height, width, cache)
        return mask
    raise DatasetError(f"unknown shape kind {kind!r}", kind="invalid_annotation")


def _file_mask(shape, height, width, cache):
    value = shape.get("value")
    if value is None:
        return read_binary_mask(shape["path"], (height, width), resize=shape.get("resize", False))
    cache = {} if cache is None else cache
    values = cache.get(shape["path"])
    if values is None:
        values = cache[shape["path"]] = read_label_png(shape["path"])
    if values.shape[:2] != (height, width):
        raise DatasetError(
            f"{shape['path']}: the label image is {values.shape[1]}x{values.shape[0]} (width x height) "
            f"but its image is {width}x{height}.", kind="size_mismatch", file=shape["path"])
    if values.ndim == 3:
        return np.all(values == np.asarray(value, dtype=values.dtype), axis=-1)
    return values == value


def _bitmap_mask(shape, height, width):
    # LabelMe's "mask" shapes hold a PNG of the box between two points.
    small = decode_base64_mask(shape["png"])
    mask = np.zeros((height, width), dtype=bool)
    x0, y0 = int(round(shape["x"])), int(round(shape["y"]))
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + small.shape[0], height), min(x0 + small.shape[1], width)
    if ye > ys and xe > xs:
        mask[ys:ye, xs:xe] = small[ys - y0:ye - y0, xs - x0:xe - x0]
    return mask


def shape_outline(shape):
    """The extreme points of a vector shape as (x [N], y [N]) float arrays, for
    the "points outside the image" check; None for raster shapes."""
    kind = shape["kind"]
    if kind == "polygon":
        return np.asarray(shape["x"], float), np.asarray(shape["y"], float)
    if kind == "rect":
        x, y = rect_polygon(shape["x"], shape["y"], shape["width"], shape["height"])
        return np.asarray(x, float), np.asarray(y, float)
    if kind in ("circle", "ellipse"):
        rx = shape.get("r", shape.get("rx"))
        ry = shape.get("r", shape.get("ry"))
        r = max(rx, ry)  # a rotated ellipse stays inside its larger radius
        return (np.array([shape["cx"] - r, shape["cx"] + r], float),
                np.array([shape["cy"] - r, shape["cy"] + r], float))
    if kind == "coco" and isinstance(shape["segmentation"], list):
        flat = np.concatenate([np.asarray(p, float) for p in shape["segmentation"]]) \
            if shape["segmentation"] else np.zeros(0)
        return flat[0::2], flat[1::2]
    if kind == "union":
        outlines = [shape_outline(p) for p in shape["parts"]]
        outlines = [o for o in outlines if o is not None]
        if not outlines:
            return None
        return np.concatenate([o[0] for o in outlines]), np.concatenate([o[1] for o in outlines])
    return None


def polygon_area(x, y):
    """Shoelace area of a polygon with vertices x [N], y [N] (float, >= 0)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.size < 3:
        return 0.0
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def degenerate_reason(shape):
    """Why a vector shape cannot have an area, or None when it can.

    Polygons need 3 distinct points and a non-zero area; rectangles, circles
    and ellipses need positive sizes. Raster shapes are never degenerate here
    (an empty raster is found when masks are drawn).
    """
    kind = shape["kind"]
    if kind == "polygon":
        points = set(zip(shape["x"], shape["y"]))
        if len(points) < 3:
            return f"a polygon with {len(points)} distinct point(s); 3 are needed"
        if polygon_area(shape["x"], shape["y"]) == 0:
            return "a polygon of zero area (its points are on one line)"
    elif kind == "rect" and (shape["width"] <= 0 or shape["height"] <= 0):
        return f"a rectangle of size {shape['width']}x{shape['height']}"
    elif kind == "circle" and shape["r"] <= 0:
        return f"a circle of radius {shape['r']}"
    elif kind == "ellipse" and (shape["rx"] <= 0 or shape["ry"] <= 0):
        return f"an ellipse with radii {shape['rx']}, {shape['ry']}"
    elif kind == "coco" and isinstance(shape["segmentation"], list):
        if not shape["segmentation"]:
            return "a segmentation without any polygon"
    elif kind == "union" and not shape["parts"]:
        return "a group without shapes"
    return None
