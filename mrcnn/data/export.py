"""Any Dataset to a COCO instances JSON that pycocotools reads.

    export_coco(read_dataset("via_region_data.json"), "instances.json")

Masks are written as compressed RLE (exact) or as polygons traced around
them (`mode="polygon"`, smaller and editable but approximate: holes are
filled and borders move by up to half a pixel), or as polygons except for
masks with holes, which stay RLE (`mode="auto"`). Crowd regions are written
with iscrowd=1. Ids follow the evaluator's convention: a COCO image id is
the internal Dataset image id, a category id the internal class id.
"""
import os

import numpy as np

from mrcnn.data.jsonfile import write_json
from mrcnn.outlines import coco_polygons, mask_outlines, signed_area

MODES = ("rle", "polygon", "auto")
# Outline simplification of mode "auto" (pixels): at 0.25, pycocotools draws
# the polygons back to the traced mask; 0.5 cuts a pixel off some corners.
AUTO_TOLERANCE = 0.25


def encode_rle(mask):
    """bool [H, W] -> COCO compressed RLE with "counts" as str (JSON-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def has_hole(mask):
    """True when a bool [H, W] mask has a hole (COCO polygons would fill it)."""
    return any(signed_area(outline) < 0 for outline in mask_outlines(mask))


def image_root_of(dataset, image_ids, out_path=None):
    """The folder image file names are made relative to: `out_path`'s folder
    when every image is below it, else the images' common folder; None
    when no image has a file."""
    paths = [dataset.image_info[i].get("path") for i in image_ids]
    paths = [os.path.abspath(p) for p in paths if p]
    if not paths:
        return None
    out_dir = os.path.dirname(os.path.abspath(out_path)) if out_path else None
    if out_dir and all(p.startswith(out_dir + os.sep) for p in paths):
        return out_dir
    return os.path.commonpath([os.path.dirname(p) for p in paths])


def relative_file_name(info, image_root, image_id):
    """An image's path relative to `image_root`, with `/` (its id + .jpg without a file)."""
    path = info.get("path")
    if not path:
        return f"{image_id}.jpg"
    if image_root is None:
        return os.path.basename(path)
    return os.path.relpath(os.path.abspath(path), image_root).replace(os.sep, "/")


def to_coco_dict(dataset, mode="rle", image_ids=None, image_root=None, include_crowd=True, out_path=None):
    """The COCO instances dict of a prepared Dataset.

    mode: "rle" (exact), "polygon" (traced outlines) or "auto" (polygons,
        RLE for masks with a hole or too small to trace).
    image_ids: internal image ids to export; default all.
    image_root: the folder `file_name` is made relative to; default: the
        output file's folder when every image is below it, else the common
        folder of all images.
    include_crowd: write `image_info[i]["crowd"]` regions with iscrowd=1.
    Returns: (dict, image_root). Empty masks are left out.
    """
    from pycocotools import mask as mask_utils

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not hasattr(dataset, "class_names"):
        raise ValueError("export_coco needs a prepared dataset: call dataset.prepare() first")
    image_ids = [int(i) for i in (dataset.image_ids if image_ids is None else image_ids)]
    if image_root is None:
        image_root = image_root_of(dataset, image_ids, out_path)
    images, annotations = [], []

    def add(image_id, segmentation, rle, class_id, iscrowd):
        annotations.append({
            "id": len(annotations) + 1,  # COCOeval reads id 0 as "unmatched"
            "image_id": image_id, "category_id": int(class_id), "segmentation": segmentation,
            "area": float(mask_utils.area(rle)),
            "bbox": [float(v) for v in mask_utils.toBbox(rle)], "iscrowd": iscrowd})

    for image_id in image_ids:
        info = dataset.image_info[image_id]
        masks, class_ids = dataset.load_mask(image_id)
        height, width = masks.shape[:2]
        images.append({"id": image_id, "file_name": relative_file_name(info, image_root, image_id),
                       "height": int(height), "width": int(width)})
        for i in range(masks.shape[-1]):
            mask = masks[..., i]
            if not mask.any():
                continue
            rle = encode_rle(mask)
            polygons = None if mode == "rle" else coco_polygons(
                mask, AUTO_TOLERANCE if mode == "auto" else 0.5)
            if mode == "auto" and (not polygons or has_hole(mask)):
                polygons = None
            if polygons is None:
                add(image_id, rle, rle, class_ids[i], 0)
            elif polygons:
                poly_rle = mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
                add(image_id, polygons, poly_rle, class_ids[i], 0)
        for region in (info.get("crowd") or []) if include_crowd else []:
            seg = region["segmentation"]
            if isinstance(seg, list):
                rle = mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
            elif isinstance(seg.get("counts"), list):
                rle = mask_utils.frPyObjects(seg, height, width)
            else:
                rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")
                       if isinstance(seg["counts"], str) else seg["counts"]}
            add(image_id, seg, rle, region["class_id"], 1)

    categories = [{"id": class_id, "name": str(name), "supercategory": ""}
                  for class_id, name in enumerate(dataset.class_names) if class_id > 0]
    data = {"info": {"description": "exported by mrcnn.data.export_coco"}, "licenses": [],
            "images": images, "annotations": annotations, "categories": categories}
    return data, image_root


def export_coco(dataset, path, mode="rle", image_ids=None, image_root=None, include_crowd=True, indent=None):
    """Write a prepared Dataset as a COCO instances JSON at `path`.

    See `to_coco_dict` for the arguments. Read the result back with
    `read_dataset(path, image_dir=<the returned image root>)`.
    Returns: the image root that `file_name`s are relative to.
    """
    data, image_root = to_coco_dict(dataset, mode=mode, image_ids=image_ids, image_root=image_root,
                                    include_crowd=include_crowd, out_path=path)
    write_json(data, path, indent=indent)
    return image_root
