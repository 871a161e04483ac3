"""Small datasets in the samples' formats, written into a temporary folder,
and the tiny network settings the CLI tests train with.

Images are small JPEGs with each object painted in its class colour on a
noisy background, so that the annotations and the pixels agree.
"""
import csv
import json
from pathlib import Path

import numpy as np
import skimage.draw
from PIL import Image

TINY_YAML = str(Path(__file__).resolve().parents[1] / "tiny.yaml")
REPO = Path(__file__).resolve().parents[2]
COLOURS = [(230, 60, 60), (60, 200, 60), (60, 90, 230), (230, 200, 40), (200, 60, 200)]


def tiny_args(logs, *extra):
    """The flags every CLI test passes: tiny network, its own logs folder."""
    return ["--config", TINY_YAML, "--logs", str(logs), *map(str, extra)]


def random_polygons(rng, height, width, count):
    """`count` convex polygons (a square or a triangle) inside the image:
    list of (xs, ys) float lists."""
    polygons = []
    for _ in range(count):
        s = int(rng.integers(max(4, min(height, width) // 8), max(5, min(height, width) // 4)))
        cx = int(rng.integers(s, width - s))
        cy = int(rng.integers(s, height - s))
        if rng.random() < 0.5:
            xs, ys = [cx - s, cx + s, cx + s, cx - s], [cy - s, cy - s, cy + s, cy + s]
        else:
            xs, ys = [cx, cx + s, cx - s], [cy - s, cy + s, cy + s]
        polygons.append(([float(x) for x in xs], [float(y) for y in ys]))
    return polygons


def paint(path, height, width, polygons, class_indices, seed=0):
    """Write a JPEG of noise with each polygon filled in its class colour."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 70, (height, width, 3)).astype(np.uint8)
    for (xs, ys), k in zip(polygons, class_indices):
        rr, cc = skimage.draw.polygon(ys, xs, shape=(height, width))
        image[rr, cc] = COLOURS[k % len(COLOURS)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=95)
    return image


def painted_images(folder, prefix, count, size, seed, num_classes=1):
    """Write `count` JPEGs `<prefix><i>.jpg` with 1-2 objects each.

    Yields (file name, file size, polygons [(xs, ys)], class indices); the
    first images take the classes in turn, so that any split sees them all.
    """
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    for i in range(count):
        name = f"{prefix}{i:02d}.jpg"
        polygons = random_polygons(rng, *size, count=int(rng.integers(1, 3)))
        labels = [int(rng.integers(0, num_classes)) for _ in polygons]
        if i < num_classes:
            labels[0] = i
        paint(folder / name, *size, polygons, labels, seed=i)
        yield name, (folder / name).stat().st_size, polygons, labels


def write_via2(folder, classes=("a", "b"), count=6, size=(64, 80), seed=0):
    """A VIA 2.x project like gns: polyline regions, the class ticked in a
    checkbox attribute `name`. Returns the JSON path."""
    metadata = {}
    for name, size_bytes, polygons, labels in painted_images(folder, "img", count, size, seed,
                                                             len(classes)):
        regions = [{"shape_attributes": {"name": "polyline", "all_points_x": xs, "all_points_y": ys},
                    "region_attributes": {"name": {classes[k]: True}}}
                   for (xs, ys), k in zip(polygons, labels)]
        metadata[f"{name}{size_bytes}"] = {"filename": name, "size": size_bytes, "regions": regions,
                                           "file_attributes": {}}
    project = {"_via_settings": {}, "_via_img_metadata": metadata,
               "_via_attributes": {"region": {"name": {"type": "checkbox", "options":
                                                       {c: "" for c in classes}}}, "file": {}}}
    path = Path(folder) / "via_region_data.json"
    path.write_text(json.dumps(project))
    return path


def write_via1_balloons(folder, count=4, size=(64, 64), seed=0):
    """matterport's balloon export: VIA 1.x, regions as a dict keyed "0",
    "1", ..., polygons, no region attribute. Returns the JSON path."""
    data = {}
    for name, size_bytes, polygons, _ in painted_images(folder, "balloon", count, size, seed):
        regions = {str(k): {"shape_attributes": {"name": "polygon", "all_points_x": xs,
                                                 "all_points_y": ys},
                            "region_attributes": {}}
                   for k, (xs, ys) in enumerate(polygons)}
        data[f"{name}{size_bytes}"] = {"fileref": "", "size": size_bytes, "filename": name,
                                       "base64_img_data": "", "file_attributes": {}, "regions": regions}
    path = Path(folder) / "via_region_data.json"
    path.write_text(json.dumps(data))
    return path


PUMPKIN_MID, CAR_MID = "/m/05zsy", "/m/0k4j"
OPEN_IMAGES_COLUMNS = ["MaskPath", "ImageID", "LabelName", "BoxID", "BoxXMin", "BoxXMax",
                       "BoxYMin", "BoxYMax", "PredictedIoU", "Clicks"]


def write_openimages(folder, count=6, size=(64, 64), split="train", seed=0):
    """An Open Images download: `<split>-annotations-object-segmentation.csv`,
    `class-descriptions-boxable.csv` (no header), images/<ImageID>.jpg and
    masks/<split>-masks-<c>/<MaskPath> PNGs at twice the image size (the
    masks are not at the image's size in the real data). Every image has
    pumpkins; one car per image must be left out by classes=["Pumpkin"].
    Returns the CSV path."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    height, width = size
    rows = []
    for i in range(count):
        image_id = f"{seed:02d}{i:06x}abcd"
        polygons = random_polygons(rng, height, width, count=int(rng.integers(1, 3)) + 1)
        kinds = [0] * (len(polygons) - 1) + [1]  # pumpkins, then a car
        paint(folder / "images" / f"{image_id}.jpg", height, width, polygons, kinds, seed=i)
        for k, ((xs, ys), kind) in enumerate(zip(polygons, kinds)):
            mask = np.zeros((2 * height, 2 * width), np.uint8)
            rr, cc = skimage.draw.polygon(np.array(ys) * 2, np.array(xs) * 2, shape=mask.shape)
            mask[rr, cc] = 255
            mid = CAR_MID if kind else PUMPKIN_MID
            mask_name = f"{image_id}_{mid.replace('/', '')}_{k:08x}.png"
            sub = folder / "masks" / f"{split}-masks-{image_id[0]}"
            sub.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask).save(sub / mask_name)
            rows.append({"MaskPath": mask_name, "ImageID": image_id, "LabelName": mid,
                         "BoxID": f"{k:08x}", "BoxXMin": min(xs) / width, "BoxXMax": max(xs) / width,
                         "BoxYMin": min(ys) / height, "BoxYMax": max(ys) / height,
                         "PredictedIoU": 0.9, "Clicks": ""})
    path = folder / f"{split}-annotations-object-segmentation.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=OPEN_IMAGES_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with open(folder / "class-descriptions-boxable.csv", "w", newline="") as f:
        csv.writer(f).writerows([[CAR_MID, "Car"], [PUMPKIN_MID, "Pumpkin"]])
    return path


def draw_simpsons(instances_json, image_dir, per_class=2):
    """Placeholder JPEGs for the Simpsons COCO export (which has no pixels):
    `per_class` images of each character, at the size the JSON gives, each
    polygon painted in its class colour. The other images stay absent (the
    reader skips and counts them). Returns the list of drawn file names."""
    data = json.loads(Path(instances_json).read_text())
    by_image = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    wanted, drawn = {}, []
    for image in data["images"]:
        anns = by_image.get(image["id"], [])
        if not anns:
            continue
        category = anns[0]["category_id"]
        if wanted.get(category, 0) >= per_class:
            continue
        wanted[category] = wanted.get(category, 0) + 1
        polygons, kinds = [], []
        for ann in anns:
            segmentation = ann["segmentation"]
            if isinstance(segmentation, str):
                segmentation = json.loads(segmentation)
            for part in segmentation:
                polygons.append((part[0::2], part[1::2]))
                kinds.append(ann["category_id"] - 1)
        paint(Path(image_dir) / image["file_name"].replace("//", "/"), image["height"],
              image["width"], polygons, kinds, seed=image["id"])
        drawn.append(image["file_name"])
    return drawn
