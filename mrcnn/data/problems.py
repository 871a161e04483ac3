"""Counting what is wrong with a dataset, with the first few examples of each kind.

Readers skip what they cannot use and record it here instead of printing a
line per annotation; the log is summarised once per dataset and is what
`mrcnn validate` reports.
"""
import dataclasses
import logging
from collections import Counter

logger = logging.getLogger(__name__)

# "error": training would fail or learn from wrong labels; "warning": data is
# skipped or suspicious; "info": worth knowing, nothing wrong.
SEVERITY = {
    "unsafe_path": "error",
    "unknown_format": "error",
    "missing_image": "error",
    "unreadable_image": "error",
    "size_mismatch": "error",
    "duplicate_id": "error",
    "invalid_annotation": "error",
    "no_instances": "error",
    "degenerate_shape": "warning",
    "points_outside": "warning",
    "outside_image": "warning",
    "empty_mask": "warning",
    "skipped_point": "warning",
    "unsupported_shape": "warning",
    "unlabelled_region": "warning",
    "ambiguous_class": "warning",
    "unknown_class": "warning",
    "unused_class": "warning",
    "unmapped_label": "warning",
    "orphan_annotation": "warning",
    "crowd_region": "info",
    "ignore_region": "info",
    "dropped_by_label_map": "info",
    "not_selected": "info",
    "image_without_instances": "info",
}

DESCRIPTION = {
    "unsafe_path": "image paths outside the dataset folder (refused)",
    "unknown_format": "files that are not a dataset of a known format",
    "missing_image": "missing image files",
    "unreadable_image": "unreadable image files",
    "size_mismatch": "annotation size differs from the image size",
    "duplicate_id": "duplicate ids",
    "invalid_annotation": "malformed annotations (skipped)",
    "no_instances": "no instances in the whole dataset",
    "degenerate_shape": "degenerate shapes: < 3 points or zero area (skipped)",
    "points_outside": "shapes with points outside the image (clipped)",
    "outside_image": "instances wholly outside the image (skipped)",
    "empty_mask": "instances whose mask has no pixel",
    "skipped_point": "point annotations (skipped: a point has no area)",
    "unsupported_shape": "unsupported shape types (skipped)",
    "unlabelled_region": "regions without a class (skipped)",
    "ambiguous_class": "regions with several classes ticked (skipped)",
    "unknown_class": "classes not declared by the annotation file",
    "unused_class": "declared classes without any instance",
    "unmapped_label": "labels the label map does not mention (kept as they are)",
    "orphan_annotation": "annotations of images that are not listed (skipped)",
    "crowd_region": "crowd regions (kept out of the instances, used by evaluation)",
    "ignore_region": "LabelMe shapes labelled __ignore__ or _background_ (not instances; skipped)",
    "dropped_by_label_map": "instances dropped by the label map",
    "not_selected": "instances of classes that were not selected",
    "image_without_instances": "images without instances (kept as negatives)",
}


@dataclasses.dataclass
class Problem:
    """One occurrence: what kind, in which file, which annotation, and details."""

    kind: str
    file: str
    annotation: str
    message: str

    def __str__(self):
        where = self.file or ""
        if self.annotation:
            where = f"{where}: {self.annotation}" if where else str(self.annotation)
        return f"{where}: {self.message}" if where else self.message


class ProblemLog:
    """Counts problems by kind and keeps the first `max_examples` of each."""

    def __init__(self, max_examples=5):
        self.max_examples = max_examples
        self.counts = Counter()
        self.examples = {}
        # {kind: Counter(key)}: counts by what the problem is about, when the
        # caller says (e.g. the class of `not_selected` instances).
        self.keys = {}

    def add(self, kind, file="", annotation="", message="", key=None):
        if kind not in SEVERITY:
            raise KeyError(f"Unknown problem kind {kind!r}; add it to mrcnn.data.problems.SEVERITY")
        self.counts[kind] += 1
        if key is not None:
            self.keys.setdefault(kind, Counter())[key] += 1
        examples = self.examples.setdefault(kind, [])
        if len(examples) < self.max_examples:
            examples.append(Problem(kind, str(file or ""), str(annotation or ""), message))

    def extend(self, other):
        """Add the counts and examples of another ProblemLog."""
        for kind, count in other.counts.items():
            self.counts[kind] += count
            if kind in other.keys:
                self.keys.setdefault(kind, Counter()).update(other.keys[kind])
            room = self.max_examples - len(self.examples.setdefault(kind, []))
            self.examples[kind].extend(other.examples.get(kind, [])[:max(room, 0)])

    def count(self, kind):
        return self.counts.get(kind, 0)

    def by_key(self, kind):
        """Counter of the keys given with `kind` (empty when none were)."""
        return Counter(self.keys.get(kind, {}))

    def kinds(self, severity=None):
        """Kinds seen, errors first, optionally only those of one severity."""
        order = {"error": 0, "warning": 1, "info": 2}
        kinds = [k for k, n in self.counts.items() if n and (severity is None or SEVERITY[k] == severity)]
        return sorted(kinds, key=lambda k: (order[SEVERITY[k]], k))

    @property
    def has_errors(self):
        return bool(self.kinds("error"))

    def summary_lines(self, severities=("error", "warning", "info")):
        lines = []
        for kind in self.kinds():
            if SEVERITY[kind] in severities:
                lines.append(f"{SEVERITY[kind]}: {self.counts[kind]} {DESCRIPTION[kind]} [{kind}]")
        return lines

    def log_summary(self, name, log=None):
        """One log record for the whole dataset, not one per annotation."""
        log = log or logger
        lines = self.summary_lines(("error", "warning"))
        if lines:
            log.warning("%s: %s (run `mrcnn validate` for examples)", name, "; ".join(lines))
        info = self.summary_lines(("info",))
        if info:
            log.info("%s: %s", name, "; ".join(info))
