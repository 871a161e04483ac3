"""Any Dataset to a COCO instances JSON that pycocotools reads.

    export_coco(read_dataset("via_region_data.json"), "instances.json")

Masks are written as compressed RLE (exact) or as polygons traced around
them (`mode="polygon"`, smaller and editable but approximate: holes are
filled and borders move by up to half a pixel). Crowd regions are written
with iscrowd=1. Ids follow the evaluator's convention: a COCO image id is
the internal Dataset image id, a category id the internal class id.
"""
import os

import numpy as np

from mrcnn.data.jsonfile import write_json
from mrcnn.outlines import coco_polygons

MODES = ("rle", "polygon")


def encode_rle(mask):
    """bool [H, W] -> COCO compressed RLE with "counts" as str (JSON-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _image_root(dataset, image_ids, out_path):
    paths = [dataset.image_info[i].get("path") for i in image_ids]
    paths = [os.path.abspath(p) for p in paths if p]
    if not paths:
        return None
    out_dir = os.path.dirname(os.path.abspath(out_path)) if out_path else None
    if out_dir and all(p.startswith(out_dir + os.sep) for p in paths):
        return out_dir
    return os.path.commonpath([os.path.dirname(p) for p in paths])


def _file_name(info, image_root, image_id):
    path = info.get("path")
    if not path:
        return f"{image_id}.jpg"
    if image_root is None:
        return os.path.basename(path)
    return os.path.relpath(os.path.abspath(path), image_root).replace(os.sep, "/")


def to_coco_dict(dataset, mode="rle", image_ids=None, image_root=None, include_crowd=True, out_path=None):
    """The COCO instances dict of a prepared Dataset.

    mode: "rle" (exact) or "polygon" (traced outlines).
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
        image_root = _image_root(dataset, image_ids, out_path)
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
        images.append({"id": image_id, "file_name": _file_name(info, image_root, image_id),
                       "height": int(height), "width": int(width)})
        for i in range(masks.shape[-1]):
            mask = masks[..., i]
            if not mask.any():
                continue
            rle = encode_rle(mask)
            if mode == "rle":
                add(image_id, rle, rle, class_ids[i], 0)
            else:
                polygons = coco_polygons(mask)
                if polygons:
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
