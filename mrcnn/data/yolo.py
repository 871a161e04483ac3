"""YOLO segmentation labels (Ultralytics' format).

    dataset/
      data.yaml            names: [cat, dog]  (or {0: cat, 1: dog}); train/val/test: folders
      images/train/a.jpg   (or images/a.jpg)
      labels/train/a.txt   one line per object: class_id x1 y1 x2 y2 ... (fractions of
                           the image width and height)

Class names come from data.yaml (`names:` list or dict), else classes.txt
(one a line) in the dataset folder or its parent. The label file of an image
is its path with the last `images` folder replaced by `labels` and the
extension by `.txt`, as Ultralytics finds it; an image without one has no
instances. Image sizes come from the image files. The entries of data.yaml
(train, val, test: folders or .txt lists of images) are relative to the
YAML's folder (Roboflow's `../train/images` is read as `train/images`, as
Ultralytics does); its `path:` is not followed. Coordinates are image
positions (pixel (r, c) covers [c, c + 1] x [r, r + 1]), drawn like COCO
polygons (pycocotools), so a polygon that crosses itself (Ultralytics' way
to join several parts or a hole into one line) draws by the even-odd rule.

Lines with a bad class id, an odd number of coordinates, coordinates
outside [0, 1], or a box (`class cx cy w h`, a detection label) are invalid
annotations; fewer than 3 points a degenerate shape. Each names its file
and line.
"""
import os

import numpy as np

from mrcnn.data.annotated import AnnotatedDataset
from mrcnn.data.builder import DatasetBuilder
from mrcnn.data.errors import DatasetError, FormatError
from mrcnn.data.paths import safe_join
from mrcnn.data.rasterize import polygon_area

IMAGE_EXTENSIONS = (".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp")
YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
CLASSES_FILE = "classes.txt"
SPLITS = ("train", "val", "test")


def label_path(image_path):
    """Ultralytics' label file of an image: .../images/... -> .../labels/..., .txt."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    path = sb.join(str(image_path).rsplit(sa, 1))
    return os.path.splitext(path)[0] + ".txt"


def load_yaml(path):
    """A parsed YAML file; a syntax error names the file."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise DatasetError(f"{path}: not valid YAML ({str(e).splitlines()[0]}). Fix the file.",
                           file=str(path)) from e


def is_yolo_yaml(path):
    """True for a YAML file with a `names:` list or dict (an Ultralytics data.yaml)."""
    if not str(path).lower().endswith((".yaml", ".yml")) or not os.path.isfile(path):
        return False
    try:
        data = load_yaml(path)
    except (DatasetError, OSError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and isinstance(data.get("names"), (list, dict))


def find_data_yaml(folder):
    """data.yaml (or data.yml, dataset.yaml) of a folder, else its only YAML with `names`; or None."""
    for name in YAML_NAMES:
        if is_yolo_yaml(os.path.join(folder, name)):
            return os.path.join(folder, name)
    found = [os.path.join(folder, n) for n in sorted(os.listdir(folder))
             if is_yolo_yaml(os.path.join(folder, n))]
    return found[0] if len(found) == 1 else None


def is_yolo_folder(folder):
    """True for a folder with data.yaml, or with images/ and a labels/ folder of .txt files."""
    if not os.path.isdir(folder):
        return False
    if find_data_yaml(folder):
        return True
    if not os.path.isdir(os.path.join(folder, "images")):
        return False
    return any(name.lower().endswith(".txt") and name != CLASSES_FILE
               for _, _, names in os.walk(os.path.join(folder, "labels")) for name in names)


def class_names_of(data, file):
    """{class id: name} of data.yaml's `names` (a list or a dict)."""
    names = data.get("names")
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}
    if isinstance(names, dict):
        try:
            return {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError) as e:
            raise DatasetError(f"{file}: 'names' keys must be class ids 0, 1, ... ({e})", file=file) from e
    raise DatasetError(f"{file}: no 'names' list or dict; add `names: [class0, class1, ...]`", file=file)


