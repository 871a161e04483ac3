"""PASCAL VOC segmentation: `SegmentationObject` + `SegmentationClass` PNGs.

`SegmentationObject/<id>.png` numbers the instances of an image (1, 2, ...),
`SegmentationClass/<id>.png` gives each pixel's class; 0 is background and 255
the "void" border that VOC leaves out of scoring (left out of the masks here).
Palette PNGs (the VOC release) and RGB PNGs (CVAT's VOC export, with the
colours in `labelmap.txt`) both work. Instances are found when `load_mask`
reads the PNGs, so reading a VOC folder opens no image.
"""
import os

import numpy as np

from mrcnn.data.annotated import AnnotatedDataset
from mrcnn.data.builder import DatasetBuilder
from mrcnn.data.errors import DatasetError, FormatError
from mrcnn.data.image_files import read_label_png
from mrcnn.data.paths import safe_join

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor")
VOID = 255
VOID_RGB = (224, 224, 192)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def find_voc_root(path):
    """The folder holding SegmentationObject/ (path itself, or VOC2012/,
    VOCdevkit/VOC20xx/ below it), or None."""
    candidates = [path]
    for sub in sorted(os.listdir(path)) if os.path.isdir(path) else []:
        candidates.append(os.path.join(path, sub))
        if os.path.isdir(candidates[-1]):
            candidates += [os.path.join(candidates[-1], s) for s in sorted(os.listdir(candidates[-1]))]
    for candidate in candidates:
        if os.path.isdir(os.path.join(candidate, "SegmentationObject")):
            return candidate
    return None


