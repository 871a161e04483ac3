"""validate: every problem kind from a deliberately broken file, named in
the report with its file and annotation; statistics; exit codes."""
import numpy as np
from PIL import Image

from data_fixtures import (coco_file, coco_polygon_ann, shared_data, via_polygon, via_project, via_region,
                           write_image, write_json)
from mrcnn.cli import main
from mrcnn.data import Dataset, validate_dataset

TRI = via_polygon([5, 30, 20], [5, 8, 30])


def _via(tmp_path, entries, attributes=None, images=("a.jpg",)):
    for i, name in enumerate(images):
        write_image(tmp_path / name, 40, 50, seed=i)
    return write_json(tmp_path / "via.json", via_project(entries, attributes))


def _coco(tmp_path, images, annotations, categories=({"id": 1, "name": "x"},)):
    return write_json(tmp_path / "ann.json", coco_file(images, annotations, list(categories)))


def _report(path, **options):
    report = validate_dataset(path, **options)
    return report, report.to_text()


def test_clean_dataset_is_ok(tmp_path):
    path = _via(tmp_path, {"a.jpg": [via_region(TRI, "x"), via_region(TRI, "y")]})
    report, text = _report(path)
    assert report.ok and report.exit_code == 0
    assert "No problems found" in text and "Result: OK" in text
    rows = {r["class"]: r for r in report.statistics.rows()}
    area = int(np.count_nonzero(_tri_mask()))
    assert rows["x"]["instances"] == 1 and rows["x"]["area_p50"] == area
    assert report.statistics.instances_per_image == [2]


def _tri_mask():
    from data_fixtures import skimage_polygon
    return skimage_polygon([5, 30, 20], [5, 8, 30], 40, 50)


def test_missing_image(tmp_path):
    path = _via(tmp_path, {"a.jpg": [via_region(TRI, "x")], "lost.jpg": [via_region(TRI, "x")]})
    report, text = _report(path)
    assert not report.ok and report.problems.count("missing_image") == 1
    assert "via.json: lost.jpg" in text


def test_unreadable_image_read_from_header(tmp_path):
    path = _via(tmp_path, {"a.jpg": [via_region(TRI, "x")], "broken.jpg": [via_region(TRI, "x")]})
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg at all")
    report, text = _report(path)
    assert report.problems.count("unreadable_image") == 1 and not report.ok
    assert "via.json: broken.jpg" in text


