"""Any prepared Dataset as a VIA 2 project JSON or as YOLO segmentation labels
(COCO: mrcnn.data.export). Masks become polygons traced by mrcnn.outlines.

    write_via(read_dataset("annotations.xml"), "out/via_region_data.json")
    write_yolo_seg(read_dataset("instances.json"), "out/")

VIA polygons are the outer outlines of an instance's parts in pixel-centre
coordinates (the VIA reader's convention); a hole comes back filled, and an
instance in several parts becomes one region per part (VIA cannot group
regions). A YOLO line is one instance in image positions divided by the image
size; an instance with several parts or holes has its outlines joined into
one polygon by zero-width bridges, Ultralytics' way (merge_multi_segment),
which fills back to the same mask by the even-odd rule.
"""
import os
import shutil

import numpy as np

from mrcnn.data.errors import DatasetError
from mrcnn.data.export import image_root_of, relative_file_name
from mrcnn.data.jsonfile import write_json
from mrcnn.outlines import mask_outlines, signed_area

VIA_CLASS_ATTRIBUTE = "class"
VIA_VERSION = "2.0.10"


def via_polygons(mask, tolerance=0.5):
    """The outer outlines of a bool [H, W] mask as VIA polygon vertices:
    list of float [K, (x, y)] in pixel-centre coordinates, inside the image."""
    height, width = mask.shape
    return [np.clip(points, [0, 0], [width - 1, height - 1])
            for points in mask_outlines(mask, tolerance) if signed_area(points) > 0]


def to_via_dict(dataset, image_root, image_ids=None, tolerance=0.5):
    """A VIA 2 project dict of a prepared Dataset: `_via_img_metadata` keyed
    by file name + size, the class in the region attribute "class" (a
    dropdown listing every class), `default_filepath` the image root so the
    VIA application finds the images.

    Returns: (dict, number of instances with at least one region)."""
    image_ids = [int(i) for i in (dataset.image_ids if image_ids is None else image_ids)]
    metadata, keys, instances = {}, [], 0
    for image_id in image_ids:
        info = dataset.image_info[image_id]
        masks, class_ids = dataset.load_mask(image_id)
        filename = relative_file_name(info, image_root, image_id)
        path = info.get("path")
        size = os.path.getsize(path) if path and os.path.isfile(path) else -1
        regions = []
        for i in range(masks.shape[-1]):
            polygons = via_polygons(masks[..., i], tolerance)
            instances += bool(polygons)
            for points in polygons:
                regions.append({
                    "shape_attributes": {"name": "polygon",
                                         "all_points_x": [round(float(x), 2) for x in points[:, 0]],
                                         "all_points_y": [round(float(y), 2) for y in points[:, 1]]},
                    "region_attributes": {VIA_CLASS_ATTRIBUTE: dataset.class_names[class_ids[i]]}})
        key = f"{filename}{size}"
        metadata[key] = {"filename": filename, "size": size, "regions": regions, "file_attributes": {}}
        keys.append(key)
    options = {str(name): "" for name in dataset.class_names[1:]}
    return {
        "_via_settings": {
            "ui": {"annotation_editor_height": 25, "annotation_editor_fontsize": 0.8,
                   "leftsidebar_width": 18,
                   "image_grid": {"img_height": 80, "rshape_fill": "none", "rshape_fill_opacity": 0.3,
                                  "rshape_stroke": "yellow", "rshape_stroke_width": 2,
                                  "show_region_shape": True, "show_image_policy": "all"},
                   "image": {"region_label": VIA_CLASS_ATTRIBUTE, "region_color": VIA_CLASS_ATTRIBUTE,
                             "region_label_font": "10px Sans",
                             "on_image_annotation_editor_placement": "NEAR_REGION"}},
            "core": {"buffer_size": 18, "filepath": {},
                     "default_filepath": (image_root.rstrip(os.sep) + os.sep) if image_root else ""},
            "project": {"name": "mrcnn_convert"}},
        "_via_img_metadata": metadata,
        "_via_attributes": {"region": {VIA_CLASS_ATTRIBUTE: {
            "type": "dropdown", "description": "", "options": options, "default_options": {}}},
            "file": {}},
        "_via_data_format_version": VIA_VERSION,
        "_via_image_id_list": keys,
    }, instances


def write_via(dataset, path, image_ids=None, tolerance=0.5):
    """Write a prepared Dataset as a VIA 2 project JSON at `path`.

    Returns: (the image root the file names are relative to: read the file
    back with `read_dataset(path, image_dir=<it>)`, number of instances).
    """
    ids = dataset.image_ids if image_ids is None else image_ids
    image_root = image_root_of(dataset, ids, path)
    data, instances = to_via_dict(dataset, image_root, ids, tolerance)
    write_json(data, path)
    return image_root, instances


