"""Label maps: the "control sheet" that lines up labels across datasets.

A label map is a CSV with the columns `source,source_label,target_label`:

    source,source_label,target_label
    gns,gun,weapon          # rename
    gns,sword,weapon        # merge two labels into one class
    coco,knife,weapon
    *,background_clutter,   # an empty target drops the label
    ,Person,person          # an empty source (or *) applies to every dataset

`source` is the name a dataset is read under (`read_dataset(...,
source="gns")`; the format name by default: via, coco, labelme, voc, masks,
openimages). Every reader applies the map before it registers its classes,
and the class list is the targets in the order of the sheet, so datasets
read with the same map get the same class ids and can train together.

`ClassSubset` is the other end: keep a subset of the classes in detections.
"""
import csv
import os

import numpy as np

from mrcnn.data.errors import DatasetError

WILDCARD_SOURCES = ("", "*")
UNMAPPED_POLICIES = ("keep", "drop", "error")
HEADER = ("source", "source_label", "target_label")


class LabelMap:
    """Renames, merges and drops labels per source.

    rows: iterable of (source, source_label, target_label); an empty target
        drops the label. An empty or "*" source applies to every source.
    unmapped: what readers do with a label the map does not mention:
        "keep" it under its own name (with a warning), "drop" it, or "error".
    """

    def __init__(self, rows=(), unmapped="keep", file=None):
        if unmapped not in UNMAPPED_POLICIES:
            raise ValueError(f"unmapped must be one of {UNMAPPED_POLICIES}, got {unmapped!r}")
        self.unmapped = unmapped
        self.file = file
        self._map = {}
        self._targets = []
        for line, row in enumerate(rows, 1):
            source, label, target = (str(v).strip() for v in row)
            source = "*" if source in WILDCARD_SOURCES else source
            key = (source, label)
            target = target or None
            if key in self._map and self._map[key] != target:
                raise DatasetError(
                    f"{file or 'label map'}: row {line} maps {source}:{label!r} to {target!r} but an "
                    f"earlier row maps it to {self._map[key]!r}. Keep one row per source label.",
                    file=file, annotation=f"row {line}")
            self._map[key] = target
            if target is not None and target not in self._targets:
                self._targets.append(target)

    @classmethod
    def from_csv(cls, path, unmapped="keep"):
        """Read a `source,source_label,target_label` CSV (header and `#`
        comment lines optional)."""
        rows = []
        with open(path, newline="", encoding="utf-8-sig") as f:
            for line, row in enumerate(csv.reader(f), 1):
                if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                    continue
                cells = [c.split("#")[0] if i == len(row) - 1 else c for i, c in enumerate(row)]
                if tuple(c.strip().lower() for c in cells) == HEADER:
                    continue
                if len(cells) != 3:
                    raise DatasetError(
                        f"{path}: line {line} has {len(cells)} columns; a label map has three: "
                        f"source,source_label,target_label (leave the target empty to drop a label).",
                        file=path, annotation=f"line {line}")
                rows.append(cells)
        return cls(rows, unmapped=unmapped, file=str(path))

    def __len__(self):
        return len(self._map)

    def targets(self):
        """The target class names in the order the sheet first names them."""
        return list(self._targets)

    def lookup(self, source, labels):
        """Map the first of `labels` (a label and its aliases) that the sheet
        names, preferring rows of `source` over wildcard rows.

        Returns: (found, target) - target is None when the label is dropped.
        """
        for key_source in (source, "*"):
            for label in labels:
                key = (key_source, str(label))
                if key in self._map:
                    return True, self._map[key]
        return False, None


def read_label_map(label_map, unmapped="keep"):
    """A LabelMap from a CSV path, a {source_label: target} dict (for every
    source), a list of rows, an existing LabelMap, or None (no map)."""
    if label_map is None or isinstance(label_map, LabelMap):
        return label_map
    if isinstance(label_map, (str, os.PathLike)):
        return LabelMap.from_csv(label_map, unmapped=unmapped)
    if isinstance(label_map, dict):
        return LabelMap([("*", k, v or "") for k, v in label_map.items()], unmapped=unmapped)
    return LabelMap(label_map, unmapped=unmapped)


class ClassSubset:
    """Keep only some classes in detection results.

    class_names: the model's class names, class_names[0] == "BG".
    keep: the names (or internal ids) to keep.
    renumber: when True, class ids in the output index `self.class_names`
        (BG plus the kept classes in the order of `keep`) instead of the
        model's list.
    """

    def __init__(self, class_names, keep, renumber=False):
        self.model_class_names = list(class_names)
        ids = []
        for item in keep:
            if isinstance(item, (int, np.integer)):
                class_id = int(item)
                if not 0 < class_id < len(class_names):
                    raise ValueError(f"class id {class_id} is not a class of the model (1..{len(class_names) - 1})")
            elif item in class_names[1:]:
                class_id = list(class_names).index(item, 1)
            else:
                raise ValueError(f"class {item!r} is not one of the model's classes: {list(class_names[1:])}")
            ids.append(class_id)
        self.keep_ids = np.asarray(ids, dtype=np.int32)
        self.renumber = renumber
        self.class_names = ["BG"] + [class_names[i] for i in ids]

    def __call__(self, result):
        """Filter one result dict of `detect()`: rois [N, 4], class_ids [N],
        scores [N], masks [H, W, N]. Other keys are copied unchanged."""
        class_ids = np.asarray(result["class_ids"])
        keep = np.isin(class_ids, self.keep_ids)
        out = dict(result)
        for key in ("rois", "class_ids", "scores"):
            if key in result:
                out[key] = np.asarray(result[key])[keep]
        if "masks" in result:
            out["masks"] = np.asarray(result["masks"])[..., keep]
        if self.renumber:
            lookup = {int(c): i + 1 for i, c in enumerate(self.keep_ids)}
            out["class_ids"] = np.asarray([lookup[int(c)] for c in out["class_ids"]], dtype=np.int32)
        return out


def filter_detections(result, class_names, keep, renumber=False):
    """Keep the detections of the classes in `keep`; see `ClassSubset`."""
    return ClassSubset(class_names, keep, renumber=renumber)(result)
