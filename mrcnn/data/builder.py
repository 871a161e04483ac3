"""What every reader does the same way: check images and shapes, count what
is skipped, apply the label map and class selection, register the classes.

A reader parses its format and hands images and instances to a
`DatasetBuilder`; `finish()` then adds them to the Dataset in one go. An
instance is a dict:

    {"label": str,            # the class as the annotation file names it
     "aliases": [str, ...],   # other names of that class (COCO category id,
                              # Open Images MID), matched by label maps too
     "shape": {...},          # see mrcnn.data.rasterize
     "annotation": str,       # where it was read, for messages
     "class_id": int}         # set by finish(): the class id in the dataset's
                              # source, map it with map_source_class_id
"""
import logging
import os

from mrcnn.data.errors import DatasetError
from mrcnn.data.image_files import image_size
from mrcnn.data.label_map import read_label_map
from mrcnn.data.problems import ProblemLog
from mrcnn.data.rasterize import degenerate_reason, shape_outline

logger = logging.getLogger(__name__)

MISSING_IMAGE_POLICIES = ("skip", "keep", "error")


def problem_log(dataset):
    """The ProblemLog of a dataset, created on first use (so that Dataset
    subclasses with their own __init__ need not call anything)."""
    log = getattr(dataset, "problems", None)
    if log is None:
        log = dataset.problems = ProblemLog()
    return log


def read_image_list(image_list):
    """A set of names from a text file (one a line, `#` comments) or an iterable."""
    if image_list is None:
        return None
    if isinstance(image_list, (str, os.PathLike)):
        with open(image_list, encoding="utf-8") as f:
            return {line.split("#")[0].strip() for line in f} - {""}
    return {str(name) for name in image_list}


