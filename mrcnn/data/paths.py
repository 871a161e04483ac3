"""Joining paths found in annotation files to the dataset folder, safely.

Annotation files come from other people. A path in one must not make a reader
open a file outside the dataset folder: absolute paths, drive letters, URLs
and `..` that climb out of the folder are refused with `UnsafePathError`.
"""
import os
import re

from mrcnn.data.errors import UnsafePathError

_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[\\/]+")


def path_parts(relative):
    """Split an annotation path on `/` and `\\` (Windows exports), dropping
    empty parts (COCO files from some tools write `folder//name.jpg`) and `.`.

    Returns: list of str.
    """
    return [part for part in _SEPARATORS.split(str(relative)) if part not in ("", ".")]


def is_inside(path, root):
    """True when `path` is `root` or below it, comparing normalised absolute paths."""
    path = os.path.normpath(os.path.abspath(path))
    root = os.path.normpath(os.path.abspath(root))
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def safe_join(base, relative, root=None, file=None, annotation=None):
    """Join `relative` (a path written in an annotation file) to `base`.

    base: the folder the path is relative to (the image folder, or the folder
        of the annotation file for LabelMe).
    root: the dataset folder the result must stay inside; defaults to `base`.
    file, annotation: where the path was read, for the error message.

    Returns: str, the joined path. Raises `UnsafePathError` for an empty path,
    an absolute path, a URL, or `..` parts leading out of `root`.
    """
    text = "" if relative is None else str(relative)
    root = base if root is None else root
    where = _where(file, annotation)

    def refuse(reason):
        raise UnsafePathError(
            f"{where}image path {text!r} {reason}. Image paths in annotation files must be "
            f"relative to the dataset folder {root!r}; fix the annotation file or move the "
            f"images there (pass image_dir=... when they sit in another folder).",
            file=file, annotation=annotation)

    if not text.strip():
        refuse("is empty")
    if "://" in text or text.startswith("data:"):
        refuse("is a URL")
    if text.startswith(("/", "\\", "~")) or _DRIVE.match(text):
        refuse("is absolute")
    parts = path_parts(text)
    joined = os.path.normpath(os.path.join(base, *parts))
    if not is_inside(joined, root):
        refuse("leads outside the dataset folder")
    return joined


def _where(file, annotation):
    parts = [str(p) for p in (file, annotation) if p not in (None, "")]
    return (": ".join(parts) + ": ") if parts else ""
