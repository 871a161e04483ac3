"""Mask folders: one folder per image with `images/<id>.png` and one binary
PNG per instance in `masks/` (the Data Science Bowl nucleus layout).

    root/<image id>/images/<image id>.png
    root/<image id>/masks/<instance>.png     0 = background, non-zero = object

All instances have one class, or the class comes from the mask file name
through a regular expression (`class_pattern=r"^(?P<class>[a-z]+)_"`).
"""
import os
import re

from mrcnn.data.annotated import AnnotatedDataset
from mrcnn.data.builder import DatasetBuilder
from mrcnn.data.errors import FormatError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
DEFAULT_CLASS = "object"


def is_mask_folder(folder):
    """True when `folder` has images/ and masks/ sub-folders."""
    return os.path.isdir(os.path.join(folder, "images")) and os.path.isdir(os.path.join(folder, "masks"))


def find_mask_folders_root(path):
    """The folder whose sub-folders are mask folders: `path` itself or one of
    its sub-folders (nucleus/ holds stage1_train/); None when there is none."""
    def has_mask_folders(folder):
        return any(is_mask_folder(os.path.join(folder, d)) for d in _subfolders(folder))

    if not os.path.isdir(path):
        return None
    if has_mask_folders(path):
        return path
    for sub in _subfolders(path):
        if has_mask_folders(os.path.join(path, sub)):
            return os.path.join(path, sub)
    return None


def _subfolders(folder):
    return sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))


def _files(folder, extensions):
    return sorted(n for n in os.listdir(folder)
                  if n.lower().endswith(extensions) and not n.startswith("."))


class MaskFoldersDataset(AnnotatedDataset):
    """Images with one mask PNG per instance, one folder per image."""

    def load_mask_folders(self, root, class_name=None, class_pattern=None, source="masks", **options):
        """Add the images below `root` (or below its only data sub-folder).

        class_name: the one class ("object" when not given).
        class_pattern: a regular expression searched in each mask file name;
            its group "class" (or its first group) is the class. Masks that
            do not match are skipped and counted.
        options: label_map, classes, image_list, missing_images, unmapped.
        Returns: the number of images added.
        """
        found = find_mask_folders_root(str(root))
        if found is None:
            raise FormatError(f"{root}: no <image>/images/ + <image>/masks/ sub-folders found.",
                              file=str(root))
        pattern = re.compile(class_pattern) if class_pattern else None
        single = class_name or DEFAULT_CLASS
        builder = DatasetBuilder(self, source, found, **options)
        for name in _subfolders(found):
            folder = os.path.join(found, name)
            if not is_mask_folder(folder) or not builder.selected(name):
                continue
            images = _files(os.path.join(folder, "images"), IMAGE_EXTENSIONS)
            if len(images) != 1:
                builder.skip("missing_image" if not images else "invalid_annotation", folder, "images/",
                             f"{len(images)} image files in images/; one is expected")
                continue
            image_path = os.path.join(folder, "images", images[0])
            size = builder.size_of(image_path, folder, images[0])
            if size is None:
                continue
            height, width = size
            instances = []
            for mask_name in _files(os.path.join(folder, "masks"), IMAGE_EXTENSIONS):
                label = single
                if pattern is not None:
                    match = pattern.search(mask_name)
                    if match is None:
                        builder.skip("unlabelled_region", folder, f"masks/{mask_name}",
                                     f"the file name does not match class_pattern {class_pattern!r}; skipped")
                        continue
                    label = match.groupdict().get("class") or match.group(1 if match.groups() else 0)
                shape = {"kind": "file", "path": os.path.join(folder, "masks", mask_name), "value": None}
                instances.append(builder.instance(label, shape, f"masks/{mask_name}"))
            builder.add_image(name, image_path, height, width, instances, file=folder)
        declared = None if pattern is not None else [(None, single)]
        return builder.finish(declared)
