"""LabelMe: a folder of per-image JSON files.

Each JSON has `shapes` (label, points, shape_type, group_id), `imagePath`
(relative to the JSON), `imageHeight`/`imageWidth`, and optionally
`imageData` (the image itself, base64), used when the image file is absent.
Polygons, rectangles, circles and mask shapes become instances; shapes that
share a `group_id` and a label make one instance (LabelMe's way to draw an
object in several pieces). Lines and points have no area and are skipped.

LabelMe's own labels `__ignore__` (regions to ignore) and `_background_`
(its `labels.txt` convention, skipped by labelme's converters) are never
classes: their shapes are counted as "ignore_region" and left out.
"""
import os

from mrcnn.data.annotated import AnnotatedDataset
from mrcnn.data.builder import DatasetBuilder
from mrcnn.data.errors import DatasetError
from mrcnn.data.image_files import decode_base64_image
from mrcnn.data.jsonfile import load_json
from mrcnn.data.paths import safe_join

NO_AREA_SHAPES = ("point", "line", "linestrip", "points")
# Labels labelme's converters (labelme2voc, labelme2coco) treat as no class.
IGNORE_LABELS = ("__ignore__", "_background_")


def is_labelme(data):
    """True for one parsed LabelMe JSON."""
    return isinstance(data, dict) and isinstance(data.get("shapes"), list) and (
        "imagePath" in data or "imageData" in data)


def find_labelme_files(folder):
    """The LabelMe JSON files below a folder, sorted (relative paths)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(".json"):
                found.append(os.path.relpath(os.path.join(dirpath, name), folder))
    return found


def labelme_shape(shape):
    """A LabelMe shape dict -> (shape or None, problem kind or None)."""
    kind = shape.get("shape_type") or "polygon"
    try:
        points = [(float(x), float(y)) for x, y in shape.get("points") or []]
    except (TypeError, ValueError):
        return None, "invalid_annotation"
    if kind in NO_AREA_SHAPES:
        return None, "skipped_point"
    if kind == "polygon":
        return {"kind": "polygon", "x": [p[0] for p in points], "y": [p[1] for p in points]}, None
    if kind in ("rectangle", "circle", "mask") and len(points) != 2:
        return None, "invalid_annotation"
    if kind == "rectangle":
        (x0, y0), (x1, y1) = points
        return {"kind": "rect", "x": min(x0, x1), "y": min(y0, y1),
                "width": abs(x1 - x0), "height": abs(y1 - y0)}, None
    if kind == "circle":
        (cx, cy), (px, py) = points
        return {"kind": "circle", "cx": cx, "cy": cy, "r": ((px - cx) ** 2 + (py - cy) ** 2) ** 0.5}, None
    if kind == "mask" and shape.get("mask"):
        return {"kind": "bitmap", "x": points[0][0], "y": points[0][1], "png": shape["mask"]}, None
    return None, "unsupported_shape"


class LabelMeDataset(AnnotatedDataset):
    """Images and shapes of a folder of LabelMe JSON files."""

    def load_labelme(self, folder, image_dir=None, source="labelme", **options):
        """Add the images of a LabelMe folder (searched recursively) or of
        one LabelMe JSON file.

        image_dir: the folder image paths must stay inside; default: `folder`.
        options: label_map, classes, image_list, missing_images, unmapped
            (see `DatasetBuilder`).
        Returns: the number of images added.
        """
        folder = str(folder)
        if os.path.isfile(folder):
            files, folder = [os.path.basename(folder)], os.path.dirname(os.path.abspath(folder))
        else:
            files = find_labelme_files(folder)
        root = image_dir if image_dir is not None else folder
        builder = DatasetBuilder(self, source, folder, **options)
        for relative in files:
            if not builder.selected(relative, os.path.splitext(relative)[0]):
                continue
            path = os.path.join(folder, relative)
            data = load_json(path)
            if not is_labelme(data):
                continue  # other JSON files (a COCO export, settings) may sit in the folder
            self._add_labelme_image(builder, path, root, relative, data)
        return builder.finish(None)

    def _add_labelme_image(self, builder, file, root, relative, data):
        image_path = None
        if data.get("imagePath"):
            image_path = safe_join(os.path.dirname(file), data["imagePath"], root=root, file=file)
        embedded = False
        if image_path is None or not os.path.isfile(image_path):
            embedded = bool(data.get("imageData"))
            if not embedded and not builder.image_present(image_path, file, data.get("imagePath")):
                return
        height, width = data.get("imageHeight"), data.get("imageWidth")
        if not height or not width:
            if embedded:
                height, width = decode_base64_image(data["imageData"], file).shape[:2]
            else:
                size = builder.size_of(image_path, file, data.get("imagePath"))
                if size is None:
                    return
                height, width = size
        groups, instances = {}, []
        for index, raw in enumerate(data["shapes"]):
            ref = f"shape {index} ({raw.get('label')!r})"
            if str(raw.get("label") or "").strip() in IGNORE_LABELS:
                builder.skip("ignore_region", file, ref, "LabelMe's label for a region to ignore "
                             "(or the background), not an instance; skipped")
                continue
            shape, problem = labelme_shape(raw)
            if problem:
                builder.skip(problem, file, ref, f"shape_type {raw.get('shape_type')!r} "
                             + {"skipped_point": "has no area", "unsupported_shape": "is not supported",
                                "invalid_annotation": "has malformed points"}[problem] + "; skipped")
                continue
            shape = builder.check_shape(shape, height, width, file, ref)
            label = str(raw.get("label") or "").strip()
            if shape is None:
                continue
            if not label:
                builder.skip("unlabelled_region", file, ref, "the shape has no label; skipped")
                continue
            group = raw.get("group_id")
            if group is None:
                instances.append(builder.instance(label, shape, ref))
            elif (label, group) in groups:
                record = groups[(label, group)]
                record["shape"]["parts"].append(shape)
                record["annotation"] += f" + {index}"
            else:
                record = builder.instance(label, {"kind": "union", "parts": [shape]},
                                          f"group {group} shape {index} ({label!r})", group_id=group)
                groups[(label, group)] = record
                instances.append(record)
        builder.add_image(os.path.splitext(relative)[0].replace(os.sep, "/"), image_path, height, width,
                          instances, file=file, embedded_image=embedded, labelme_json=file)

    def load_image(self, image_id):
        """The image file, or LabelMe's embedded `imageData` when it is absent.
        Returns uint8 [H, W, 3]."""
        info = self.image_info[image_id]
        if info.get("embedded_image"):
            data = load_json(info["labelme_json"])
            if not data.get("imageData"):
                raise DatasetError(f"{info['labelme_json']}: imageData is empty", kind="missing_image",
                                   file=info["labelme_json"])
            return decode_base64_image(data["imageData"], info["labelme_json"])
        return super().load_image(image_id)
