"""A deterministic train/val split of an annotation file, stratified by class.

    mrcnn split via_region_data.json --val 0.2 --seed 0
      -> via_region_data_train.json, via_region_data_val.json

COCO and VIA files are split into two files of the same format (everything
but the image list is kept); an Open Images CSV into two CSVs; folder
formats (LabelMe, VOC, mask folders) into train.txt / val.txt image lists
that `read_dataset(..., image_list="train.txt")` reads. No image is copied.
"""
import csv
import dataclasses
import math
import os
from collections import Counter

import numpy as np

from mrcnn.data.jsonfile import load_json, write_json
from mrcnn.data.read import annotation_file_of, detect_format, format_name, read_dataset

NEGATIVE = ""  # the stratum of images without instances


def stratified_split(image_labels, val=0.2, seed=0):
    """Split images so that each class is in both parts where possible.

    image_labels: one collection of class names per image.
    val: the fraction of images for validation, 0 <= val < 1.
    Returns: (train indices, val indices), sorted lists of int.

    Each image joins the stratum of its rarest class (by instance count over
    the dataset); each stratum gives its share to validation, with at least
    one image each way when it has two or more, and the rounding spread so
    that the total is round(N * val). The same input and seed give the same
    split.
    """
    if not 0 <= val < 1:
        raise ValueError(f"val must be in [0, 1), got {val}")
    labels = [sorted({str(label) for label in image}) for image in image_labels]
    frequency = Counter(label for image in labels for label in image)
    strata = {}
    for index, image in enumerate(labels):
        key = min(image, key=lambda label: (frequency[label], label)) if image else NEGATIVE
        strata.setdefault(key, []).append(index)
    keys = sorted(strata)
    counts = _stratum_counts([len(strata[k]) for k in keys], val, len(labels))
    rng = np.random.default_rng(seed)
    train, valid = [], []
    for key, n_val in zip(keys, counts):
        members = strata[key]
        order = rng.permutation(len(members))
        valid += [members[i] for i in order[:n_val]]
        train += [members[i] for i in order[n_val:]]
    return sorted(train), sorted(valid)


def _stratum_counts(sizes, val, total):
    ideal = [n * val for n in sizes]
    low = [1 if n >= 2 and val > 0 else 0 for n in sizes]
    high = [n - 1 if n >= 2 else n for n in sizes]
    counts = [min(max(math.floor(x), lo), hi) for x, lo, hi in zip(ideal, low, high)]
    target = int(math.floor(total * val + 0.5))
    # hand out (or take back) the rounding, largest fractional parts first
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(ideal[i] - counts[i]), i))
    for i in by_remainder:
        if sum(counts) >= target:
            break
        if counts[i] < high[i]:
            counts[i] += 1
    for i in reversed(by_remainder):
        if sum(counts) <= target:
            break
        if counts[i] > low[i]:
            counts[i] -= 1
    return counts


@dataclasses.dataclass
class SplitResult:
    """The written files and what each part holds."""

    paths: dict        # part name -> written file
    image_keys: dict   # part name -> image keys as the annotation file names them
    class_counts: dict  # part name -> Counter of instances per class

    def to_text(self):
        names = list(self.paths)
        classes = sorted(set().union(*(self.class_counts[n] for n in names)))
        lines = [f"{name}: {len(self.image_keys[name])} images -> {self.paths[name]}" for name in names]
        width = max([len(c) for c in classes] + [5])
        lines.append("class".ljust(width) + "".join(f"{n:>10s}" for n in names))
        for c in classes:
            lines.append(c.ljust(width) + "".join(f"{self.class_counts[n][c]:10d}" for n in names))
        return "\n".join(lines)


def split_annotations(path, val=0.2, seed=0, out_dir=None, format=None, names=("train", "val"), **options):
    """Split an annotation file (or dataset folder) into train and val parts.

    path: a COCO or VIA JSON, an Open Images masks CSV, or a LabelMe, VOC or
        mask folders dataset.
    val: fraction of images for validation; seed: the random seed.
    out_dir: where to write; default: beside the annotation file (so that
        relative image paths stay valid) or in the dataset folder.
    options: reader options (class_attribute, label_map, ...).
    Returns: a SplitResult.
    """
    path = os.fspath(path)
    if format is None:
        format, _ = detect_format(path)
    dataset = read_dataset(path, format=format, missing_images="keep", require_images=False, **options)
    fmt = format_name(dataset)
    keys, labels = _image_keys_and_labels(dataset, fmt)
    parts = dict(zip(names, stratified_split(labels, val=val, seed=seed)))
    chosen = {name: [keys[i] for i in indices] for name, indices in parts.items()}
    counts = {name: Counter(label for i in indices for label in labels[i] if label)
              for name, indices in parts.items()}
    writer = {"coco": _write_coco, "via": _write_via, "openimages": _write_openimages}.get(fmt, _write_list)
    source_file = _source_file(path, fmt)
    folder = out_dir or (os.path.dirname(os.path.abspath(source_file)) if os.path.isfile(source_file)
                         else source_file)
    os.makedirs(folder, exist_ok=True)
    written = {name: writer(source_file, chosen[name], _output_path(source_file, folder, name, fmt))
               for name in names}
    return SplitResult(written, chosen, counts)


def _image_keys_and_labels(dataset, fmt):
    keys, labels = [], []
    for image_id in dataset.image_ids:
        info = dataset.image_info[image_id]
        keys.append(info.get("via_key", info["id"]) if fmt == "via" else info["id"])
        if info.get("instances") is None:  # VOC: instances are in the PNGs
            _, class_ids = dataset.load_mask(image_id)
            labels.append([dataset.class_names[c] for c in class_ids])
        else:
            labels.append([r.get("class_name", r["label"]) for r in info["instances"]])
    return keys, labels


def _source_file(path, fmt):
    return annotation_file_of(fmt, path)


def _output_path(source_file, folder, name, fmt):
    if fmt in ("coco", "via", "openimages"):
        stem, ext = os.path.splitext(os.path.basename(source_file))
        return os.path.join(folder, f"{stem}_{name}{ext}")
    return os.path.join(folder, f"{name}.txt")


def _write_coco(source_file, keys, out):
    data = load_json(source_file)
    wanted = set(keys)
    subset = dict(data)
    subset["images"] = [image for image in data["images"] if image.get("id") in wanted]
    subset["annotations"] = [a for a in data.get("annotations") or [] if a.get("image_id") in wanted]
    return write_json(subset, out)


def _write_via(source_file, keys, out):
    data = load_json(source_file)
    wanted = set(keys)
    if "_via_img_metadata" in data:
        subset = dict(data)
        subset["_via_img_metadata"] = {k: v for k, v in data["_via_img_metadata"].items() if k in wanted}
        if "_via_image_id_list" in data:
            subset["_via_image_id_list"] = [k for k in data["_via_image_id_list"] if k in wanted]
    else:
        subset = {k: v for k, v in data.items() if k in wanted or k.startswith("_via")}
    return write_json(subset, out)


def _write_openimages(source_file, keys, out):
    wanted = set(keys)
    with open(source_file, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        rows = [row for row in reader if row["ImageID"] in wanted]
        fields = reader.fieldnames
    tmp = out + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)
    return out


def _write_list(source_file, keys, out):
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(f"{key}\n" for key in keys)
    os.replace(tmp, out)
    return out
