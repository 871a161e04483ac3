"""`predict --images` on a folder with a broken image: the broken file is
named with what is wrong, skipped, the other images' results are written,
and the exit code is 1 (2 when no image could be read)."""
import json

import numpy as np
import pytest
from cli_fixtures import paint, random_polygons
from tiny_checkpoint import CLASS_NAMES, session_checkpoint

from mrcnn.cli import EXIT_FAILED, EXIT_PROBLEMS, main
from mrcnn.data.dataset import read_image_file
from mrcnn.data.errors import DatasetError

SIZE = (64, 80)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return session_checkpoint(tmp_path_factory)


def good_images(folder, count=4):
    """`count` painted JPEGs img00.jpg ... in `folder`."""
    rng = np.random.default_rng(0)
    for i in range(count):
        paint(folder / f"img{i:02d}.jpg", *SIZE, random_polygons(rng, *SIZE, count=2), [0, 1], seed=i)


def truncated_jpeg(path):
    """A real JPEG cut in half: its header reads, its pixels do not."""
    paint(path, *SIZE, [], [], seed=7)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_jpeg_is_named_skipped_and_the_others_written(checkpoint, tmp_path, capsys):
    images, out = tmp_path / "images", tmp_path / "out"
    good_images(images)
    # Last in name order: today's failure came after the four good images.
    truncated_jpeg(images / "img04.jpg")
    code = main(["predict", "--images", str(images), "--out", str(out), "--weights", checkpoint])
    assert code == EXIT_PROBLEMS
    err = capsys.readouterr().err
    assert "img04.jpg" in err and "truncated" in err
    assert sorted(p.name for p in out.glob("*.png")) == [f"img{i:02d}.png" for i in range(4)]
    header = json.loads((out / "coco_images.json").read_text())
    names = {im["id"]: im["file_name"] for im in header["images"]}
    assert sorted(n.rsplit("/", 1)[-1] for n in names.values()) == [f"img{i:02d}.jpg" for i in range(4)]
    results = json.loads((out / "coco_results.json").read_text())
    # The tiny config keeps DETECTION_MAX_INSTANCES (8) detections per image.
    assert {r["image_id"] for r in results} == set(names)
    assert len(results) == 4 * 8
    assert all(r["segmentation"]["size"] == list(SIZE) for r in results)
    assert [c["name"] for c in header["categories"]] == CLASS_NAMES


def test_a_file_with_a_garbage_header_is_skipped_in_labelme_output(checkpoint, tmp_path, capsys):
    images = tmp_path / "images"
    good_images(images)
    (images / "img02b.jpg").write_bytes(b"this is not a JPEG at all" * 8)
    code = main(["predict", "--images", str(images), "--out", str(images), "--format", "labelme",
                 "--weights", checkpoint])
    assert code == EXIT_PROBLEMS
    captured = capsys.readouterr()
    assert "img02b.jpg" in captured.err and "cannot read the image" in captured.err
    assert "1 image failed" in captured.out
    assert sorted(p.name for p in images.glob("*.json")) == [f"img{i:02d}.json" for i in range(4)]
    document = json.loads((images / "img03.json").read_text())
    assert document["imagePath"] == "img03.jpg" and document["imageHeight"] == SIZE[0]
    assert {s["label"] for s in document["shapes"]} <= set(CLASS_NAMES)


def test_no_readable_image_is_a_failure_without_traceback(checkpoint, tmp_path, capsys):
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    # Both found from the headers, before a model is built.
    (images / "a.jpg").write_bytes(b"garbage")
    (images / "b.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 40)
    code = main(["predict", "--images", str(images), "--out", str(out), "--weights", checkpoint])
    assert code == EXIT_FAILED
    err = capsys.readouterr().err
    assert "a.jpg" in err and "b.jpg" in err and "no image could be read" in err
    assert "Traceback" not in err
    assert not (out / "coco_results.json").exists()


@pytest.mark.parametrize("content", ["truncated", "garbage"])
def test_read_image_file_names_the_file(tmp_path, content):
    path = tmp_path / "photo.jpg"
    if content == "truncated":
        truncated_jpeg(path)
    else:
        path.write_bytes(b"garbage")
    with pytest.raises(DatasetError) as error:
        read_image_file(str(path))
    assert str(path) in str(error.value) and error.value.kind == "unreadable_image"


def test_a_missing_file_stays_file_not_found(tmp_path):
    # `validate` counts FileNotFoundError as a missing image, not a broken one.
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        read_image_file(str(tmp_path / "nope.jpg"))