def read_classes_txt(path):
    """{class id: name} of a classes.txt (one name a line)."""
    with open(path, encoding="utf-8-sig") as f:
        names = [line.strip() for line in f if line.strip()]
    return dict(enumerate(names))


def parse_label_line(text, names):
    """One label line -> (class id, float [K, 2] normalised points) or
    (None, (problem kind, message))."""
    values = text.split()
    try:
        number = float(values[0])
        coords = [float(v) for v in values[1:]]
    except ValueError:
        return None, ("invalid_annotation", "a value is not a number; skipped")
    if number != int(number) or int(number) not in names:
        known = f"0..{max(names)}" if names else "none"
        return None, ("invalid_annotation", f"class id {values[0]} is not a class of the names "
                                            f"({known}); skipped")
    if len(coords) == 4:
        return None, ("invalid_annotation", "a box (class cx cy w h: a YOLO detection label) has no "
                                            "outline; skipped. Segmentation labels list polygon points")
    if len(coords) % 2:
        return None, ("invalid_annotation", f"{len(coords)} coordinates, an odd number (x y pairs "
                                            f"expected); skipped")
    points = np.array(coords, dtype=float).reshape(-1, 2)
    if points.size and (points.min() < 0 or points.max() > 1):
        return None, ("invalid_annotation", f"coordinates {points.min():g}..{points.max():g} outside "
                                            f"[0, 1] (YOLO coordinates are fractions of the image "
                                            f"size); skipped")
    if len(points) < 3:
        return None, ("degenerate_shape", f"{len(points)} point(s); a polygon needs 3; skipped")
    return int(number), points


