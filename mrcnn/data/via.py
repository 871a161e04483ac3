"""VGG Image Annotator (VIA) 1.x and 2.x files.

Accepted: VIA 2 project files (`_via_img_metadata`, `_via_attributes`), and the
plain exports of VIA 1 and 2 (`{"<filename><size>": {"filename", "regions"}}`)
with `regions` as a list or as a dict keyed "0", "1", ... Shapes: polygon,
polyline (closed, as annotators draw outlines with it), rect, circle and
ellipse; points are skipped and counted. The class comes from one region
attribute (text, dropdown, radio, or a checkbox dict such as
`{"name": {"gun": true}}`); a file without attributes has one class.
"""

from mrcnn.data.annotated import AnnotatedDataset
from mrcnn.data.builder import DatasetBuilder
from mrcnn.data.errors import DatasetError, FormatError
from mrcnn.data.jsonfile import annotation_json
from mrcnn.data.paths import safe_join

# Attribute names tried, in order, when a file has several and none is chosen.
CLASS_ATTRIBUTE_NAMES = ("class", "name", "label", "type", "category")
DEFAULT_CLASS = "object"


def is_via(data):
    """True for a parsed VIA 1.x/2.x project or export."""
    if not isinstance(data, dict):
        return False
    if "_via_img_metadata" in data:
        return True
    entries = [v for k, v in data.items() if not k.startswith("_via")]
    return bool(entries) and all(isinstance(v, dict) and "filename" in v and "regions" in v
                                 for v in entries[:20])


def via_metadata(data, file):
    """(metadata dict keyed by VIA image key, declared region attributes dict)."""
    if isinstance(data, dict) and "_via_img_metadata" in data:
        attributes = (data.get("_via_attributes") or {}).get("region") or {}
        return data["_via_img_metadata"] or {}, attributes
    if isinstance(data, dict) and "project" in data and "metadata" in data and "file" in data:
        raise FormatError(f"{file}: a VIA 3 project; export the annotations from VIA as a "
                          f"VIA 2 JSON (Annotation > Export Annotations (as json)) and read that.", file=file)
    if is_via(data) or data == {}:
        return {k: v for k, v in data.items() if not k.startswith("_via")}, {}
    raise FormatError(f"{file}: not a VIA project or export (no '_via_img_metadata', no "
                      f"entries with 'filename' and 'regions').", file=file)


def region_list(regions):
    """VIA 1 stores regions as {"0": region, ...}; VIA 2 as a list."""
    if isinstance(regions, dict):
        return [regions[k] for k in sorted(regions, key=lambda k: (len(str(k)), str(k)))]
    return list(regions or [])


def choose_class_attribute(declared, metadata, file):
    """The region attribute that holds the class, or None for one class."""
    names = list(declared)
    if not names:
        seen = {}
        for entry in metadata.values():
            for region in region_list(entry.get("regions")):
                for key in (region.get("region_attributes") or {}):
                    seen.setdefault(key, None)
        names = list(seen)
    if len(names) <= 1:
        return names[0] if names else None
    for candidate in CLASS_ATTRIBUTE_NAMES:
        if candidate in names:
            return candidate
    raise DatasetError(f"{file}: the regions have several attributes {names}; pass "
                       f"class_attribute=<one of them> to say which holds the class.", file=file)


def class_label(value):
    """(labels, problem kind) from an attribute value: a string, or a
    checkbox dict {"option": true}. Returns ([label], None) when usable."""
    if isinstance(value, dict):
        ticked = [str(k) for k, v in value.items() if v]
        if len(ticked) > 1:
            return ticked, "ambiguous_class"
        return ticked, None if ticked else "unlabelled_region"
    if value is None or (isinstance(value, str) and not value.strip()):
        return [], "unlabelled_region"
    return [str(value).strip()], None