def test_truncated_image_found_when_decoding(tmp_path):
    write_image(tmp_path / "a.jpg", 40, 50)
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "a.jpg").write_bytes(data[: len(data) // 2])
    path = _coco(tmp_path, [{"id": 1, "file_name": "a.jpg", "width": 50, "height": 40}],
                 [coco_polygon_ann(1, 1, 1, [1, 1, 30, 1, 10, 30])])
    report, text = _report(path)
    assert report.problems.count("unreadable_image") == 1
    assert "ann.json: image 1 (" in text


def test_decompression_bomb_limit_stays_on(tmp_path, monkeypatch):
    write_image(tmp_path / "a.jpg", 40, 50)
    path = _coco(tmp_path, [{"id": 1, "file_name": "a.jpg", "width": 50, "height": 40}],
                 [coco_polygon_ann(1, 1, 1, [1, 1, 30, 1, 10, 30])])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # a 2000-pixel image is now a "bomb"
    report, text = _report(path)
    assert report.problems.count("unreadable_image") == 1
    assert "decompression bomb" in text.lower()


def test_size_mismatch(tmp_path):
    write_image(tmp_path / "a.jpg", 30, 20)
    path = _coco(tmp_path, [{"id": 7, "file_name": "a.jpg", "width": 50, "height": 40}],
                 [coco_polygon_ann(1, 7, 1, [1, 1, 10, 1, 10, 10])])
    report, text = _report(path)
    assert report.problems.count("size_mismatch") == 1 and not report.ok
    assert "ann.json: image 7" in text and "50x40" in text and "20x30" in text


def test_degenerate_polygons_and_points_outside(tmp_path):
    path = _via(tmp_path, {"a.jpg": [
        via_region(via_polygon([5, 30], [5, 8]), "x"),
        via_region(via_polygon([1, 2, 3], [1, 2, 3]), "x"),
        via_region(via_polygon([5, 70, 20], [5, 8, 45]), "x"),
        via_region(via_polygon([60, 80, 70], [5, 8, 30]), "x"),  # entirely outside: skipped
    ]})
    report, text = _report(path)
    assert report.problems.count("degenerate_shape") == 2
    assert report.problems.count("points_outside") == 1
    assert report.problems.count("outside_image") == 1
    assert report.problems.count("empty_mask") == 0
    assert "via.json: a.jpg region 0" in text and "via.json: a.jpg region 1" in text
    assert "a.jpg region 3" in str(report.problems.examples["outside_image"][0])
    assert report.ok  # skipped and clipped: training can go on


def test_unknown_and_unused_classes(tmp_path):
    attributes = {"name": {"type": "radio", "options": {"cat": "", "dog": ""}}}
    path = _via(tmp_path, {"a.jpg": [via_region(TRI, "cat"), via_region(TRI, "cta")]}, attributes)
    report, text = _report(path)
    assert report.problems.count("unknown_class") == 1 and "'cta'" in text
    assert report.problems.count("unused_class") == 1 and "class 'dog'" in text
    assert "via.json: a.jpg region 1" in str(report.problems.examples["unknown_class"][0])


def test_duplicate_ids(tmp_path):
    write_image(tmp_path / "a.jpg", 40, 50)
    images = [{"id": 1, "file_name": "a.jpg", "width": 50, "height": 40}] * 2
    anns = [coco_polygon_ann(4, 1, 1, [1, 1, 30, 1, 10, 30]), coco_polygon_ann(4, 1, 1, [1, 1, 20, 1, 10, 30])]
    report, text = _report(_coco(tmp_path, images, anns))
    assert report.problems.count("duplicate_id") == 2 and not report.ok
    assert "ann.json: image 1" in text and "ann.json: annotation 4 of image 1" in text


def test_images_without_instances_and_no_instances_at_all(tmp_path):
    path = _via(tmp_path, {"a.jpg": [], "b.jpg": []}, images=("a.jpg", "b.jpg"))
    report, text = _report(path)
    assert report.problems.count("image_without_instances") == 2
    assert report.problems.count("no_instances") == 1 and not report.ok


def test_unsafe_path_is_an_error(tmp_path):
    path = _via(tmp_path, {"../../etc/passwd": [via_region(TRI, "x")]})
    report, text = _report(path)
    assert report.problems.count("unsafe_path") == 1 and not report.ok
    assert "via.json" in text and "../../etc/passwd" in text


def test_plain_dataset_subclass_is_validated(tmp_path):
    class Shapes(Dataset):
        def load_image(self, image_id):
            return np.zeros((8, 8, 3), np.uint8)

        def load_mask(self, image_id):
            mask = np.zeros((8, 8, 1), bool)
            mask[2:5, 2:5] = True
            return mask, np.array([1], np.int32)

    dataset = Shapes()
    dataset.add_class("shapes", 1, "square")
    dataset.add_class("shapes", 2, "circle")
    dataset.add_image("shapes", 0, None, height=8, width=8)
    dataset.prepare()
    report = validate_dataset(dataset)
    assert report.problems.count("unused_class") == 1 and report.ok
    assert report.statistics.rows()[0]["area_p50"] == 9


def test_statistics_plot_and_cli_exit_codes(tmp_path, capsys):
    folder = shared_data("nucleus")
    plot = tmp_path / "stats.png"
    assert main(["validate", str(folder), "--class-name", "nucleus", "--plot", str(plot),
                 "--json", str(tmp_path / "r.json")]) == 0
    out, err = capsys.readouterr()
    assert "nucleus" in out and "215" in out and "Result: OK" in out
    assert "validate: 100%" in err and "12/12" in err  # the progress bar over 12 images
    assert plot.exists() and Image.open(plot).size[0] > 100
    broken = _via(tmp_path / "broken", {"a.jpg": [via_region(TRI, "x")], "lost.jpg": []})
    assert main(["validate", str(broken)]) == 1
    assert "lost.jpg" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "nothing-here")]) == 1


def test_gns_validates_clean():
    report = validate_dataset(shared_data("gns") / "via_region_data.json", check_images=False)
    assert report.ok and report.statistics.num_instances == 90
    assert {r["class"]: r["instances"] for r in report.statistics.rows()} == {"gun": 46, "sword": 44}
