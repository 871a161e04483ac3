"""Per sample: its Config and loader names, and how a test gets its data."""
import json
import os

from cli_fixtures import draw_simpsons, painted_images, write_openimages, write_via1_balloons

CONFIG_CLASSES = {"balloon": "BalloonConfig", "gns": "GnsConfig", "pumpkins": "PumpkinConfig",
                  "simpsons": "SimpsonsConfig", "shapes": "ShapesConfig", "coco": "CocoConfig"}
# The COCO categories of the tiny COCO folders: their real ids and names.
COCO_CATEGORIES = [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}]
LOADERS = {name: f"load_{name}" for name in CONFIG_CLASSES}


def prepare_data(name, tmp_path, shared_data):
    """The --dataset flags of a sample's test run (data written into tmp_path
    or read from ../shared/data in place)."""
    if name == "balloon":
        write_via1_balloons(tmp_path / "balloon" / "train", count=4)
        write_via1_balloons(tmp_path / "balloon" / "val", count=2, seed=1)
        return ["--dataset", str(tmp_path / "balloon")]
    if name == "gns":
        return ["--dataset", os.path.join(shared_data(), "gns")]
    if name == "pumpkins":
        write_openimages(tmp_path / "pumpkins" / "train", count=4, split="train")
        write_openimages(tmp_path / "pumpkins" / "validation", count=2, split="validation", seed=1)
        return ["--dataset", str(tmp_path / "pumpkins")]
    if name == "simpsons":
        instances = os.path.join(shared_data(), "simpsons", "instances.json")
        draw_simpsons(instances, tmp_path / "simpsons", per_class=2)
        return ["--dataset", instances, "--image-dir", str(tmp_path / "simpsons")]
    if name == "coco":
        write_coco_subset(tmp_path / "coco", "train", count=4)
        write_coco_subset(tmp_path / "coco", "val", count=2, seed=1)
        return ["--dataset", str(tmp_path / "coco")]
    return []  # shapes: generated


def write_coco_subset(root, subset, year="2017", count=3, seed=0, size=(64, 80)):
    """matterport's COCO layout: `<root>/annotations/instances_<subset><year>.json`
    and the painted JPEGs in `<root>/<subset><year>/`, objects of COCO_CATEGORIES.
    Returns the annotation file."""
    images, annotations = [], []
    folder = root / f"{subset}{year}"
    for image_id, (file_name, _, polygons, labels) in enumerate(
            painted_images(folder, subset, count, size, seed, len(COCO_CATEGORIES)), 1):
        images.append({"id": image_id, "file_name": file_name, "height": size[0],
                       "width": size[1]})
        for (xs, ys), k in zip(polygons, labels):
            polygon = [v for xy in zip(xs, ys) for v in xy]
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id,
                "category_id": COCO_CATEGORIES[k]["id"], "iscrowd": 0, "segmentation": [polygon],
                "area": 0.0, "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]})
    path = root / "annotations" / f"instances_{subset}{year}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": COCO_CATEGORIES}))
    return path
