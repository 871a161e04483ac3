"""One entry point for every format: `read_dataset(path)`.

    dataset = read_dataset("gns/via_region_data.json")          # VIA
    dataset = read_dataset("instances.json", image_dir="images")   # COCO
    dataset = read_dataset("nucleus/", class_name="nucleus")     # mask folders
    dataset = read_dataset("train.json", label_map="labels.csv", source="gns")
    dataset = read_dataset("cvat_export/annotations.xml")           # CVAT for images 1.1
    dataset = read_dataset("yolo_dataset/")                      # YOLO segmentation

The result is prepared (matterport's `Dataset.prepare()` has run), with
class_names[0] == "BG". Formats are recognised from the content, not the
name; pass `format=` to skip detection.
"""
import inspect
import os

from mrcnn.data.builder import DatasetBuilder
from mrcnn.data.coco import COCODataset, is_coco
from mrcnn.data.cvat import CVATDataset, find_cvat_file, is_cvat_xml
from mrcnn.data.errors import DatasetError, FormatError, OptionError
from mrcnn.data.jsonfile import load_json
from mrcnn.data.labelme import LabelMeDataset, find_labelme_files, is_labelme
from mrcnn.data.mask_folders import MaskFoldersDataset, find_mask_folders_root
from mrcnn.data.openimages import OpenImagesDataset, is_openimages_csv
from mrcnn.data.via import VIADataset, is_via
from mrcnn.data.voc import VOCDataset, find_voc_root
from mrcnn.data.yolo import YOLODataset, is_yolo_folder, is_yolo_yaml

# format name -> (Dataset class, name of its load method)
FORMATS = {
    "via": (VIADataset, "load_via"),
    "coco": (COCODataset, "load_coco"),
    "labelme": (LabelMeDataset, "load_labelme"),
    "voc": (VOCDataset, "load_voc"),
    "masks": (MaskFoldersDataset, "load_mask_folders"),
    "openimages": (OpenImagesDataset, "load_openimages"),
    "cvat": (CVATDataset, "load_cvat"),
    "yolo": (YOLODataset, "load_yolo"),
}
ALIASES = {"mask_folders": "masks", "nucleus": "masks", "open_images": "openimages", "pascal_voc": "voc",
           "via2": "via", "via1": "via", "cvat_images": "cvat", "cvat-images": "cvat",
           "yolo-seg": "yolo", "yolo_seg": "yolo", "ultralytics": "yolo"}
BUILDER_OPTIONS = ("label_map", "classes", "image_list", "missing_images", "unmapped")