class DatasetBuilder:
    """Collects one annotation file's images, then registers them.

    dataset: the Dataset to add to.
    source: the name classes and images are registered under (no dots).
    annotation_file: the file or folder being read (for messages).
    label_map: a LabelMap, a CSV path, a {label: target} dict, or None.
    classes: the class names to keep, in this order (others are dropped);
        None keeps all.
    image_list: names of the images to keep (a text file or an iterable, as
        written by `mrcnn split`); None keeps all.
    missing_images: "skip" images whose file is absent (counted), "keep" them
        (for conversion and splitting without pixels) or "error".
    """

    def __init__(self, dataset, source, annotation_file, label_map=None, classes=None,
                 image_list=None, missing_images="skip", unmapped="keep"):
        if "." in source:
            raise ValueError(f"source {source!r} cannot contain a dot")
        if missing_images not in MISSING_IMAGE_POLICIES:
            raise ValueError(f"missing_images must be one of {MISSING_IMAGE_POLICIES}, got {missing_images!r}")
        self.dataset = dataset
        self.source = source
        self.annotation_file = str(annotation_file)
        self.label_map = read_label_map(label_map, unmapped=unmapped)
        self.classes = None if classes is None else [str(c) for c in classes]
        self.image_list = read_image_list(image_list)
        self.missing_images = missing_images
        self.problems = problem_log(dataset)
        self._images = []
        self._alias_names = {}
        self._paths = {}
        self._image_ids = set(info["id"] for info in dataset.image_info if info["source"] == source)
        self._resolved = None

    # -- while parsing ---------------------------------------------------

    def skip(self, kind, file, annotation, message):
        """Count something that is left out (or suspicious)."""
        self.problems.add(kind, file, annotation, message)

    def selected(self, *names):
        """False when an image list is given and names none of `names`."""
        return self.image_list is None or any(str(n) in self.image_list for n in names if n is not None)

    def image_present(self, path, file, annotation):
        """True when the reader should keep an image: its file exists, or
        missing images are kept. Counts a missing image."""
        if path is not None and os.path.isfile(path):
            return True
        message = (f"image file {path} does not exist; put it there, pass image_dir=..., "
                   f"or remove the entry from the annotation file")
        if self.missing_images == "error":
            raise DatasetError(f"{file}: {annotation}: {message}", kind="missing_image",
                               file=file, annotation=annotation)
        self.problems.add("missing_image", file, annotation, message)
        return self.missing_images == "keep"

    def size_of(self, path, file, annotation):
        """(height, width) from the image header; (None, None) when the image
        is absent (and kept); None when it is unreadable (counted): the
        reader then skips the image."""
        if path is None or not os.path.isfile(path):
            return None, None
        try:
            return image_size(path)
        except DatasetError as e:
            self.problems.add("unreadable_image", file, annotation, f"{e}; the image is skipped")
            return None

    def check_shape(self, shape, height, width, file, annotation):
        """Returns the shape, or None when it is degenerate or wholly outside
        the image (counted). Points outside the image are counted; the
        rasteriser clips them."""
        reason = degenerate_reason(shape)
        if reason:
            self.problems.add("degenerate_shape", file, annotation, f"{reason}; skipped")
            return None
        if height is not None and width is not None:
            outline = shape_outline(shape)
            if outline is not None and outline[0].size:
                x, y = outline
                tol = 1e-3  # exporters write 416.00000001 for 416
                if x.max() <= tol or y.max() <= tol or x.min() >= width - tol or y.min() >= height - tol:
                    # Clipping would leave no pixel: training would drop it unseen.
                    self.problems.add(
                        "outside_image", file, annotation,
                        f"the shape lies wholly outside the {width}x{height} image (x "
                        f"{x.min():.1f}..{x.max():.1f}, y {y.min():.1f}..{y.max():.1f}); skipped. "
                        "Check the annotation's image size and coordinates")
                    return None
                if x.min() < -tol or y.min() < -tol or x.max() > width + tol or y.max() > height + tol:
                    self.problems.add(
                        "points_outside", file, annotation,
                        f"points reach x {x.min():.1f}..{x.max():.1f}, y {y.min():.1f}..{y.max():.1f} "
                        f"outside the {width}x{height} image; the mask is clipped")
        return shape

    def instance(self, label, shape, annotation, aliases=(), **extra):
        """A new instance record (see the module docstring)."""
        record = {"label": str(label), "aliases": [str(a) for a in aliases],
                  "shape": shape, "annotation": str(annotation)}
        record.update(extra)
        return record

    def add_image(self, image_id, path, height, width, instances=(), crowd=(), file=None, **extra):
        """Queue an image. `crowd` holds instance records of crowd regions
        (with a "segmentation" key, see `finish`). Duplicate ids are counted
        and the later entry is skipped."""
        if image_id in self._image_ids:
            self.problems.add("duplicate_id", file or self.annotation_file, f"image {image_id}",
                              "the image is listed twice; the later entry is skipped")
            return
        self._image_ids.add(image_id)
        if path is not None:
            first = self._paths.setdefault(os.path.normpath(path), image_id)
            if first != image_id:
                self.problems.add("duplicate_id", file or self.annotation_file, f"image {image_id}",
                                  f"{path} is also annotated as image {first}; its labels would "
                                  f"disagree - keep one entry")
        # None: the reader finds instances in load_mask (VOC)
        instances = None if instances is None else list(instances)
        self._images.append(dict(id=image_id, path=path, height=height, width=width,
                                 instances=instances, crowd=list(crowd),
                                 annotation_file=file or self.annotation_file, **extra))

    # -- once parsed -------------------------------------------------------

    def finish(self, declared=None, instances_known=True):
        """Apply label map and class selection, register the classes, add the
        images to the dataset, and log one summary.

        declared: the classes the file declares, in its order, as a list of
            (natural id or None, name); natural ids (COCO category ids) are
            kept as source class ids when no label map or selection renames
            classes. None when the format declares no classes.
        instances_known: False for readers that find instances only in
            load_mask (VOC): the per-instance checks are then left to validate.
        Returns: the number of images added.
        """
        declared = None if declared is None else [(i, str(n)) for i, n in declared]
        records = [r for image in self._images for r in (image["instances"] or []) + image["crowd"]]
        if declared is not None:
            names = {n for _, n in declared}
            for image in self._images:
                for record in (image["instances"] or []) + image["crowd"]:
                    if record["label"] not in names:
                        self.problems.add("unknown_class", image["annotation_file"], record["annotation"],
                                          f"class {record['label']!r} is not declared by the file")
        targets = {id(r): self._target(r, image["annotation_file"])
                   for image in self._images for r in (image["instances"] or []) + image["crowd"]}
        order = self._class_order(declared, records, targets)
        self._register(order, declared)
        self._assign(targets, order, instances_known)
        if instances_known:
            self._report_unused(order)
        for image in self._images:
            info = dict(image)
            image_id, path = info.pop("id"), info.pop("path")
            self.dataset.add_image(self.source, image_id, path, **info)
        if instances_known and not any(image["instances"] for image in self._images):
            self.problems.add("no_instances", self.annotation_file, "",
                              "not one usable instance was read; check the class attribute, "
                              "the label map and the class selection")
        self.problems.log_summary(f"{self.source} ({self.annotation_file})", logger)
        return len(self._images)

    def resolve(self, label, aliases=()):
        """The source class id of a label after finish(), or None when the
        label map or the class selection drops it (for readers such as VOC
        that find instances only when load_mask reads the label images)."""
        record = {"label": str(label), "aliases": [str(a) for a in aliases]}
        target = self._target(record, count=False)
        registry = self._registry()
        return registry.get(self._canonical(target)) if target is not None else None

    def _registry(self):
        registries = self.dataset.__dict__.setdefault("_class_registry", {})
        return registries.setdefault(self.source, {})

    def _target(self, record, file="", count=True):
        labels = [record["label"]] + record["aliases"]
        if self.label_map is None:
            return record["label"]
        found, target = self.label_map.lookup(self.source, labels)
        if found:
            if target is None and count:
                self.problems.add("dropped_by_label_map", file, record.get("annotation", ""),
                                  f"label {record['label']!r} is dropped by the label map")
            return target
        policy = self.label_map.unmapped
        if policy == "error":
            raise DatasetError(
                f"{self.label_map.file or 'label map'}: label {record['label']!r} of source "
                f"{self.source!r} is not in the label map; add a row "
                f"'{self.source},{record['label']},<target>' (empty target to drop it).",
                kind="unmapped_label", annotation=record.get("annotation"))
        if count:
            self.problems.add("unmapped_label", file, record.get("annotation", ""),
                              f"label {record['label']!r} is not in the label map; "
                              + ("kept as it is" if policy == "keep" else "dropped"))
        return record["label"] if policy == "keep" else None

    def _canonical(self, name):
        # Classes may be selected by an alias (an Open Images MID) when no
        # label map renamed them; register them under the label.
        return self._alias_names.get(name, name)

    def _class_order(self, declared, records, targets):
        self._alias_names = {}
        if self.label_map is None:
            for r in records:
                for alias in r["aliases"]:
                    self._alias_names.setdefault(alias, r["label"])
            for _, name in declared or ():
                self._alias_names.pop(name, None)
        seen = list(dict.fromkeys(t for t in (targets[id(r)] for r in records) if t is not None))
        if self.classes is not None:
            return list(dict.fromkeys(self._canonical(c) for c in self.classes))
        if self.label_map is not None:
            mapped = self.label_map.targets()
            return mapped + [t for t in seen if t not in mapped]
        names = [n for _, n in declared or ()]
        return list(dict.fromkeys(names + seen))

    def _register(self, order, declared):
        registry = self._registry()
        natural = {}
        if self.label_map is None and declared:
            natural = {n: i for i, n in declared if i is not None}
        for name in order:
            if name not in registry:
                wanted = natural.get(name)
                if wanted is None or wanted in registry.values():
                    wanted = max(list(registry.values()) + list(natural.values()) + [0]) + 1
                registry[name] = int(wanted)
            self.dataset.add_class(self.source, registry[name], name)

    def _assign(self, targets, order, instances_known):
        registry = self._registry()
        wanted = set(order)
        internal = {(c["source"], c["id"]): i for i, c in enumerate(self.dataset.class_info)}
        for image in self._images:
            for key in ("instances", "crowd"):
                if image[key] is None:
                    continue
                kept = []
                for record in image[key]:
                    target = targets[id(record)]
                    if target is None:
                        continue
                    name = self._canonical(target)
                    if name not in wanted:
                        self.problems.add("not_selected", image["annotation_file"], record["annotation"],
                                          f"class {name!r} is not among the selected classes",
                                          key=name)
                        continue
                    record["class_name"] = name
                    if key == "crowd":
                        # The evaluator reads crowd regions without mapping ids.
                        record["class_id"] = internal[(self.source, registry[name])]
                    else:
                        record["class_id"] = registry[name]
                    kept.append(record)
                image[key] = kept
            if instances_known and not image["instances"]:
                self.problems.add("image_without_instances", image["annotation_file"], f"image {image['id']}",
                                  "no instances: a negative example")

    def _report_unused(self, order):
        used = {r["class_name"] for image in self._images for r in image["instances"] or []}
        for name in order:
            if name not in used:
                self.problems.add("unused_class", self.annotation_file, f"class {name!r}",
                                  "no instance has this class")
