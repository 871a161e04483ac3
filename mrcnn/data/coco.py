"""COCO instance annotations (`instances_*.json` and what exporters write).

Accepted quirks: `segmentation` as polygons, as a JSON *string* holding the
polygons, as a flat list, as uncompressed RLE (counts list) or compressed RLE
(counts string); `licenses` as a list or one dict; `file_name` with
sub-folders, backslashes or doubled slashes; images without annotations (kept
as negatives). `iscrowd` regions are kept out of the instances, in
`image_info["crowd"]` for the evaluator. Category ids become contiguous
internal class ids; `map_source_class_id("coco.<category id>")` finds them
and the names are kept.

The equivalent of detectron2's
`register_coco_instances(name, {}, json_file, image_root)` is
`read_coco(json_file, image_root)`.
"""
import json



from mrcnn.data.annotated import AnnotatedDataset
from mrcnn.data.builder import DatasetBuilder
from mrcnn.data.errors import FormatError
from mrcnn.data.jsonfile import annotation_json
from mrcnn.data.paths import safe_join
from mrcnn.data.rasterize import polygon_area


def is_coco(data):
    """True for a parsed COCO instances file."""
    return isinstance(data, dict) and isinstance(data.get("images"), list) and (
        "annotations" in data or "categories" in data)


def parse_segmentation(segmentation, height, width):
    """Normalise an annotation's segmentation.

    Returns (segmentation, problem, n_dropped_parts): polygons as a list of
    float lists with degenerate parts (< 3 points, odd length, zero area)
    removed, or an RLE dict; problem is None or (kind, message).
    """
    seg = segmentation
    if isinstance(seg, str):
        try:
            seg = json.loads(seg)
        except json.JSONDecodeError:
            return None, ("invalid_annotation", "the segmentation string is not valid JSON"), 0
    if isinstance(seg, dict):
        return _parse_rle(seg, height, width)
    if not isinstance(seg, list) or not seg:
        return None, ("invalid_annotation", "no segmentation (a box-only annotation?); skipped"), 0
    if all(isinstance(v, (int, float)) for v in seg):
        seg = [seg]  # one polygon written as a flat list
    polygons, dropped = [], 0
    for part in seg:
        if (not isinstance(part, list) or len(part) % 2 or
                not all(isinstance(v, (int, float)) for v in part)):
            return None, ("invalid_annotation", "a polygon is not an even-length list of numbers"), 0
        # pycocotools reads a 4-number polygon as a box, so 3 points is a must.
        if len(part) < 6 or polygon_area(part[0::2], part[1::2]) == 0:
            dropped += 1
            continue
        polygons.append([float(v) for v in part])
    if not polygons:
        return None, ("degenerate_shape", "every polygon has < 3 points or zero area; skipped"), dropped
    return polygons, None, dropped


def _parse_rle(seg, height, width):
    counts, size = seg.get("counts"), seg.get("size")
    if counts is None or not isinstance(size, (list, tuple)) or len(size) != 2:
        return None, ("invalid_annotation", "an RLE without 'counts' and 'size'"), 0
    if height is not None and width is not None and [int(s) for s in size] != [int(height), int(width)]:
        return None, ("size_mismatch", f"the RLE size {list(size)} (height, width) differs from the "
                                       f"image size [{height}, {width}]; skipped"), 0
    if isinstance(counts, list):
        if sum(counts) != int(size[0]) * int(size[1]):
            return None, ("invalid_annotation", "the RLE counts do not add up to height x width"), 0
        return {"size": [int(s) for s in size], "counts": [int(c) for c in counts]}, None, 0
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(s) for s in size], "counts": str(counts)}, None, 0


