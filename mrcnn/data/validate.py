"""Check a dataset before a long training run.

`validate_dataset(path)` reads every image and every annotation and reports,
with counts and the first examples of each: missing or unreadable images,
annotation sizes that differ from the image, degenerate shapes, points
outside the image, unknown or unused classes, duplicate ids, images without
instances; then class statistics and, given a config, how the instance
sizes fit its anchors (mrcnn.data.anchor_advice). `report.ok` is False when
something would break training (the "error" kinds of mrcnn.data.problems).
"""
import dataclasses
import os
from collections import Counter

import numpy as np

from mrcnn.data.anchor_advice import advise
from mrcnn.data.errors import DatasetError
from mrcnn.data.problems import DESCRIPTION, SEVERITY, ProblemLog
from mrcnn.data.read import format_name, read_dataset
from mrcnn.data.statistics import DatasetStatistics

# Kinds that validate recounts from the masks it draws (readers that find
# instances lazily, such as VOC, cannot count them when reading).
RECOUNTED = ("unused_class", "image_without_instances", "no_instances")


@dataclasses.dataclass
class ValidationReport:
    """What validate found. `problems` holds counts and examples by kind."""

    path: str
    format: str
    problems: ProblemLog
    statistics: DatasetStatistics = None
    num_images: int = 0
    # An AnchorAdvice when validate_dataset was given a config.
    advice: object = None
    # The Dataset read, for drawing samples; None when it could not be read.
    dataset: object = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def ok(self):
        """True when nothing would break training."""
        return not self.problems.has_errors

    @property
    def exit_code(self):
        return 0 if self.ok else 1

    def to_text(self, max_examples=None):
        """The report as text: problems with examples, then class statistics."""
        stats = self.statistics
        classes = len(stats.class_names) - 1 if stats else 0
        instances = stats.num_instances if stats else 0
        lines = [f"Dataset {self.path} ({self.format}): {self.num_images} images, "
                 f"{instances} instances, {classes} classes"]
        if not self.problems.kinds():
            lines.append("No problems found.")
        for kind in self.problems.kinds():
            count = self.problems.count(kind)
            lines.append(f"{SEVERITY[kind].upper():8s}{count:6d}  {DESCRIPTION[kind]} [{kind}]")
            examples = self.problems.examples.get(kind, [])
            shown = examples[:max_examples if max_examples is not None else len(examples)]
            for example in shown:
                lines.append(f"{'':16s}{example}")
            if count > len(shown):
                lines.append(f"{'':16s}... and {count - len(shown)} more")
        if stats is not None:
            lines.append("")
            lines.append("Class statistics (areas in pixels):")
            lines.append(stats.table())
        if self.advice is not None:
            lines.append("")
            lines.append(self.advice.to_text())
        lines.append("")
        errors = sum(self.problems.count(k) for k in self.problems.kinds("error"))
        lines.append("Result: OK" if self.ok else
                     f"Result: FAILED, {errors} problem(s) would break training")
        return "\n".join(lines)

    def to_dict(self):
        """JSON-ready summary: counts and examples by kind, class statistics."""
        return {
            "path": self.path, "format": self.format, "ok": self.ok, "num_images": self.num_images,
            "problems": {kind: {"severity": SEVERITY[kind], "count": self.problems.count(kind),
                                "examples": [dataclasses.asdict(e) for e in self.problems.examples.get(kind, [])]}
                         for kind in self.problems.kinds()},
            "classes": self.statistics.rows() if self.statistics else [],
            "anchors": self.advice.to_dict() if self.advice is not None else None,
        }

    def plot(self, path):
        """Save the class statistics histograms as a PNG; returns the path."""
        if self.statistics is None:
            raise ValueError("no statistics: the dataset could not be read")
        return self.statistics.plot(path, title=self._title())

    def _title(self):
        return os.path.basename(str(self.path).rstrip("/\\"))

    def plot_all(self, target, config=None, augmentation=None, augmentation_name=None):
        """Save every figure of `validate --plot TARGET` (see
        mrcnn.data.validate_plots.plot_paths for the names): the histograms,
        instances and images per class, and, given the config, the instance
        sizes against its anchors (needs `advice`) and a 3x3 grid of samples
        resized as the config says and augmented with `augmentation`
        (`augmentation_name` in its title).
        Returns: {figure name: path written}."""
        from mrcnn.data.validate_plots import plot_paths, plot_sizes, save_sample_grid

        if self.statistics is None:
            raise ValueError("no statistics: the dataset could not be read")
        paths, title, written = plot_paths(target), self._title(), {}
        written["histograms"] = self.statistics.plot(paths["histograms"], title=title)
        written["classes"] = self.statistics.plot_classes(paths["classes"], title=title)
        if self.advice is not None:
            written["sizes"] = plot_sizes(paths["sizes"], self.advice, title=title)
        if config is not None and self.dataset is not None:
            label = (f"{title}: resized ({config.IMAGE_RESIZE_MODE}, "
                     f"IMAGE_MAX_DIM={config.IMAGE_MAX_DIM})")
            if augmentation is not None:
                label += f", augmented ({augmentation_name or type(augmentation).__name__})"
            grid = save_sample_grid(paths["samples"], self.dataset, config, augmentation, title=label)
            if grid:
                written["samples"] = grid
        return written


