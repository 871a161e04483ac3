"""`mrcnn convert`: what it writes and prints, the OUT rules, one-line
errors for bad inputs, and that `mrcnn validate` accepts what it wrote."""
import json
import os
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mrcnn.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_data_convert import write_source  # noqa: E402


def test_convert_to_yolo_then_coco_then_validate(tmp_path, capsys):
    src = write_source(tmp_path / "src")
    yolo = tmp_path / "yolo"
    assert main(["convert", str(src), "--to", "yolo-seg", str(yolo)]) == 0
    out = capsys.readouterr().out
    assert "2 images, 3 instances, 2 classes (cat, dog) written as yolo-seg" in out
    assert f"Read it back: mrcnn validate {yolo}\n" in out
    assert sorted(os.listdir(yolo)) == ["data.yaml", "images", "labels"]
    assert (yolo / "labels" / "a.txt").read_text().count("\n") == 2

    coco = tmp_path / "coco"
    assert main(["convert", str(yolo), "--to", "coco", str(coco)]) == 0
    out = capsys.readouterr().out
    assert f"Read it back: mrcnn validate {coco / 'instances.json'} --image-dir {yolo / 'images'}" in out
    data = json.loads((coco / "instances.json").read_text())
    assert [c["name"] for c in data["categories"]] == ["cat", "dog"]
    assert [i["file_name"] for i in data["images"]] == ["a.png", "b.png"]
    assert main(["validate", str(coco / "instances.json"), "--image-dir", str(yolo / "images")]) == 0
    assert "Result: OK" in capsys.readouterr().out


@pytest.mark.parametrize("to,files", [("via", ["via_region_data.json"]), ("labelme", ["a.json", "b.json"])])
def test_convert_via_and_labelme_read_back(tmp_path, capsys, to, files):
    src = write_source(tmp_path / "src")
    out = tmp_path / "out"
    assert main(["convert", str(src), "--to", to, str(out)]) == 0
    printed = capsys.readouterr().out
    assert sorted(os.listdir(out)) == files
    command = shlex.split(printed.split("Read it back: mrcnn ")[1].splitlines()[0])
    assert main(command) == 0
    assert "Dataset" in capsys.readouterr().out


def test_out_must_be_new_or_empty(tmp_path, capsys):
    src = write_source(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit) as exit_:
        main(["convert", str(src), "--to", "coco", str(out)])
    assert exit_.value.code == 2
    assert "exists and is not empty; choose a new folder or pass --overwrite" in capsys.readouterr().err
    assert main(["convert", str(src), "--to", "coco", str(out), "--overwrite"]) == 0
    assert sorted(os.listdir(out)) == ["instances.json", "keep.txt"]
    with pytest.raises(SystemExit):
        main(["convert", str(tmp_path / "src"), "--to", "yolo-seg", str(tmp_path / "src" / "yolo")])
    assert "is inside SRC" in capsys.readouterr().err


def test_bad_source_is_one_line_naming_file_and_annotation(tmp_path, capsys):
    bad = tmp_path / "bad" / "annotations.xml"
    bad.parent.mkdir()
    bad.write_text("<annotations>\n<image name='a.png'>\n", encoding="utf-8")
    assert main(["convert", str(bad), "--to", "coco", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"mrcnn convert: {bad}: not valid XML at line")

    Image.fromarray(np.zeros((8, 10, 3), np.uint8)).save(tmp_path / "a.png")
    cvat = tmp_path / "cvat.xml"
    cvat.write_text('<annotations><image id="0" name="a.png" width="10" height="8">'
                    '<polygon label="cat" points="1,1;5,1;5,4"/><box label="cat" xtl="1" ytl="1" '
                    'xbr="3" ybr="3"/></image></annotations>', encoding="utf-8")
    assert main(["convert", str(cvat), "--to", "yolo-seg", str(tmp_path / "yolo")]) == 1
    printed = capsys.readouterr().out
    assert "error: 1 malformed annotations (skipped) [invalid_annotation]" in printed
    assert (tmp_path / "yolo" / "labels" / "a.txt").read_text().count("\n") == 1
    assert main(["validate", str(cvat)]) == 1
    report = capsys.readouterr().out
    assert f"{cvat}: image 'a.png' <box> 0 label 'cat': a box has no mask" in report