class COCODataset(AnnotatedDataset):
    """Images and instances of a COCO instances JSON."""

    def load_coco(self, annotation_file, image_dir=None, source="coco", data=None, **options):
        """Add the images of a COCO instances file.

        annotation_file: path of the JSON, or an already parsed dict (then
            `image_dir` is required).
        data: the parsed JSON when the caller has already read the file.
        image_dir: the folder `file_name` is relative to; default: the JSON's
            folder.
        options: label_map, classes, image_list, missing_images, unmapped
            (see `DatasetBuilder`). Label maps and `classes` match category
            names or ids.
        Returns: the number of images added.
        """
        data, file, image_dir = annotation_json(annotation_file, image_dir, data, "COCO")
        if not is_coco(data):
            raise FormatError(f"{file}: not a COCO instances file (no 'images' list with "
                              f"'annotations' or 'categories').", file=file)
        builder = DatasetBuilder(self, source, file, **options)
        categories = self._coco_categories(builder, file, data.get("categories") or [])
        images = self._coco_images(builder, file, image_dir, data["images"])
        self._coco_annotations(builder, file, data.get("annotations") or [], images, categories)
        for image_id, image in images.items():
            if image is None:
                continue
            builder.add_image(image_id, image["path"], image["height"], image["width"],
                              image["instances"], image["crowd"], file=file,
                              file_name=image["file_name"])
        declared = sorted(categories.items())
        return builder.finish([(cat_id, name) for cat_id, name in declared])

    @staticmethod
    def _coco_categories(builder, file, categories):
        names = {}
        for cat in categories:
            if cat.get("id") in names:
                builder.skip("duplicate_id", file, f"category {cat.get('id')}",
                             f"category id {cat.get('id')} is used twice; the later one is ignored")
                continue
            names[cat.get("id")] = str(cat.get("name", cat.get("id")))
        return names

    @staticmethod
    def _coco_images(builder, file, image_dir, image_entries):
        images = {}
        for entry in image_entries:
            image_id, file_name = entry.get("id"), entry.get("file_name")
            ref = f"image {image_id} ({file_name})"
            if image_id in images:
                builder.skip("duplicate_id", file, ref, f"image id {image_id} is used twice; "
                             "the later entry and its annotations go to the first one")
                continue
            if not builder.selected(image_id, file_name):
                images[image_id] = None
                continue
            path = safe_join(image_dir, file_name, file=file, annotation=ref)
            if not builder.image_present(path, file, ref):
                images[image_id] = None
                continue
            height, width = entry.get("height"), entry.get("width")
            if not height or not width:
                size = builder.size_of(path, file, ref)
                if size is None:
                    images[image_id] = None
                    continue
                height, width = size
            images[image_id] = {"path": path, "height": height, "width": width,
                                "file_name": file_name, "instances": [], "crowd": []}
        return images

    @staticmethod
    def _coco_annotations(builder, file, annotations, images, categories):
        seen_ids = set()
        for ann in annotations:
            ann_id, image_id = ann.get("id"), ann.get("image_id")
            ref = f"annotation {ann_id} of image {image_id}"
            if ann_id in seen_ids:
                builder.skip("duplicate_id", file, ref, f"annotation id {ann_id} is used twice; "
                             "evaluation tools keep only one of them")
            seen_ids.add(ann_id)
            if image_id not in images:
                builder.skip("orphan_annotation", file, ref, f"image {image_id} is not in 'images'; skipped")
                continue
            image = images[image_id]
            if image is None:  # image skipped (missing, not selected)
                continue
            cat_id = ann.get("category_id")
            if cat_id not in categories:
                builder.skip("unknown_class", file, ref,
                             f"category_id {cat_id} is not in 'categories'; skipped")
                continue
            seg, problem, dropped = parse_segmentation(ann.get("segmentation"), image["height"], image["width"])
            if dropped and problem is None:
                builder.skip("degenerate_shape", file, ref,
                             f"{dropped} polygon part(s) with < 3 points or zero area left out")
            if problem:
                builder.skip(problem[0], file, ref, problem[1])
                continue
            shape = builder.check_shape({"kind": "coco", "segmentation": seg},
                                        image["height"], image["width"], file, ref)
            if shape is None:
                continue
            record = builder.instance(categories[cat_id], shape, ref, aliases=[cat_id],
                                      annotation_id=ann_id, category_id=cat_id)
            if ann.get("iscrowd"):
                builder.skip("crowd_region", file, ref, "a crowd region: not an instance, kept for evaluation")
                record["segmentation"] = seg
                bbox = ann.get("bbox")
                if isinstance(bbox, list) and len(bbox) == 4:
                    record["bbox"] = [float(v) for v in bbox]
                image["crowd"].append(record)
            else:
                image["instances"].append(record)
