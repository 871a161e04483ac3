"""Reading and writing annotation JSON files with messages that name the file."""
import json
import os
import tempfile

from mrcnn.data.errors import DatasetError


def load_json(path):
    """Parse a JSON file; a syntax error names the file, line and column."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON at line {e.lineno} column {e.colno} ({e.msg}). "
                           f"Was the export interrupted? Export the annotations again.",
                           kind="invalid_annotation", file=str(path)) from e
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: not a UTF-8 text file ({e}).", kind="invalid_annotation",
                           file=str(path)) from e


def write_json(data, path, indent=None):
    """Write JSON atomically: a reader never sees half a file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=indent)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def annotation_json(annotation_file, image_dir=None, data=None, kind="annotation"):
    """An annotation file given as a path or as an already parsed dict.

    Returns (parsed data, the name to use in messages, the image folder);
    the image folder defaults to the file's folder and is required for a dict.
    """
    if isinstance(annotation_file, dict):
        if image_dir is None:
            raise ValueError(f"image_dir is required when the {kind} file is given as a dict")
        return annotation_file, f"<{kind} dict>", image_dir
    file = str(annotation_file)
    data = load_json(file) if data is None else data
    return data, file, image_dir if image_dir is not None else os.path.dirname(os.path.abspath(file))
