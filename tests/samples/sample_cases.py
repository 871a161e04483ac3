"""Per sample: its Config and loader names, and how a test gets its data."""
import os

from cli_fixtures import draw_simpsons, write_openimages, write_via1_balloons

CONFIG_CLASSES = {"balloon": "BalloonConfig", "gns": "GnsConfig", "pumpkins": "PumpkinConfig",
                  "simpsons": "SimpsonsConfig", "shapes": "ShapesConfig"}
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
    return []  # shapes: generated