def validate_dataset(dataset_or_path, image_dir=None, format=None, check_images=True, check_masks=True,
                     max_examples=5, progress=False, config=None, **options):
    """Read every image and annotation of a dataset and report problems.

    dataset_or_path: a prepared Dataset, or what `read_dataset` accepts.
    image_dir, format, options: passed to `read_dataset`.
    check_images: decode every image (finds truncated files, size mismatches).
    check_masks: draw every mask (finds empty masks; gives class statistics).
    progress: show a progress bar over the images (on stderr).
    config: a Config: the instance sizes after its resize are compared with
        its anchors (`report.advice`, needs check_masks).
    Returns: a ValidationReport; `report.ok` is False when training would break.
    """
    problems = ProblemLog(max_examples=max_examples)
    if isinstance(dataset_or_path, (str, os.PathLike)):
        path = os.fspath(dataset_or_path)
        try:
            dataset = read_dataset(path, image_dir=image_dir, format=format, require_images=False, **options)
        except DatasetError as e:
            problems.add(e.kind if e.kind in SEVERITY else "invalid_annotation", e.file or path,
                         e.annotation or "", str(e))
            return ValidationReport(path, format or "unknown", problems)
        fmt = format_name(dataset)
    else:
        dataset, path, fmt = dataset_or_path, str(getattr(dataset_or_path, "name", "<dataset>")), \
            format_name(dataset_or_path)
    reader_problems = getattr(dataset, "problems", None)
    if reader_problems is not None:
        kept = ProblemLog()
        kept.extend(reader_problems)
        for kind in RECOUNTED:
            kept.counts.pop(kind, None)
            kept.examples.pop(kind, None)
        problems.extend(kept)
    _check_duplicate_ids(dataset, problems)
    stats = DatasetStatistics(dataset.class_names)
    from tqdm.auto import tqdm

    for image_id in tqdm(dataset.image_ids, desc="validate", unit="img", disable=not progress):
        _check_image(dataset, image_id, problems, stats, check_images, check_masks)
    if check_masks:
        _check_classes(dataset, stats, problems)
    advice = advise(stats.boxes(), config) if check_masks and config is not None else None
    return ValidationReport(path, fmt, problems, stats if check_masks else None,
                            int(len(dataset.image_ids)), advice=advice, dataset=dataset)


def _check_duplicate_ids(dataset, problems):
    counts = Counter((info["source"], info["id"]) for info in dataset.image_info)
    for (source, image_id), n in counts.items():
        if n > 1:
            problems.add("duplicate_id", "", f"image {source}.{image_id}", f"listed {n} times")


def _image_ref(dataset, image_id):
    info = dataset.image_info[image_id]
    return info.get("annotation_file") or "", f"image {info['id']} ({info.get('path')})"


def _check_image(dataset, image_id, problems, stats, check_images, check_masks):
    info = dataset.image_info[image_id]
    file, ref = _image_ref(dataset, image_id)
    if check_images:
        try:
            image = dataset.load_image(image_id)
        except FileNotFoundError as e:
            problems.add("missing_image", file, ref, f"{e}")
            return
        except DatasetError as e:
            problems.add(e.kind if e.kind in SEVERITY else "unreadable_image", file, ref, str(e))
            return
        except Exception as e:  # Pillow raises many types for broken files
            problems.add("unreadable_image", file, ref, f"{type(e).__name__}: {e}")
            return
        expected = (info.get("height"), info.get("width"))
        if None not in expected and tuple(image.shape[:2]) != tuple(int(v) for v in expected):
            problems.add("size_mismatch", file, ref,
                         f"the annotation says {expected[1]}x{expected[0]} (width x height) but the image "
                         f"is {image.shape[1]}x{image.shape[0]}; masks would not line up")
    if not check_masks:
        return
    try:
        masks, class_ids = dataset.load_mask(image_id)
    except DatasetError as e:
        problems.add(e.kind if e.kind in SEVERITY else "invalid_annotation", e.file or file,
                     e.annotation or ref, str(e))
        return
    except FileNotFoundError as e:
        problems.add("missing_image", file, ref, str(e))
        return
    stats.add_image(masks, class_ids)
    if masks.shape[-1] == 0:
        problems.add("image_without_instances", file, ref, "no instances: a negative example")
        return
    empty = np.flatnonzero(~masks.reshape(-1, masks.shape[-1]).any(axis=0))
    records = info.get("instances") or []
    for index in empty:
        name = records[index].get("annotation") if index < len(records) else f"instance {index}"
        problems.add("empty_mask", file, f"{ref}: {name}",
                     "the mask has no pixel inside the image; the instance cannot be learnt")


def _check_classes(dataset, stats, problems):
    for row in stats.rows():
        if row["instances"] == 0:
            problems.add("unused_class", "", f"class {row['class']!r}", "no instance has this class")
    if stats.num_instances == 0:
        problems.add("no_instances", "", "", "not one instance in the whole dataset; nothing to train on")
