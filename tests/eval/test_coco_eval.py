"""COCO evaluation: agreement with pycocotools run directly, crowd, files, detect_fn."""
import contextlib
import io
import json

import numpy as np
import pytest
from eval_shapes import H, W, disk, gt_results, make_dataset, square
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mrcnn.boxes import extract_bboxes
from mrcnn.evaluation import (
    build_coco_gt,
    evaluate_coco,
    evaluate_coco_results_file,
    format_metrics_table,
    results_to_coco,
    write_coco_results,
)

STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def noisy_results(ds, seed=0):
    """Shifted masks, a wrong class, false positives and random scores."""
    rng = np.random.default_rng(seed)
    out = []
    for r in gt_results(ds):
        masks = r["masks"].copy()
        for i in range(masks.shape[-1]):
            masks[..., i] = np.roll(masks[..., i], rng.integers(-4, 5, 2), axis=(0, 1))
        class_ids = r["class_ids"].copy()
        extra = square(int(rng.integers(0, 40)), int(rng.integers(0, 60)), 12)
        masks = np.concatenate([masks, extra[..., None]], -1)
        class_ids = np.append(class_ids, 2).astype(np.int32)
        out.append({"rois": extract_bboxes(masks), "class_ids": class_ids,
                    "scores": rng.uniform(0.3, 1.0, len(class_ids)).astype(np.float32),
                    "masks": masks})
    out[0]["class_ids"][0] = 2  # a square called a circle
    return out


def direct_cocoeval(gt_path, res_path, iou_type, cat_ids=None):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        ev = COCOeval(gt, gt.loadRes(res_path), iou_type)
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_perfect_detections_score_one():
    ds = make_dataset()
    m = evaluate_coco(ds, results=gt_results(ds), iou_type=("bbox", "segm"), progress=False)
    for t in ("bbox", "segm"):
        assert m[t]["AP"] == pytest.approx(1.0)
        assert m[t]["AR100"] == pytest.approx(1.0)
        assert [r["AP"] for r in m[t]["per_class"]] == pytest.approx([1.0, 1.0])
        assert [r["num_gt"] for r in m[t]["per_class"]] == [5, 3]
        conf = np.array(m[t]["confusion"]["matrix"])
        assert conf.tolist() == [[0, 0, 0], [0, 5, 0], [0, 0, 3]]
    json.dumps(m)  # JSON-serialisable


def test_agrees_with_pycocotools_on_the_same_json(tmp_path):
    ds = make_dataset()
    results = noisy_results(ds)
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(build_coco_gt(ds).dataset))
    res_path = str(tmp_path / "res.json")
    write_coco_results(res_path, dataset=ds, image_ids=ds.image_ids, results=results)
    ours = evaluate_coco(ds, results=results, iou_type=("bbox", "segm"), progress=False)
    from_file = evaluate_coco_results_file(ds, res_path, iou_type=("bbox", "segm"))
    for t in ("bbox", "segm"):
        direct = direct_cocoeval(str(gt_path), res_path, t)
        assert [ours[t][n] for n in STATS] == pytest.approx(list(direct), abs=1e-12)
        assert [from_file[t][n] for n in STATS] == pytest.approx(list(direct), abs=1e-12)
        # Per-class AP is COCOeval restricted to that one category.
        for row in ours[t]["per_class"]:
            single = direct_cocoeval(str(gt_path), res_path, t, cat_ids=[row["class_id"]])
            assert row["AP"] == pytest.approx(single[0], abs=1e-12)
            assert row["AP50"] == pytest.approx(single[1], abs=1e-12)
    assert 0.0 < ours["segm"]["AP"] < 1.0


def test_crowd_regions_are_ignored_not_false_positives():
    ds = make_dataset()
    results = gt_results(ds)
    # A circle detection on the crowd region of image 3.
    crowd_det = disk(15, 70, 8)
    r = results[3]
    r["masks"] = np.concatenate([r["masks"], crowd_det[..., None]], -1)
    r["class_ids"] = np.array([1, 2], np.int32)
    r["scores"] = np.array([0.9, 0.95], np.float32)
    r["rois"] = extract_bboxes(r["masks"])
    m = evaluate_coco(ds, results=results, progress=False)
    assert m["segm"]["AP"] == pytest.approx(1.0)
    assert m["segm"]["confusion"]["matrix"][0] == [0, 0, 0]
    gt = build_coco_gt(ds)
    crowd = [a for a in gt.dataset["annotations"] if a["iscrowd"]]
    assert len(crowd) == 1 and crowd[0]["category_id"] == 2
    assert crowd[0]["area"] == pytest.approx(20 * 31, rel=0.1)
    # Without the crowd region the same detection is a false positive.
    del ds.image_info[3]["crowd"]
    m2 = evaluate_coco(ds, results=results, progress=False)
    assert m2["segm"]["AP"] < 1.0
    assert m2["segm"]["confusion"]["matrix"][0] == [0, 0, 1]