class YOLODataset(AnnotatedDataset):
    """Images and polygons of an Ultralytics YOLO segmentation dataset."""

    def load_yolo(self, path, image_dir=None, split=None, source="yolo", **options):
        """Add the images of a YOLO segmentation dataset.

        path: the dataset folder or its data.yaml.
        image_dir: the images folder to read (default: data.yaml's train,
            val and test entries, else <folder>/images).
        split: read only this entry of data.yaml (train, val or test), or
            images/<split>.
        options: label_map, classes, image_list, missing_images, unmapped
            (see `DatasetBuilder`).
        Returns: the number of images added.
        """
        path = str(path)
        yaml_file = path if os.path.isfile(path) else find_data_yaml(path)
        root = os.path.dirname(os.path.abspath(yaml_file)) if yaml_file else os.path.abspath(path)
        data = load_yaml(yaml_file) if yaml_file else {}
        if yaml_file and not isinstance(data, dict):
            raise DatasetError(f"{yaml_file}: not a YAML mapping with 'names'", file=yaml_file)
        names = self._names(root, yaml_file, data)
        folders = self._image_sources(root, yaml_file, data, image_dir, split)
        builder = DatasetBuilder(self, source, yaml_file or root, **options)
        images = list(dict.fromkeys(p for folder in folders for p in _list_images(folder)))
        for image in images:
            self._add_yolo_image(builder, root, image, names)
        self._report_orphans(builder, folders, images)
        return builder.finish([(None, names[i]) for i in sorted(names)])

    @staticmethod
    def _names(root, yaml_file, data):
        if yaml_file and "names" in data:
            return class_names_of(data, yaml_file)
        for folder in (root, os.path.join(root, "labels"), os.path.dirname(root)):
            candidate = os.path.join(folder, CLASSES_FILE)
            if os.path.isfile(candidate):
                return read_classes_txt(candidate)
        # A split folder (train/) of a dataset whose data.yaml sits above it.
        found = find_data_yaml(os.path.dirname(root))
        if found:
            return class_names_of(load_yaml(found), found)
        raise DatasetError(f"{root}: no data.yaml with 'names' nor classes.txt: the class names of the "
                           f"ids are unknown. Add data.yaml with `names: [class0, class1, ...]`.",
                           file=root)

    @staticmethod
    def _image_sources(root, yaml_file, data, image_dir, split):
        if image_dir is not None:
            return [os.path.abspath(image_dir)]
        if split is not None and split not in SPLITS:
            raise DatasetError(f"split={split!r}: choose one of {', '.join(SPLITS)}")
        keys = [k for k in ((split,) if split else SPLITS) if data.get(k)]
        if not keys:
            folder = os.path.join(root, "images", split) if split else os.path.join(root, "images")
            if not os.path.isdir(folder):
                raise FormatError(f"{root}: no {'images/' + split if split else 'images'} folder "
                                  f"and no {split or 'train/val'} entry in data.yaml", file=root)
            return [folder]
        sources = []
        for key in keys:
            entries = data[key] if isinstance(data[key], list) else [data[key]]
            for entry in entries:
                sources.append(_resolve_entry(root, str(entry), yaml_file, key))
        return list(dict.fromkeys(sources))

    def _add_yolo_image(self, builder, root, image, names):
        name = os.path.relpath(image, root).replace(os.sep, "/")
        if not builder.selected(name, os.path.splitext(os.path.basename(name))[0]):
            return
        labels = label_path(image)
        if not builder.image_present(image, labels, name):
            return
        size = builder.size_of(image, labels, name)
        if size is None:
            return
        height, width = size
        instances = []
        # Without the image's size (a missing image kept) normalised points cannot be placed.
        if os.path.isfile(labels) and height is not None:
            with open(labels, encoding="utf-8-sig") as f:
                lines = f.read().splitlines()
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                ref = f"line {number}"
                class_id, parsed = parse_label_line(line, names)
                if class_id is None:
                    builder.skip(parsed[0], labels, ref, parsed[1])
                    continue
                points = parsed * np.array([width, height], dtype=float)
                if polygon_area(points[:, 0], points[:, 1]) == 0:
                    builder.skip("degenerate_shape", labels, ref, "a polygon of zero area; skipped")
                    continue
                shape = {"kind": "coco", "segmentation": [[round(float(v), 4) for v in points.ravel()]]}
                instances.append(builder.instance(names[class_id], shape, ref, aliases=[str(class_id)],
                                                  yolo_class=class_id))
        builder.add_image(name, image, height, width, instances, file=labels)

    @staticmethod
    def _report_orphans(builder, folders, images):
        """Label files whose image is absent (Ultralytics ignores them unseen)."""
        with_image = {os.path.normcase(label_path(p)) for p in images}
        for folder in folders:
            labels_folder = os.path.dirname(label_path(os.path.join(folder, "x.jpg")))
            if labels_folder == folder or not os.path.isdir(labels_folder):
                continue
            for dirpath, dirnames, filenames in os.walk(labels_folder):
                dirnames.sort()
                for name in sorted(filenames):
                    path = os.path.join(dirpath, name)
                    if (name.lower().endswith(".txt") and name != CLASSES_FILE
                            and os.path.normcase(path) not in with_image):
                        message = (f"no image for these labels in {folder} (an image named like "
                                   f"the label file, .jpg, .png ...); the labels are skipped")
                        if builder.missing_images == "error":
                            raise DatasetError(f"{path}: {message}", kind="missing_image", file=path)
                        builder.skip("missing_image", path, "", message)


def _resolve_entry(root, entry, yaml_file, key):
    path = safe_join(root, entry, file=yaml_file, annotation=key) if not entry.startswith("../") else None
    if (path is None or not os.path.exists(path)) and entry.startswith("../"):
        path = safe_join(root, entry[3:], file=yaml_file, annotation=key)
    if not os.path.exists(path):
        raise DatasetError(f"{yaml_file}: {key}: {entry!r} is neither a folder nor a file of image "
                           f"paths below {root}", file=yaml_file, annotation=key)
    return path


def _list_images(source):
    """Image files of a folder (recursive, sorted) or of a .txt list of paths."""
    if os.path.isfile(source):
        folder = os.path.dirname(source)
        with open(source, encoding="utf-8-sig") as f:
            entries = [line.strip() for line in f if line.strip()]
        return [safe_join(folder, e[2:] if e.startswith("./") else e, file=source) for e in entries]
    found = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames.sort()
        found.extend(os.path.join(dirpath, n) for n in sorted(filenames)
                     if n.lower().endswith(IMAGE_EXTENSIONS))
    return found
