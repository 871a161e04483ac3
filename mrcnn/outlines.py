"""The one mask tracer: outlines of a binary mask as polygons.

Every polygon output (COCO export and results, LabelMe pre-labels, the HTTP
service, the drawings of mrcnn.visualize) starts here, in pixel-centre
coordinates: pixel (row r, column c) is the point (x=c, y=r). A format that
counts from pixel edges (COCO) adds 0.5 (coco_polygons).
"""
import numpy as np


def signed_area(points):
    """Shoelace area of a closed polygon float [K, (x, y)]: positive for an
    outer outline of mask_outlines, negative for a hole."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def mask_outlines(mask, tolerance=0.0):
    """Every outline of a mask, outer ones and holes.

    mask: bool (or 0/1) [H, W].
    tolerance: the largest distance (pixels) of the simplified outline from
        the traced one (skimage's approximate_polygon); 0 keeps every point.
    Returns: list of float64 [K, (x, y)] polygons (K >= 3, implicitly
    closed: the first point is not repeated) in pixel-centre coordinates,
    traced at the 0.5 level between pixels, so an outline lies half a pixel
    outside the pixels it encloses. Outer outlines have a positive
    signed_area, holes a negative one. Only the mask's bounding box is
    scanned (the tracer's cost grows with the area it scans).
    """
    from skimage.measure import approximate_polygon, find_contours

    mask = np.asarray(mask).astype(bool)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return []
    cols = np.flatnonzero(mask.any(axis=0))
    y0, x0 = int(rows[0]), int(cols[0])
    # Padding closes the outlines of parts that touch the crop's border.
    padded = np.pad(mask[y0:rows[-1] + 1, x0:cols[-1] + 1], 1).astype(np.float32)
    outlines = []
    for contour in find_contours(padded, 0.5, positive_orientation="high"):
        if tolerance:
            simplified = approximate_polygon(contour, tolerance=tolerance)
            # A part of a few pixels would simplify to a line: keep it whole.
            contour = simplified if len(simplified) >= 4 else contour
        if len(contour) > 1 and np.allclose(contour[0], contour[-1]):
            contour = contour[:-1]
        if len(contour) < 3:
            continue
        # (row, col) of the padded crop -> (x, y) of the mask, in the order
        # that makes outer outlines' areas positive (y grows downwards).
        outlines.append(contour[::-1, ::-1] + np.array([x0 - 1.0, y0 - 1.0]))
    return outlines


def coco_polygons(mask, tolerance=0.5):
    """COCO polygons [[x1, y1, x2, y2, ...], ...] of a bool [H, W] mask, in
    COCO's coordinates (pixel (r, c) covers [c, c + 1] x [r, r + 1]),
    rounded to 0.01. Holes are not representable in COCO polygons and come
    back filled, so only outer outlines are kept."""
    return [[round(float(v), 2) for v in (outline + 0.5).ravel()]
            for outline in mask_outlines(mask, tolerance) if signed_area(outline) > 0]