def read_labelmap_txt(path):
    """CVAT's labelmap.txt (`name:r,g,b::`) -> [(name, (r, g, b))], background first."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, colour = line.split(":")[:2]
            entries.append((name.strip(), tuple(int(c) for c in colour.split(","))))
    return entries


class VOCDataset(AnnotatedDataset):
    """Instances of a PASCAL VOC (or VOC-format export) segmentation folder."""

    def load_voc(self, root, split=None, class_names=None, image_dir=None, source="voc", **options):
        """Add the images of a VOC folder.

        root: the folder with SegmentationObject/, SegmentationClass/ and
            JPEGImages/ (or one that contains VOC2012/ or VOCdevkit/VOC2012/).
        split: "train", "val", ... reads ImageSets/Segmentation/<split>.txt;
            None: every image with a SegmentationObject PNG.
        class_names: the names of class values 1, 2, ...; default: the 20
            VOC classes, or the names in labelmap.txt when present.
        options: label_map, classes, image_list, missing_images, unmapped.
        Returns: the number of images added.
        """
        found = find_voc_root(str(root))
        if found is None:
            raise FormatError(f"{root}: no SegmentationObject/ folder; a VOC segmentation dataset "
                              f"needs SegmentationObject/ and SegmentationClass/.", file=str(root))
        root = found
        self._voc_colours = None
        labelmap = os.path.join(root, "labelmap.txt")
        if class_names is None and os.path.isfile(labelmap):
            entries = [e for e in read_labelmap_txt(labelmap) if e[0] != "background"]
            class_names = [name for name, _ in entries]
            self._voc_colours = {colour: i + 1 for i, (_, colour) in enumerate(entries)}
        class_names = list(class_names or VOC_CLASSES)
        image_dir = image_dir if image_dir is not None else os.path.join(root, "JPEGImages")
        builder = DatasetBuilder(self, source, root, **options)
        for name in self._voc_ids(root, split):
            if not builder.selected(name):
                continue
            object_png = safe_join(os.path.join(root, "SegmentationObject"), name + ".png", file=root)
            class_png = safe_join(os.path.join(root, "SegmentationClass"), name + ".png", file=root)
            image_path = self._voc_image(image_dir, name, root)
            if not builder.image_present(image_path, root, name):
                continue
            if not os.path.isfile(object_png) or not os.path.isfile(class_png):
                builder.skip("invalid_annotation", root, name,
                             "SegmentationObject or SegmentationClass PNG is missing; skipped")
                continue
            size = builder.size_of(image_path, root, name)
            if size is None:
                continue
            height, width = size
            builder.add_image(name, image_path, height, width, instances=None, file=object_png,
                              object_png=object_png, class_png=class_png)
        builder.finish([(None, n) for n in class_names], instances_known=False)
        # value in SegmentationClass -> source class id (None: dropped)
        self._voc_class_ids = {value: builder.resolve(name) for value, name in enumerate(class_names, 1)}
        self._voc_class_names = class_names
        return len([i for i in self.image_info if i["source"] == source])

    @staticmethod
    def _voc_ids(root, split):
        if split is not None:
            list_file = os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
            if not os.path.isfile(list_file):
                raise FormatError(f"{list_file}: no such split file; splits are the .txt files "
                                  f"in ImageSets/Segmentation/.", file=list_file)
            with open(list_file, encoding="utf-8") as f:
                return [line.split()[0] for line in f if line.strip()]
        folder = os.path.join(root, "SegmentationObject")
        return sorted(os.path.splitext(n)[0] for n in os.listdir(folder) if n.lower().endswith(".png"))

    @staticmethod
    def _voc_image(image_dir, name, root):
        for ext in IMAGE_EXTENSIONS:
            path = safe_join(image_dir, name + ext, file=root)
            if os.path.isfile(path):
                return path
        return safe_join(image_dir, name + ".jpg", file=root)

    def load_mask(self, image_id):
        """Instances of a VOC image: one mask per value of SegmentationObject
        (void pixels excluded), its class the most frequent class value under it.

        Returns: masks bool [H, W, N], class_ids int32 [N] (internal ids).
        """
        info = self.image_info[image_id]
        if info.get("object_png") is None:
            return super().load_mask(image_id)
        objects = _as_indices(read_label_png(info["object_png"]), void_rgb=VOID_RGB)
        classes = _as_indices(read_label_png(info["class_png"]), colours=self._voc_colours, void_rgb=VOID_RGB)
        height, width = self.image_size(image_id)
        for png, array in ((info["object_png"], objects), (info["class_png"], classes)):
            if array.shape != (height, width):
                raise DatasetError(f"{png}: the PNG is {array.shape[1]}x{array.shape[0]} but the image is "
                                   f"{width}x{height}.", kind="size_mismatch", file=png)
        masks, class_ids = [], []
        for value in np.unique(objects):
            if value in (0, VOID):
                continue
            mask = objects == value
            values = classes[mask]
            values = values[(values != 0) & (values != VOID)]
            if values.size == 0:
                continue  # an instance without a class has nothing to learn from
            source_id = self._voc_class_ids.get(int(np.bincount(values).argmax()))
            if source_id is None:
                continue
            masks.append(mask)
            class_ids.append(self.map_source_class_id(f"{info['source']}.{source_id}"))
        stacked = np.stack(masks, axis=-1) if masks else np.zeros((height, width, 0), dtype=bool)
        return stacked, np.array(class_ids, dtype=np.int32)


def _as_indices(values, colours=None, void_rgb=VOID_RGB):
    """Palette or grey PNG values as they are; RGB PNGs turned into indices:
    by `colours` ({(r, g, b): index}) when given, else one index per colour
    (instance PNGs). Black is 0 and the VOC void colour 255."""
    if values.ndim == 2:
        return values.astype(np.int64)
    flat = values.reshape(-1, 3)
    unique, inverse = np.unique(flat, axis=0, return_inverse=True)
    lookup = np.zeros(len(unique), dtype=np.int64)
    next_index = 1
    for i, colour in enumerate(map(tuple, unique)):
        if colour == (0, 0, 0):
            lookup[i] = 0
        elif colour == tuple(void_rgb):
            lookup[i] = VOID
        elif colours is not None:
            lookup[i] = colours.get(colour, 0)
        else:
            lookup[i] = next_index
            next_index += 1 + (next_index + 1 == VOID)
    return lookup[inverse.reshape(-1)].reshape(values.shape[:2])