def bridge_rings(rings):
    """Join closed outlines into one closed polygon by zero-width bridges.

    rings: list of float [K_i, 2] (the first: the outline the others hang on).
    Returns: float [K, 2]. Each bridge is walked there and back, so the
    polygon fills by the even-odd rule to what the rings enclose (holes
    stay holes, separate parts stay filled).
    """
    if len(rings) == 1:
        return rings[0]
    base = rings[0]
    attached = {}
    for r, ring in enumerate(rings[1:], 1):
        distances = ((base[:, None, :] - ring[None, :, :]) ** 2).sum(-1)
        i, j = np.unravel_index(int(np.argmin(distances)), distances.shape)
        attached.setdefault(int(i), []).append((r, int(j)))
    points = []
    for i, point in enumerate(base):
        points.append(point)
        for r, j in attached.get(i, []):
            ring = np.roll(rings[r], -j, axis=0)
            points.extend(ring)
            points.extend([ring[0], point])
    return np.array(points, dtype=float)


def yolo_line(mask, class_index, tolerance=0.25):
    """One instance as a YOLO segmentation line, or None for an empty mask.

    mask: bool [H, W]; class_index: the 0-based YOLO class id.
    tolerance: outline simplification (pixels); at 0.25 the line draws
        back (pycocotools, even-odd) to the mask on axis-aligned edges.
    Returns: "class x1 y1 x2 y2 ..." with coordinates in [0, 1] (6 decimals).
    """
    height, width = mask.shape
    rings = mask_outlines(mask, tolerance)
    if not rings:
        return None
    # Largest outer outline first: the others are bridged to it.
    rings = sorted(rings, key=lambda ring: -signed_area(ring))
    # Pixel centres -> image positions, as COCO and Ultralytics count them.
    polygon = np.clip(bridge_rings(rings) + 0.5, 0, [width, height]) / np.array([width, height], float)
    return f"{int(class_index)} " + " ".join(f"{v:.6f}" for v in polygon.ravel())


def write_yolo_seg(dataset, out_dir, image_ids=None, link=False, tolerance=0.25):
    """Write a prepared Dataset as an Ultralytics segmentation dataset.

    out_dir/images/<path relative to the images' common folder> (a copy, or
    a hard link with `link`: no extra space, but an edit in place of one file
    changes both), out_dir/labels/<same>.txt, and out_dir/data.yaml with
    `names` (class id 0 = the dataset's first class; BG is not a YOLO class)
    and train/val both pointing at images (split it with Ultralytics or
    mrcnn's split options).
    Returns: (number of images, number of instances written).
    """
    import yaml

    ids = [int(i) for i in (dataset.image_ids if image_ids is None else image_ids)]
    image_root = image_root_of(dataset, ids)
    written, instances = set(), 0
    for image_id in ids:
        info = dataset.image_info[image_id]
        path = info.get("path")
        if not path or not os.path.isfile(path):
            raise DatasetError(f"{path or info['id']}: the image file is absent; YOLO datasets need "
                               f"the images beside the labels", kind="missing_image", file=path)
        relative = relative_file_name(info, image_root, image_id)
        target = os.path.join(out_dir, "images", *relative.split("/"))
        label = os.path.join(out_dir, "labels", *os.path.splitext(relative)[0].split("/")) + ".txt"
        if label in written:
            raise DatasetError(f"{path}: another image has the same name without extension; its "
                               f"labels would share {label}. Rename one of them.", file=path)
        written.add(label)
        masks, class_ids = dataset.load_mask(image_id)
        lines = [yolo_line(masks[..., i], int(class_ids[i]) - 1, tolerance) for i in range(masks.shape[-1])]
        lines = [line for line in lines if line is not None]
        instances += len(lines)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.makedirs(os.path.dirname(label), exist_ok=True)
        _place_image(path, target, link)
        with open(label, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
    names = {i: str(name) for i, name in enumerate(dataset.class_names[1:])}
    with open(os.path.join(out_dir, "data.yaml"), "w", encoding="utf-8") as f:
        f.write("# Ultralytics YOLO segmentation dataset written by `mrcnn convert`\n")
        yaml.safe_dump({"train": "images", "val": "images", "nc": len(names), "names": names}, f,
                       sort_keys=False, allow_unicode=True)
    return len(ids), instances


def _place_image(source, target, link):
    if link:
        try:
            os.link(source, target)
            return
        except OSError:
            pass  # another file system, or no hard links there: copy
    shutil.copy2(source, target)
