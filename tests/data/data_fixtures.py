"""Helpers that write small annotation files in every supported format.

Each writer puts real files in a temporary folder so that tests exercise the
readers end to end; the quirks they can produce are named by their arguments.
"""
import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import skimage.draw
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def shared_data(name):
    """The folder ../shared/data/<name> beside the repository, or skip."""
    folder = SHARED_DATA / name
    if not folder.exists():
        pytest.skip(f"{folder} is absent: the shared reference data sits beside the repository "
                    f"(../shared/data) and is not part of a fresh clone")
    return folder


def write_image(path, height, width, seed=0, fmt=None):
    """A random RGB image of the given size; returns its uint8 [H, W, 3] pixels."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return pixels


def write_placeholder(path, height, width):
    """A cheap flat image of the given size (content does not matter)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (90, 120, 150)).save(path, quality=50)


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def write_png(path, array, palette=False):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.asarray(array)
    if palette:  # palette indices as VOC stores them, not grey values
        img = Image.frombytes("P", (array.shape[1], array.shape[0]), array.astype(np.uint8).tobytes())
        img.putpalette([int(v) for v in np.random.default_rng(1).integers(0, 255, 768)])
    else:
        img = Image.fromarray(array)
    img.save(path)
    return path


def png_base64(array):
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def skimage_polygon(xs, ys, height, width):
    """The reference rasterisation: skimage.draw.polygon(rows=y, cols=x)."""
    mask = np.zeros((height, width), dtype=bool)
    rr, cc = skimage.draw.polygon(ys, xs, shape=(height, width))
    mask[rr, cc] = True
    return mask


# --- VIA -------------------------------------------------------------------

def via_region(shape, label=None, attribute="name", style="string"):
    """A VIA region. style: "string" (text/dropdown/radio) or "checkbox"."""
    attrs = {}
    if label is not None:
        attrs[attribute] = {label: True} if style == "checkbox" else label
    return {"shape_attributes": shape, "region_attributes": attrs}


def via_polygon(xs, ys, name="polygon"):
    return {"name": name, "all_points_x": list(xs), "all_points_y": list(ys)}


def via_project(entries, attributes=None):
    """A VIA 2 project: entries is {filename: [regions]}."""
    metadata = {f"{name}{1000 + i}": {"filename": name, "size": 1000 + i, "regions": regions,
                                      "file_attributes": {}}
                for i, (name, regions) in enumerate(entries.items())}
    return {"_via_settings": {"core": {"default_filepath": ""}}, "_via_img_metadata": metadata,
            "_via_attributes": {"region": attributes or {}, "file": {}}}


def via1_export(entries):
    """A VIA 1.x export: regions as a dict keyed "0", "1", ..."""
    return {f"{name}{1000 + i}": {"fileref": "", "size": 1000 + i, "filename": name, "base64_img_data": "",
                                  "file_attributes": {},
                                  "regions": {str(j): r for j, r in enumerate(regions)}}
            for i, (name, regions) in enumerate(entries.items())}


# --- COCO ------------------------------------------------------------------

def coco_file(images, annotations, categories, licenses=None):
    return {"info": {"description": "test"}, "licenses": licenses if licenses is not None else [],
            "images": images, "annotations": annotations, "categories": categories}


def coco_polygon_ann(ann_id, image_id, category_id, polygon, **extra):
    ann = {"id": ann_id, "image_id": image_id, "category_id": category_id, "iscrowd": 0,
           "segmentation": [polygon], "area": 0, "bbox": [0, 0, 0, 0]}
    ann.update(extra)
    return ann


# --- LabelMe ---------------------------------------------------------------

def labelme_shape(label, points, shape_type="polygon", group_id=None):
    return {"label": label, "points": [list(map(float, p)) for p in points], "group_id": group_id,
            "shape_type": shape_type, "flags": {}}


def labelme_file(shapes, image_path, height, width, image_data=None):
    return {"version": "5.2.1", "flags": {}, "shapes": shapes, "imagePath": image_path,
            "imageData": image_data, "imageHeight": height, "imageWidth": width}


# --- VOC -------------------------------------------------------------------

def write_voc(root, images, split=None):
    """images: {name: (object_ids [H, W], class_ids [H, W])}, uint8, 255 = void."""
    root = Path(root)
    for i, (name, (objects, classes)) in enumerate(images.items()):
        height, width = objects.shape
        write_image(root / "JPEGImages" / f"{name}.jpg", height, width, seed=i)
        write_png(root / "SegmentationObject" / f"{name}.png", objects.astype(np.uint8), palette=True)
        write_png(root / "SegmentationClass" / f"{name}.png", classes.astype(np.uint8), palette=True)
    for split_name, names in (split or {}).items():
        path = root / "ImageSets" / "Segmentation" / f"{split_name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{n}\n" for n in names))
    return root


# --- Open Images -------------------------------------------------------------

OPENIMAGES_HEADER = "MaskPath,ImageID,LabelName,BoxID,BoxXMin,BoxXMax,BoxYMin,BoxYMax,PredictedIoU,Clicks"