def region_shape(shape_attributes):
    """A VIA shape_attributes dict -> (shape dict or None, problem kind or None)."""
    attrs = shape_attributes or {}
    name = attrs.get("name")
    try:
        if name in ("polygon", "polyline"):
            x = [float(v) for v in attrs["all_points_x"]]
            y = [float(v) for v in attrs["all_points_y"]]
            if len(x) != len(y):
                return None, "invalid_annotation"
            return {"kind": "polygon", "x": x, "y": y}, None
        if name == "rect":
            return {"kind": "rect", **{k: float(attrs[k]) for k in ("x", "y", "width", "height")}}, None
        if name == "circle":
            return {"kind": "circle", **{k: float(attrs[k]) for k in ("cx", "cy", "r")}}, None
        if name == "ellipse":
            shape = {"kind": "ellipse", **{k: float(attrs[k]) for k in ("cx", "cy", "rx", "ry")}}
            shape["theta"] = float(attrs.get("theta", 0.0) or 0.0)
            return shape, None
    except (KeyError, TypeError, ValueError):
        return None, "invalid_annotation"
    if name == "point":
        return None, "skipped_point"
    return None, "unsupported_shape"


class VIADataset(AnnotatedDataset):
    """Images and regions of a VIA 1.x/2.x JSON file."""

    def load_via(self, annotation_file, image_dir=None, class_attribute=None, default_class=None,
                 source="via", data=None, **options):
        """Add the images of a VIA file.

        annotation_file: path of the JSON (or an already parsed dict, then
            `image_dir` is required).
        data: the parsed JSON when the caller has already read the file.
        image_dir: the folder the file names are relative to; default: the
            JSON's folder.
        class_attribute: the region attribute holding the class; default:
            the only one, or the first of class/name/label/type/category.
        default_class: the class of regions without the class attribute;
            for files without any attribute, the one class ("object" when
            not given). Without it, unlabelled regions are skipped.
        options: label_map, classes, image_list, missing_images, unmapped
            (see `DatasetBuilder`).
        Returns: the number of images added.
        """
        data, file, image_dir = annotation_json(annotation_file, image_dir, data, "VIA")
        metadata, declared_attributes = via_metadata(data, file)
        attribute = class_attribute or choose_class_attribute(declared_attributes, metadata, file)
        builder = DatasetBuilder(self, source, file, **options)
        if attribute is None:
            declared = [(None, default_class or DEFAULT_CLASS)]
        else:
            options_ = (declared_attributes.get(attribute) or {}).get("options") or {}
            declared = [(None, name) for name in options_] if options_ else None

        for key, entry in metadata.items():
            self._add_via_image(builder, file, image_dir, key, entry, attribute, declared, default_class)
        return builder.finish(declared)

    def _add_via_image(self, builder, file, image_dir, key, entry, attribute, declared, default_class):
        filename = entry.get("filename") if isinstance(entry, dict) else None
        if not filename:
            builder.skip("invalid_annotation", file, key, "an entry without 'filename'; skipped")
            return
        if not builder.selected(filename, key):
            return
        path = safe_join(image_dir, filename, file=file, annotation=key)
        if not builder.image_present(path, file, filename):
            return
        size = builder.size_of(path, file, filename)
        if size is None:
            return
        height, width = size
        instances = []
        for index, region in enumerate(region_list(entry.get("regions"))):
            ref = f"{filename} region {index}"
            shape, problem = region_shape(region.get("shape_attributes"))
            if problem:
                builder.skip(problem, file, ref, _SHAPE_MESSAGES[problem].format(
                    name=(region.get("shape_attributes") or {}).get("name")))
                continue
            shape = builder.check_shape(shape, height, width, file, ref)
            if shape is None:
                continue
            if attribute is None:
                labels, problem = [declared[0][1]], None
            else:
                labels, problem = class_label((region.get("region_attributes") or {}).get(attribute))
            if problem == "unlabelled_region" and default_class:
                labels, problem = [default_class], None
            if problem:
                builder.skip(problem, file, ref, f"region attribute {attribute!r} is "
                             + ("empty" if problem == "unlabelled_region" else f"ticked for {labels}")
                             + "; the region is skipped")
                continue
            instances.append(builder.instance(labels[0], shape, ref))
        builder.add_image(filename, path, height, width, instances, file=file, via_key=key)


_SHAPE_MESSAGES = {
    "invalid_annotation": "the {name} region has missing or non-numeric coordinates; skipped",
    "skipped_point": "a point has no area; skipped",
    "unsupported_shape": "shape {name!r} is not supported (polygon, polyline, rect, circle, ellipse); skipped",
}