def detect_format(path):
    """Recognise a dataset. Returns (format name, parsed JSON or None).

    Files: a COCO or VIA JSON, one LabelMe JSON, an Open Images masks CSV,
    a CVAT XML, a YOLO data.yaml.
    Folders: VOC (SegmentationObject/), mask folders (<id>/images + masks),
    CVAT (annotations.xml), YOLO (data.yaml, or images/ + labels/),
    LabelMe JSONs, or a folder holding one COCO/VIA JSON or a masks CSV.
    """
    path = str(path)
    if not os.path.exists(path):
        raise FormatError(f"{path}: no such file or folder", file=path)
    if os.path.isfile(path):
        return _detect_file(path)
    if find_voc_root(path):
        return "voc", None
    if find_mask_folders_root(path):
        return "masks", None
    if find_cvat_file(path):
        return "cvat", None
    if is_yolo_folder(path):
        return "yolo", None
    top = sorted(n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
    jsons = [n for n in top if n.lower().endswith(".json")]
    csvs = [n for n in top if n.lower().endswith(".csv") and is_openimages_csv(os.path.join(path, n))]
    if len(jsons) == 1:
        fmt, data = _detect_file(os.path.join(path, jsons[0]), quiet=True)
        if fmt in ("coco", "via"):
            return fmt, data
    for relative in find_labelme_files(path)[:1]:
        if is_labelme(load_json(os.path.join(path, relative))):
            return "labelme", None
    if len(csvs) == 1:
        return "openimages", None
    raise FormatError(
        f"{path}: cannot tell the dataset format (looked for SegmentationObject/, <id>/images + "
        f"masks/, annotations.xml, data.yaml or images/ + labels/, LabelMe JSONs, one COCO or "
        f"VIA JSON, an Open Images masks CSV). Pass format=... "
        f"({', '.join(FORMATS)}) or point to the annotation file.", file=path)


def _detect_file(path, quiet=False):
    lower = path.lower()
    if lower.endswith(".csv"):
        if is_openimages_csv(path):
            return "openimages", None
    elif lower.endswith(".xml"):
        if is_cvat_xml(path):
            return "cvat", None
    elif lower.endswith((".yaml", ".yml")):
        if is_yolo_yaml(path):
            return "yolo", None
    elif lower.endswith(".json"):
        data = load_json(path)
        if is_coco(data):
            return "coco", data
        if is_via(data) or (isinstance(data, dict) and "_via_settings" in data):
            return "via", data
        if is_labelme(data):
            return "labelme", None
    if quiet:
        return None, None
    raise FormatError(f"{path}: not a COCO, VIA or LabelMe JSON, an Open Images masks CSV, a CVAT "
                      f"for images XML nor a YOLO data.yaml. "
                      f"Pass format=... ({', '.join(FORMATS)}).", file=path)


def annotation_file_of(fmt, path):
    """The file a loader wants when it was given a folder."""
    if os.path.isdir(path) and fmt in ("coco", "via", "openimages"):
        names = sorted(os.listdir(path))
        wanted = ".csv" if fmt == "openimages" else ".json"
        for name in names:
            full = os.path.join(path, name)
            if name.lower().endswith(wanted) and (fmt != "openimages" or is_openimages_csv(full)):
                return full
    return path


def format_name(dataset):
    """The format name of a reader's Dataset ("via", "coco", ...), else its class name."""
    for name, (cls, _) in FORMATS.items():
        if isinstance(dataset, cls):
            return name
    return type(dataset).__name__


def dataset_class(format):
    """The Dataset class of a format name (for subclassing and `dataset_class=`)."""
    name = ALIASES.get(str(format).lower(), str(format).lower())
    if name not in FORMATS:
        raise FormatError(f"unknown format {format!r}; known: {', '.join(FORMATS)}")
    return FORMATS[name][0]


def read_dataset(path, image_dir=None, format=None, dataset_class=None, prepare=True,
                 require_images=True, **options):
    """Read an annotated dataset in any supported format.

    path: an annotation file (COCO/VIA/LabelMe JSON, Open Images CSV, CVAT
        XML, YOLO data.yaml) or a dataset folder (VOC, mask folders, LabelMe,
        CVAT, YOLO, a folder with one JSON).
    image_dir: the folder image paths are relative to; default: beside the
        annotations (see each reader).
    format: via, coco, labelme, voc, masks, openimages, cvat or yolo; None: detect.
    dataset_class: your subclass of the format's class, to get your
        overrides (load_mask, image_reference ...).
    prepare: call `prepare()` (default True).
    require_images: raise when not one image could be read (default True;
        `validate` turns it off to report why).
    options: the reader's own options (VIA: class_attribute, default_class;
        masks: class_name, class_pattern; VOC: split, class_names; Open
        Images: class_descriptions, mask_dir, classes; YOLO: split) and the
        common ones:
        source (the name label maps refer to), label_map, classes,
        image_list, missing_images ("skip", "keep", "error"), unmapped.

    Returns: the Dataset (prepared). `dataset.problems` counts what was
    skipped. Raises DatasetError when not one image could be read.
    """
    path = os.fspath(path)
    data = None
    if format is None:
        format, data = detect_format(path)
    name = ALIASES.get(str(format).lower(), str(format).lower())
    if name not in FORMATS:
        raise FormatError(f"unknown format {format!r}; known: {', '.join(FORMATS)}")
    cls, method = FORMATS[name]
    if dataset_class is not None:
        if not issubclass(dataset_class, cls):
            raise TypeError(f"dataset_class must subclass {cls.__name__} to read {name}")
        cls = dataset_class
    dataset = cls()
    loader = getattr(dataset, method)
    _check_options(loader, name, options)
    if image_dir is not None:
        options["image_dir"] = image_dir
    if data is not None:
        options["data"] = data
    loader(annotation_file_of(name, path), **options)
    if prepare:
        dataset.prepare()
    if require_images and not dataset.image_info:
        lines = "; ".join(dataset.problems.summary_lines()) or "no images listed"
        raise DatasetError(f"{path}: no image could be read ({lines}). Check image_dir, or pass "
                           f"missing_images='keep' to read the annotations without pixels.",
                           kind="missing_image", file=path)
    return dataset


def _check_options(loader, name, options):
    accepted = set(inspect.signature(loader).parameters) - {"options", "data"}
    accepted |= set(inspect.signature(DatasetBuilder).parameters) & set(BUILDER_OPTIONS)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise OptionError(f"read_dataset: option(s) {unknown} do not apply to {name}; "
                        f"accepted: {sorted(accepted - {'annotation_file', 'folder', 'root', 'masks_csv'})}")


def read_coco(json_file, image_root, **options):
    """detectron2's `register_coco_instances(name, {}, json_file, image_root)`
    in one call: the prepared COCO dataset."""
    return read_dataset(json_file, image_dir=image_root, format="coco", **options)


def generic_loader(path, config, **options):
    """The dataset loader of the generic `mrcnn` command: `read_dataset` with
    the config's CLASS_NAMES as the classes to keep, in their order. A
    one-class config names the class of VIA regions without a class
    attribute (matterport's balloon files have none)."""
    names = list(config.CLASS_NAMES or [])
    if names:
        options.setdefault("classes", names)
    fmt = options.get("format")
    if fmt is None and os.path.exists(path):
        fmt = detect_format(path)[0]
    if fmt == "via" and len(names) == 1:
        options.setdefault("default_class", names[0])
    return read_dataset(path, **options)


def reader_loader(dataset_class, **defaults):
    """A sample's dataset loader on `read_dataset`:
    (path, config, **reader options) -> a prepared `dataset_class`.

    The config's CLASS_NAMES are the classes kept (in their order); `defaults`
    are the sample's reader options (format, source, class_attribute, ...);
    reader flags of the command line override both.
    """
    def load(path, config, **options):
        merged = dict(defaults)
        if config.CLASS_NAMES:
            merged["classes"] = list(config.CLASS_NAMES)
        merged.update(options)
        return read_dataset(path, dataset_class=dataset_class, **merged)
    load.__doc__ = (f"Read a {dataset_class.__name__} at `path` (a file, or the folder holding "
                    f"it) with {defaults}; see mrcnn.data.read.reader_loader.")
    return load
