"""`mrcnn predict --model EXPORT_DIR`: the exported SavedModel writes the
outputs the checkpoint it came from writes (tests/deploy/conftest.py's
`exported_model`), without building the network."""
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from serve_fixtures import painted_image

from mrcnn.cli import main


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for seed, size in ((0, (72, 96)), (1, (64, 64))):
        Image.fromarray(painted_image(*size, seed=seed)).save(folder / f"painted{seed}.png")
    return folder


def predicted(out):
    """coco_results.json of a predict run, sorted by image and score."""
    results = json.loads((out / "coco_results.json").read_text())
    return sorted(results, key=lambda r: (r["image_id"], -r["score"]))


def test_the_exported_model_writes_what_its_checkpoint_writes(exported_model, images, tmp_path):
    export_dir, checkpoint, class_names = exported_model
    assert main(["predict", "--model", str(export_dir), "--images", str(images),
                 "--out", str(tmp_path / "exported")]) == 0
    assert main(["predict", "--weights", str(checkpoint), "--images", str(images),
                 "--out", str(tmp_path / "checkpoint"), "--logs", str(tmp_path / "logs")]) == 0
    exported, expected = predicted(tmp_path / "exported"), predicted(tmp_path / "checkpoint")
    assert len(exported) == len(expected) > 0
    assert {r["image_id"] for r in exported} == {r["image_id"] for r in expected}
    assert [r["category_id"] for r in exported] == [r["category_id"] for r in expected]
    np.testing.assert_allclose([r["score"] for r in exported], [r["score"] for r in expected],
                               atol=1e-4)
    np.testing.assert_allclose([r["bbox"] for r in exported], [r["bbox"] for r in expected],
                               atol=1.0)
    masks = [[mask_utils.decode(r["segmentation"]) for r in results]
             for results in (exported, expected)]
    assert np.mean([np.mean(a != b) for a, b in zip(*masks)]) < 0.005
    header = json.loads((tmp_path / "exported" / "coco_images.json").read_text())
    assert [c["name"] for c in header["categories"]] == class_names[1:]
    for stem in ("painted0", "painted1"):
        assert (tmp_path / "exported" / f"{stem}.png").is_file()


def test_a_video_from_the_exported_model_gives_the_checkpoints_detections(exported_model,
                                                                          tmp_path):
    import cv2

    export_dir, checkpoint, _ = exported_model
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (96, 72))
    for seed in range(4):
        writer.write(np.ascontiguousarray(painted_image(seed=seed)[..., ::-1]))
    writer.release()
    assert main(["predict", "--model", str(export_dir), "--video", str(video),
                 "--out", str(tmp_path / "exported")]) == 0
    assert main(["predict", "--weights", str(checkpoint), "--video", str(video),
                 "--out", str(tmp_path / "checkpoint"), "--logs", str(tmp_path / "logs")]) == 0
    frames = {}
    for kind in ("exported", "checkpoint"):
        assert (tmp_path / kind / "clip.mp4").is_file()
        lines = (tmp_path / kind / "clip.jsonl").read_text().splitlines()
        frames[kind] = [json.loads(line)["detections"] for line in lines]
    assert len(frames["exported"]) == len(frames["checkpoint"]) == 4
    for exported, expected in zip(frames["exported"], frames["checkpoint"]):
        assert len(exported) == len(expected) > 0
        assert [d["class_name"] for d in exported] == [d["class_name"] for d in expected]
        np.testing.assert_allclose([d["score"] for d in exported],
                                   [d["score"] for d in expected], atol=1e-4)


def test_labelme_and_the_class_filter_work_from_the_exported_model(exported_model, images,
                                                                     tmp_path):
    export_dir, _, class_names = exported_model
    out = tmp_path / "labelme"
    assert main(["predict", "--model", str(export_dir), "--images", str(images), "--out", str(out),
                 "--format", "labelme", "--classes", class_names[1]]) == 0
    shapes = [s for stem in ("painted0", "painted1")
              for s in json.loads((out / f"{stem}.json").read_text())["shapes"]]
    assert shapes and {s["label"] for s in shapes} == {class_names[1]}


@pytest.mark.parametrize("flags, message", [
    (["--weights", "last"], "--model and --weights: give one"),
    (["--set", "DETECTION_MIN_CONFIDENCE=0.5"], "an exported model carries its settings"),
])
def test_model_refuses_checkpoint_flags_beside_it(exported_model, images, tmp_path, capsys,
                                                  flags, message):
    export_dir = exported_model[0]
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--model", str(export_dir), "--images", str(images),
              "--out", str(tmp_path / "out"), *flags])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_model_names_a_missing_folder(images, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(tmp_path / "nowhere"), "--images", str(images),
              "--out", str(tmp_path / "out")])
    assert "no such folder; give the folder that `mrcnn export` wrote" in capsys.readouterr().err