def test_crowd_as_rle_dict():
    from pycocotools import mask as mask_utils

    ds = make_dataset()
    rle = mask_utils.encode(np.asfortranarray(square(0, 60, 20).astype(np.uint8)))
    ds.image_info[3]["crowd"] = [{"segmentation": rle, "class_id": 2, "bbox": [60, 0, 20, 20]}]
    crowd = [a for a in build_coco_gt(ds).dataset["annotations"] if a["iscrowd"]]
    assert crowd[0]["area"] == 400 and crowd[0]["bbox"] == [60, 0, 20, 20]


def test_confusion_wrong_class_missed_and_background():
    ds = make_dataset()
    results = gt_results(ds, [0])
    r = results[0]
    r["class_ids"] = np.array([2, 2], np.int32)  # the square is called a circle
    r["masks"] = r["masks"][..., :1].copy()  # ... and the circle is missed
    r["masks"] = np.concatenate([r["masks"], square(40, 0, 10)[..., None]], -1)  # on nothing
    r["rois"] = extract_bboxes(r["masks"])
    m = evaluate_coco(ds, results=results, image_ids=[0], progress=False)
    conf = m["segm"]["confusion"]
    assert conf["matrix"] == [[0, 0, 1], [0, 0, 1], [1, 0, 0]]
    assert {"gt": "square", "predicted": "circle", "count": 1} in conf["top_confusions"]
    assert {"gt": "circle", "predicted": "missed", "count": 1} in conf["top_confusions"]
    assert m["segm"]["AP"] == 0.0


class FakeModel:
    """A detect() that insists on BATCH_SIZE images, like matterport's."""

    class config:
        BATCH_SIZE = 3

    def __init__(self, ds):
        self.ds, self.calls = ds, 0
        self.by_image = {id(ds.load_image(i)): r for i, r in zip(ds.image_ids, gt_results(ds))}

    def detect(self, images):
        assert len(images) == self.config.BATCH_SIZE
        self.calls += 1
        return [self.by_image[id(im)] for im in images]


def test_detect_fn_batches_pads_and_writes_results(tmp_path):
    ds = make_dataset()
    model = FakeModel(ds)
    path = str(tmp_path / "dets.json")
    m = evaluate_coco(ds, detect_fn=model.detect, iou_type="bbox", progress=False,
                      results_path=path)
    assert model.calls == 2  # 4 images in batches of 3
    assert m["bbox"]["AP"] == pytest.approx(1.0)
    assert m["num_detections"] == 8 and m["seconds_per_image"] >= 0
    assert len(json.load(open(path))) == 8
    limited = evaluate_coco(ds, detect_fn=model.detect, limit=1, progress=False)
    assert limited["num_images"] == 1 and limited["segm"]["per_class"][0]["num_gt"] == 1


def test_no_detections_and_empty_gt_masks():
    ds = make_dataset()
    empty = {"rois": np.zeros((0, 4), np.int32), "class_ids": np.zeros(0, np.int32),
             "scores": np.zeros(0, np.float32), "masks": np.zeros((H, W, 0), bool)}
    m = evaluate_coco(ds, results=[empty] * 4, progress=False)
    assert m["segm"]["AP"] == 0.0 and m["num_detections"] == 0
    ds.image_info[0]["masks"] = np.concatenate(
        [ds.image_info[0]["masks"], np.zeros((H, W, 1), bool)], -1)
    ds.image_info[0]["class_ids"] = np.array([1, 2, 1], np.int32)
    m = evaluate_coco(ds, results=gt_results(ds), progress=False)
    assert m["skipped_empty_gt"] == 1


def test_errors_name_the_fault():
    ds = make_dataset()
    results = gt_results(ds)
    with pytest.raises(ValueError, match="one result dict per image"):
        evaluate_coco(ds, results=results[:2], progress=False)
    bad = dict(results[0], masks=results[0]["masks"][:32])
    with pytest.raises(ValueError, match="original image size"):
        results_to_coco(ds, [0], [bad])
    with pytest.raises(ValueError, match="iou_type"):
        evaluate_coco(ds, results=results, iou_type="keypoints")
    boxes_only = [{k: v for k, v in r.items() if k != "masks"} for r in results]
    with pytest.raises(ValueError, match="iou_type='bbox'"):
        evaluate_coco(ds, results=boxes_only, progress=False)
    assert evaluate_coco(ds, results=boxes_only, iou_type="bbox")["bbox"]["AP"] == 1.0


def test_table_lists_metrics_classes_and_confusions():
    ds = make_dataset()
    m = evaluate_coco(ds, results=noisy_results(ds), iou_type=("bbox", "segm"), progress=False,
                      confusion_score_threshold=0.0)
    table = format_metrics_table(m)
    assert "AP50" in table and "square" in table and "circle" in table
    assert f"{m['segm']['AP']:5.3f}" in table
    assert "square -> circle" in table
    curves = m["segm"]["pr_curves"]
    assert len(curves["recall"]) == 101
    assert len(curves["classes"][0]["precision_iou50"]) == 101
