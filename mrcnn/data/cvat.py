"""CVAT for images 1.1 XML (`annotations.xml` of a CVAT task or project export).

    <annotations>
      <meta><task><labels><label><name>cat</name>...</label></labels></task></meta>
      <image id="0" name="a.jpg" width="640" height="480">
        <polygon label="cat" points="10.5,20.0;30.0,20.0;30.0,45.5" .../>
        <mask label="dog" rle="3, 4, 5" left="10" top="20" width="4" height="3" .../>
      </image>
    </annotations>

Polygons are drawn the way CVAT's own COCO and mask exports draw them
(pycocotools: a point is an image position, pixel (r, c) covers
[c, c + 1] x [r, r + 1]). A mask's `rle` holds alternating run lengths of 0
and 1 (starting with 0) over its box of width x height pixels at (left, top),
row by row. Ellipses become instances; a box has no mask and is reported as
an invalid annotation (Mask R-CNN needs an outline); polylines and points
have no area and are skipped and counted; other shapes (cuboids, skeletons)
are counted as unsupported. Every shape is its own instance. Image names are
relative to the XML's folder, or to its `images/` folder (CVAT's export with
images).
"""
import math
import os
import xml.etree.ElementTree as ET

import numpy as np

from mrcnn.data.annotated import AnnotatedDataset
from mrcnn.data.builder import DatasetBuilder
from mrcnn.data.errors import DatasetError, FormatError
from mrcnn.data.export import encode_rle
from mrcnn.data.paths import safe_join
from mrcnn.data.rasterize import polygon_area

ANNOTATIONS_FILE = "annotations.xml"
NO_AREA_SHAPES = ("polyline", "points")
IMAGE_FOLDERS = ("", "images")


def parse_xml(path):
    """The root element of an XML file; a syntax error names file, line and column."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        line, column = e.position
        raise DatasetError(f"{path}: not valid XML at line {line} column {column + 1} ({e}). "
                           f"Export the annotations from CVAT again.", file=str(path)) from e


def is_cvat_xml(path):
    """True for an XML file whose root is CVAT's <annotations> (VOC's is <annotation>)."""
    if not str(path).lower().endswith(".xml") or not os.path.isfile(path):
        return False
    try:
        for _, element in ET.iterparse(path, events=("start",)):
            return element.tag == "annotations"
    except ET.ParseError:
        return False
    return False


def find_cvat_file(folder):
    """The CVAT XML of a folder: annotations.xml, else its only CVAT XML; or None."""
    candidate = os.path.join(folder, ANNOTATIONS_FILE)
    if is_cvat_xml(candidate):
        return candidate
    found = [os.path.join(folder, n) for n in sorted(os.listdir(folder))
             if is_cvat_xml(os.path.join(folder, n))]
    return found[0] if len(found) == 1 else None


def declared_labels(root):
    """The label names of <meta> (task, job or project), in their order."""
    meta = root.find("meta")
    if meta is None:
        return None
    names = [label.findtext("name") for label in meta.iter("label")]
    names = [str(n).strip() for n in names if n and str(n).strip()]
    return list(dict.fromkeys(names)) or None


def parse_points(text):
    """CVAT's "x1,y1;x2,y2;..." -> float [K, 2]; ValueError when malformed."""
    pairs = [p for p in str(text or "").strip().split(";") if p.strip()]
    points = [tuple(float(v) for v in pair.split(",")) for pair in pairs]
    if any(len(p) != 2 for p in points):
        raise ValueError("a point is not 'x,y'")
    return np.array(points, dtype=float).reshape(-1, 2)


def decode_cvat_rle(rle, width, height):
    """CVAT's mask RLE -> bool [height, width] (its box).

    rle: "n0, n1, n2, ..." alternating run lengths of 0 and 1, starting with
    0, row-major over the box. ValueError when it does not add up.
    """
    counts = [int(v) for v in str(rle).replace(",", " ").split()]
    if any(c < 0 for c in counts):
        raise ValueError("a negative run length")
    if sum(counts) != width * height:
        raise ValueError(f"the run lengths add up to {sum(counts)}, not width x height = "
                         f"{width} x {height} = {width * height}")
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    return np.repeat(values, counts).reshape(height, width)


