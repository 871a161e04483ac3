"""`mrcnn convert`: a dataset of any format `read_dataset` reads, written as
COCO, LabelMe, VIA or YOLO segmentation.

    mrcnn convert SRC --to coco|labelme|via|yolo-seg OUT [--overwrite] [--link] [reader flags]

OUT must be new or empty (--overwrite: write into it anyway). SRC is only
read. Masks become polygons traced by mrcnn.outlines. What each format gets:

    coco      OUT/instances.json: polygons, RLE for masks with holes (exact)
    labelme   OUT/<image path>.json per image, imagePath relative to the JSON
    via       OUT/via_region_data.json, a VIA 2 project (class attribute "class")
    yolo-seg  OUT/images/ (copies, or hard links with --link), OUT/labels/,
              OUT/data.yaml

Only YOLO needs the images beside the labels; the other files point at the
images where they are, and the command prints how to read the result back.
"""
import logging
import os
import shlex

import numpy as np

from mrcnn.commands import UsageError
from mrcnn.commands.datasets import dataset_options

TARGETS = ("coco", "labelme", "via", "yolo-seg")
# The file `read_dataset` reads back in OUT ("": OUT itself).
READ_BACK = {"coco": "instances.json", "labelme": "", "via": "via_region_data.json", "yolo-seg": ""}


def check_out_dir(out, overwrite):
    """Refuse a file, or a non-empty folder unless `overwrite` (as `mrcnn export`)."""
    if os.path.isfile(out):
        raise UsageError(f"OUT {out} is a file; give a folder to write into")
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise UsageError(f"OUT {out} exists and is not empty; choose a new folder or pass --overwrite")


def run_convert(args):
    """`mrcnn convert`: reads SRC, writes OUT, prints what it wrote and the
    reader's problems. Returns 1 when the reader found errors (what it could
    not read is left out), else 0."""
    from mrcnn.data.read import read_dataset

    out = os.path.abspath(args.out)
    check_out_dir(out, args.overwrite)
    src = os.path.abspath(args.src)
    if os.path.isdir(src) and os.path.commonpath([out, src]) == src:
        raise UsageError(f"OUT {args.out} is inside SRC {args.src}; SRC is never written to: "
                         "choose a folder outside it")
    logging.getLogger("mrcnn.data.builder").setLevel(logging.ERROR)
    dataset = read_dataset(args.src, **dataset_options(args))
    os.makedirs(out, exist_ok=True)
    written, image_root = convert_dataset(dataset, args.to, out, link=args.link)
    print(f"{args.src}: {len(dataset.image_ids)} images, {written} instances, "
          f"{len(dataset.class_names) - 1} classes ({', '.join(dataset.class_names[1:])}) "
          f"written as {args.to} to {out}")
    target = os.path.join(out, READ_BACK[args.to]) if READ_BACK[args.to] else out
    image_flag = f" --image-dir {shlex.quote(image_root)}" if image_root else ""
    print(f"Read it back: mrcnn validate {shlex.quote(target)}{image_flag}")
    problems = dataset.problems
    for line in problems.summary_lines(("error", "warning")):
        print(f"  {line}")
    if problems.has_errors:
        print(f"Left out what could not be read; `mrcnn validate {args.src}` lists where.")
        return 1
    return 0


def convert_dataset(dataset, to, out, link=False):
    """Write a prepared Dataset into the folder `out` in the format `to`.

    Returns: (number of instances written, the folder the written image
    paths are relative to, or None when the images sit in `out`).
    """
    if to == "coco":
        from mrcnn.data.export import to_coco_dict
        from mrcnn.data.jsonfile import write_json

        path = os.path.join(out, READ_BACK["coco"])
        data, image_root = to_coco_dict(dataset, mode="auto", out_path=path)
        write_json(data, path)
        return sum(1 for a in data["annotations"] if not a["iscrowd"]), image_root
    if to == "via":
        from mrcnn.data.writers import write_via

        path = os.path.join(out, READ_BACK["via"])
        image_root, instances = write_via(dataset, path)
        return instances, image_root
    if to == "yolo-seg":
        from mrcnn.data.writers import write_yolo_seg

        return write_yolo_seg(dataset, out, link=link)[1], None
    if to == "labelme":
        return _write_labelme(dataset, out)
    raise UsageError(f"--to {to}: choose one of {', '.join(TARGETS)}")


def _write_labelme(dataset, out):
    """One LabelMe JSON per image, at the image's path relative to the
    images' common folder; shapes as `mrcnn predict --format labelme` writes
    them (group_id joins an instance's parts), without scores."""
    from mrcnn.commands.labelme import labelme_document, write_labelme
    from mrcnn.data.export import image_root_of, relative_file_name

    image_root = image_root_of(dataset, dataset.image_ids)
    count = 0
    for image_id in dataset.image_ids:
        info = dataset.image_info[image_id]
        masks, class_ids = dataset.load_mask(image_id)
        relative = relative_file_name(info, image_root, image_id)
        path = os.path.join(out, *os.path.splitext(relative)[0].split("/")) + ".json"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        result = {"masks": masks, "class_ids": class_ids, "scores": np.ones(len(class_ids))}
        document = labelme_document(result, dataset.class_names, info["path"], masks.shape,
                                    os.path.dirname(path), tolerance=0.5)
        for shape in document["shapes"]:
            shape["description"] = ""
        write_labelme(path, document)
        count += len({s["group_id"] if s["group_id"] is not None else id(s) for s in document["shapes"]})
    # The reader keeps image paths inside its image_dir: a folder above both.
    return count, os.path.commonpath([out, image_root]) if image_root else None
