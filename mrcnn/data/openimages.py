"""Open Images segmentation: the masks CSV plus per-instance mask PNGs.

    <split>-annotations-object-segmentation.csv
        MaskPath,ImageID,LabelName,BoxID,BoxXMin,BoxXMax,BoxYMin,BoxYMax,PredictedIoU,Clicks
    class-descriptions(-boxable).csv      /m/0xxxx,Display Name (header optional)
    <image dir>/<ImageID>.jpg
    <mask dir>/<MaskPath>                 (possibly in sub-folders such as train-masks-f/)

Mask PNGs are smaller than their images and are resized (nearest neighbour)
when `load_mask` reads them. `classes` restricts the dataset to a few classes
(by display name or `/m/` id) and only images with such instances are kept,
as in the pumpkins sample.
"""
import csv
import glob
import os

from mrcnn.data.annotated import AnnotatedDataset
from mrcnn.data.builder import DatasetBuilder
from mrcnn.data.errors import DatasetError, FormatError
from mrcnn.data.paths import safe_join

MASK_COLUMNS = ("MaskPath", "ImageID", "LabelName")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def is_openimages_csv(path):
    """True when a CSV's header has the masks CSV columns."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError):
        return False
    return all(c in header for c in MASK_COLUMNS)


def read_class_descriptions(path):
    """{"/m/...": "Display Name"} from a class descriptions CSV."""
    names = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.reader(f):
            if len(row) >= 2 and row[0] != "LabelName":
                names[row[0].strip()] = row[1].strip()
    return names


def find_class_descriptions(folder):
    found = sorted(glob.glob(os.path.join(glob.escape(folder), "*class-descriptions*.csv")))
    return found[0] if found else None


def _default_dir(folder, sub, extensions):
    # Downloads put images and masks beside the CSV or in a sub-folder.
    candidate = os.path.join(folder, sub)
    if os.path.isdir(candidate) and not any(n.lower().endswith(extensions) for n in os.listdir(folder)):
        return candidate
    return folder


class OpenImagesDataset(AnnotatedDataset):
    """Instances of an Open Images segmentation masks CSV."""

    def load_openimages(self, masks_csv, image_dir=None, mask_dir=None, class_descriptions=None,
                        classes=None, source="openimages", **options):
        """Add the images of an Open Images masks CSV.

        image_dir: where `<ImageID>.jpg` are; default: the CSV's folder or its
            images/ sub-folder.
        mask_dir: where the mask PNGs are (searched recursively when not
            directly inside); default: the CSV's folder or its masks/ sub-folder.
        class_descriptions: the class descriptions CSV; default: a
            `*class-descriptions*.csv` beside the masks CSV. Without one,
            classes are named by their `/m/` ids.
        classes: names or `/m/` ids to keep, in this order; None keeps all.
        options: label_map, image_list, missing_images, unmapped.
        Returns: the number of images added.
        """
        file = str(masks_csv)
        if not is_openimages_csv(file):
            raise FormatError(f"{file}: not an Open Images masks CSV (the header needs "
                              f"{', '.join(MASK_COLUMNS)}).", file=file)
        folder = os.path.dirname(os.path.abspath(file))
        image_dir = image_dir if image_dir is not None else _default_dir(folder, "images", IMAGE_EXTENSIONS)
        mask_dir = mask_dir if mask_dir is not None else _default_dir(folder, "masks", (".png",))
        class_descriptions = class_descriptions or find_class_descriptions(folder)
        names = read_class_descriptions(class_descriptions) if class_descriptions else {}
        wanted = None
        if classes is not None:
            by_name = {v: k for k, v in names.items()}
            wanted = {by_name.get(c, c) for c in classes}
        builder = DatasetBuilder(self, source, file, classes=classes, **options)
        rows = self._openimages_rows(builder, file, wanted)
        mask_index = _MaskIndex(mask_dir, file)
        for image_id, image_rows in rows.items():
            if not builder.selected(image_id):
                continue
            image_path = self._openimages_image(image_dir, image_id, file)
            if not builder.image_present(image_path, file, f"image {image_id}"):
                continue
            size = builder.size_of(image_path, file, f"image {image_id}")
            if size is None:
                continue
            height, width = size
            instances = []
            for line, row in image_rows:
                ref = f"line {line} ({row['MaskPath']})"
                mask_path = mask_index.find(row["MaskPath"], ref)
                if mask_path is None:
                    builder.skip("invalid_annotation", file, ref, f"mask file {row['MaskPath']} not found "
                                 f"in {mask_dir}; skipped")
                    continue
                shape = {"kind": "file", "path": mask_path, "value": None, "resize": True}
                mid = row["LabelName"]
                instances.append(builder.instance(names.get(mid, mid), shape, ref, aliases=[mid],
                                                  box_id=row.get("BoxID")))
            builder.add_image(image_id, image_path, height, width, instances, file=file)
        declared = [(None, names.get(m, m)) for m in dict.fromkeys(
            m for image_rows in rows.values() for _, r in image_rows for m in [r["LabelName"]])]
        return builder.finish(sorted(declared, key=lambda d: d[1]))

    @staticmethod
    def _openimages_rows(builder, file, wanted):
        rows, seen = {}, set()
        with open(file, newline="", encoding="utf-8-sig") as f:
            for line, row in enumerate(csv.DictReader(f), 2):
                if wanted is not None and row.get("LabelName") not in wanted:
                    continue
                if not row.get("MaskPath") or not row.get("ImageID") or not row.get("LabelName"):
                    builder.skip("invalid_annotation", file, f"line {line}", "MaskPath, ImageID or "
                                 "LabelName is empty; skipped")
                    continue
                if row["MaskPath"] in seen:
                    builder.skip("duplicate_id", file, f"line {line}", f"mask {row['MaskPath']} is "
                                 "listed twice; the later row is skipped")
                    continue
                seen.add(row["MaskPath"])
                rows.setdefault(row["ImageID"], []).append((line, row))
        return rows

    @staticmethod
    def _openimages_image(image_dir, image_id, file):
        for ext in IMAGE_EXTENSIONS:
            path = safe_join(image_dir, image_id + ext, file=file, annotation=f"image {image_id}")
            if os.path.isfile(path):
                return path
        return safe_join(image_dir, image_id + ".jpg", file=file, annotation=f"image {image_id}")


class _MaskIndex:
    """Finds mask files directly in the mask folder, or anywhere below it
    (the downloads split masks into train-masks-0 ... train-masks-f)."""

    def __init__(self, mask_dir, file):
        self.mask_dir = mask_dir
        self.file = file
        self._index = None

    def find(self, mask_path, ref):
        path = safe_join(self.mask_dir, mask_path, file=self.file, annotation=ref)
        if os.path.isfile(path):
            return path
        if self._index is None:
            self._index = {}
            if not os.path.isdir(self.mask_dir):
                raise DatasetError(f"{self.file}: the mask folder {self.mask_dir} does not exist; "
                                   f"pass mask_dir=...", kind="missing_image", file=self.file)
            for dirpath, _, filenames in os.walk(self.mask_dir):
                for name in filenames:
                    self._index.setdefault(name, os.path.join(dirpath, name))
        return self._index.get(os.path.basename(mask_path))