class CVATDataset(AnnotatedDataset):
    """Images and shapes of a CVAT for images 1.1 XML file."""

    def load_cvat(self, annotation_file, image_dir=None, source="cvat", **options):
        """Add the images of a CVAT for images 1.1 XML.

        annotation_file: the XML, or the folder holding annotations.xml.
        image_dir: the folder image names are relative to; default: the
            XML's folder, or its images/ folder for an image that is there.
        options: label_map, classes, image_list, missing_images, unmapped
            (see `DatasetBuilder`).
        Returns: the number of images added.
        """
        file = str(annotation_file)
        if os.path.isdir(file):
            found = find_cvat_file(file)
            if found is None:
                raise FormatError(f"{file}: no CVAT XML ({ANNOTATIONS_FILE}) in this folder", file=file)
            file = found
        root = parse_xml(file)
        if root.tag != "annotations":
            raise FormatError(f"{file}: not a CVAT XML (its root is <{root.tag}>, not <annotations>)",
                              file=file)
        if root.find("track") is not None and root.find("image") is None:
            raise FormatError(f"{file}: a CVAT for video 1.1 file (<track> elements); export the task "
                              f"as 'CVAT for images 1.1' and read that", file=file)
        folder = os.path.dirname(os.path.abspath(file))
        builder = DatasetBuilder(self, source, file, **options)
        labels = declared_labels(root)
        for index, image in enumerate(root.iter("image")):
            self._add_cvat_image(builder, file, folder, image_dir, index, image)
        return builder.finish(None if labels is None else [(None, n) for n in labels])

    def _add_cvat_image(self, builder, file, folder, image_dir, index, image):
        name = image.get("name")
        if not name:
            builder.skip("invalid_annotation", file, f"<image> {index}", "an <image> without 'name'; skipped")
            return
        ref = f"image {name!r}"
        if not builder.selected(name, image.get("id")):
            return
        path = self._image_path(folder, image_dir, name, file, ref)
        if not builder.image_present(path, file, ref):
            return
        height, width = _int(image.get("height")), _int(image.get("width"))
        if not height or not width:
            size = builder.size_of(path, file, ref)
            if size is None:
                return
            height, width = size
        instances = []
        counters = {}
        for element in image:
            tag = element.tag
            counters[tag] = counters.get(tag, 0) + 1
            label = (element.get("label") or "").strip()
            shape_ref = f"{ref} <{tag}> {counters[tag] - 1}" + (f" label {label!r}" if label else "")
            shape = self._shape(builder, element, height, width, file, shape_ref)
            if shape is None:
                continue
            if not label:
                builder.skip("unlabelled_region", file, shape_ref, "a shape without 'label'; skipped")
                continue
            instances.append(builder.instance(label, shape, shape_ref))
        builder.add_image(name, path, height, width, instances, file=file, cvat_id=image.get("id"))

    @staticmethod
    def _image_path(folder, image_dir, name, file, ref):
        if image_dir is not None:
            return safe_join(image_dir, name, file=file, annotation=ref)
        candidates = [safe_join(os.path.join(folder, sub) if sub else folder, name, root=folder,
                                file=file, annotation=ref) for sub in IMAGE_FOLDERS]
        return next((p for p in candidates if os.path.isfile(p)), candidates[0])

    @staticmethod
    def _shape(builder, element, height, width, file, ref):
        """The shape of one element, or None (the problem counted)."""
        tag = element.tag
        try:
            if tag == "polygon":
                points = parse_points(element.get("points"))
                if len(points) < 3 or polygon_area(points[:, 0], points[:, 1]) == 0:
                    builder.skip("degenerate_shape", file, ref,
                                 f"a polygon of {len(points)} point(s) without area; 3 are needed; skipped")
                    return None
                shape = {"kind": "coco", "segmentation": [[float(v) for v in points.ravel()]]}
                return builder.check_shape(shape, height, width, file, ref)
            if tag == "mask":
                return _mask_shape(builder, element, height, width, file, ref)
            if tag == "ellipse":
                shape = {"kind": "ellipse", **{k: float(element.get(k)) for k in ("cx", "cy", "rx", "ry")},
                         "theta": math.radians(float(element.get("rotation") or 0.0))}
                return builder.check_shape(shape, height, width, file, ref)
        except (TypeError, ValueError) as e:
            builder.skip("invalid_annotation", file, ref, f"malformed <{tag}> ({e}); skipped")
            return None
        if tag == "box":
            builder.skip("invalid_annotation", file, ref, "a box has no mask; skipped. Draw the object "
                         "as a polygon or a mask in CVAT (or convert the box there)")
        elif tag in NO_AREA_SHAPES:
            builder.skip("skipped_point", file, ref, f"a {tag} has no area; skipped")
        elif tag in ("cuboid", "skeleton"):
            builder.skip("unsupported_shape", file, ref, f"<{tag}> is not supported (polygon, mask, "
                         "ellipse); skipped")
        return None  # <tag> and attribute elements are no shapes


def _mask_shape(builder, element, height, width, file, ref):
    left, top = int(float(element.get("left"))), int(float(element.get("top")))
    box_w, box_h = int(float(element.get("width"))), int(float(element.get("height")))
    if box_w <= 0 or box_h <= 0:
        raise ValueError(f"a box of {box_w}x{box_h}")
    small = decode_cvat_rle(element.get("rle"), box_w, box_h)
    if height is None or width is None:
        raise ValueError("the image size is unknown")
    mask = np.zeros((height, width), dtype=bool)
    ys, xs = max(top, 0), max(left, 0)
    ye, xe = min(top + box_h, height), min(left + box_w, width)
    if ye > ys and xe > xs:
        mask[ys:ye, xs:xe] = small[ys - top:ye - top, xs - left:xe - left]
    if (ys, xs, ye, xe) != (top, left, top + box_h, left + box_w):
        builder.skip("points_outside", file, ref, f"the mask's box x {left}..{left + box_w}, y "
                     f"{top}..{top + box_h} reaches outside the {width}x{height} image; clipped")
    rle = encode_rle(mask)
    return {"kind": "coco", "segmentation": {"size": [int(v) for v in rle["size"]], "counts": rle["counts"]}}


def _int(value):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None
