"""read_dataset: format detection, one summary log per dataset, lazy masks."""
import logging

import pytest

from data_fixtures import coco_file, coco_polygon_ann, via_polygon, via_project, via_region, write_image, write_json
from mrcnn.cli import main
from mrcnn.data import (COCODataset, FormatError, VIADataset, detect_format, image_files, read_dataset)


def test_folder_with_one_coco_json(tmp_path):
    write_image(tmp_path / "a.jpg", 10, 10)
    write_json(tmp_path / "instances.json", coco_file([{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
                                                      [coco_polygon_ann(1, 1, 1, [1, 1, 8, 1, 4, 8])],
                                                      [{"id": 1, "name": "x"}]))
    assert detect_format(tmp_path)[0] == "coco"
    dataset = read_dataset(tmp_path)
    assert isinstance(dataset, COCODataset) and dataset.num_images == 1


def test_unknown_formats_are_refused_clearly(tmp_path):
    write_json(tmp_path / "settings.json", {"theme": "dark"})
    with pytest.raises(FormatError, match="format="):
        read_dataset(tmp_path / "settings.json")
    with pytest.raises(FormatError, match="cannot tell"):
        read_dataset(tmp_path)
    with pytest.raises(FormatError, match="no such file"):
        read_dataset(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text('{"images": [')
    with pytest.raises(Exception, match="broken.json: not valid JSON at line 1"):
        read_dataset(tmp_path / "broken.json")


def test_problems_are_logged_once_per_dataset(tmp_path, caplog):
    write_image(tmp_path / "a.jpg", 10, 10)
    regions = [via_region({"name": "point", "cx": 1, "cy": 1}, "x") for _ in range(30)]
    regions.append(via_region(via_polygon([1, 8, 4], [1, 1, 8]), "x"))
    write_json(tmp_path / "via.json", via_project({"a.jpg": regions}))
    with caplog.at_level(logging.WARNING, logger="mrcnn.data"):
        dataset = read_dataset(tmp_path / "via.json")
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "30 point annotations" in warnings[0].getMessage()
    assert dataset.problems.count("skipped_point") == 30


def test_masks_are_drawn_only_in_load_mask(tmp_path, monkeypatch):
    write_image(tmp_path / "a.jpg", 10, 10)
    write_json(tmp_path / "via.json", via_project({"a.jpg": [via_region(via_polygon([1, 8, 4], [1, 1, 8]), "x")]}))
    calls = []
    from mrcnn.data import rasterize
    original = rasterize.polygon_mask
    monkeypatch.setattr(rasterize, "polygon_mask", lambda *a: calls.append(a) or original(*a))
    dataset = read_dataset(tmp_path / "via.json")
    assert calls == [] and isinstance(dataset, VIADataset)
    dataset.load_mask(0)
    assert len(calls) == 1
    assert dataset.image_info[0]["instances"][0]["shape"]["kind"] == "polygon"


def test_cli_without_command_prints_help(capsys):
    assert main([]) == 2
    assert "validate" in capsys.readouterr().out


def test_cli_reports_read_errors(tmp_path, capsys):
    write_json(tmp_path / "settings.json", {"theme": "dark"})
    assert main(["split", str(tmp_path / "settings.json")]) == 2
    assert "settings.json" in capsys.readouterr().err
    assert main(["split", str(tmp_path / "settings.json"), "--option", "nokey"]) == 2


def test_image_size_follows_exif_orientation(tmp_path):
    from PIL import Image

    img = Image.new("RGB", (30, 10))
    exif = img.getexif()
    exif[0x0112] = 6  # rotated 90 degrees: the annotator saw a 10 x 30 picture
    img.save(tmp_path / "r.jpg", exif=exif)
    assert image_files.image_size(tmp_path / "r.jpg") == (30, 10)
