"""COCO evaluation of detections on any Dataset, through pycocotools.

The ground truth is built in memory from `Dataset.load_mask` (so it works for
VIA, LabelMe, masks folders ... not only COCO files); crowd regions that a
reader stores in ``dataset.image_info[i]["crowd"]`` become ``iscrowd=1``
annotations. Detections are matterport result dicts (one per image)::

    {"rois": int32 [N, (y1, x1, y2, x2)] pixels at the original image size,
     "class_ids": int32 [N], "scores": float32 [N], "masks": bool [H, W, N]}

COCO ids: an image's COCO id is its internal Dataset image id and a category
id is the internal class id (BG = 0 is not a category). A results file written
here is evaluated against the same Dataset with `evaluate_coco_results_file`.

Metric values follow pycocotools: -1 means "undefined" (no ground truth in
that class or area range), not zero.
"""
import contextlib
import io
import json
import logging
import os
import time

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mrcnn import coco_report
from mrcnn.coco_report import STAT_NAMES
from mrcnn.data.export import encode_rle
from mrcnn.data.read_ahead import read_ahead

logger = logging.getLogger(__name__)

IOU_TYPES = ("bbox", "segm")
# The order of COCOeval.stats after summarize().
def normalize_iou_types(iou_type):
    """"segm" | "bbox" | a sequence of them -> a tuple without repeats."""
    types = (iou_type,) if isinstance(iou_type, str) else tuple(iou_type)
    types = tuple(dict.fromkeys(types))
    bad = [t for t in types if t not in IOU_TYPES]
    if bad or not types:
        raise ValueError(f"iou_type must be 'segm', 'bbox' or both, got {iou_type!r}")
    return types


def select_image_ids(dataset, image_ids=None, limit=None):
    """The image ids to evaluate as a list of int: `image_ids` (default: all
    of the dataset), cut to the first `limit` when given."""
    if not hasattr(dataset, "class_names"):
        raise ValueError("The dataset is not prepared: call dataset.prepare() before evaluating")
    ids = dataset.image_ids if image_ids is None else image_ids
    ids = [int(i) for i in ids]
    if limit is not None:
        ids = ids[:int(limit)]
    return ids


def encode_mask(mask):
    """bool [H, W] -> COCO compressed RLE dict with a str "counts" (JSON-ready);
    the COCO exporter's encoder (mrcnn.data.export.encode_rle)."""
    return encode_rle(np.asarray(mask))


def crowd_regions(dataset, image_id):
    """The crowd regions of an image as the readers store them: a list of
    dicts with "segmentation" (COCO polygons or RLE), "class_id" (internal id)
    and optionally "bbox" ([x, y, w, h]). An absent key means no crowd."""
    return list(dataset.image_info[image_id].get("crowd") or [])


def _crowd_rle(region, height, width):
    # Readers keep COCO's segmentation as written (polygons, uncompressed or
    # compressed RLE); drawing it the way the readers draw masks, then
    # encoding, checks its size against the image too.
    from mrcnn.data.rasterize import coco_segmentation_mask

    return encode_mask(coco_segmentation_mask(region["segmentation"], height, width))


def build_coco_gt(dataset, image_ids=None, limit=None, stats=None):
    """A pycocotools COCO object of the ground truth of `image_ids`.

    Instance masks come from `dataset.load_mask` (RLE-encoded, area = mask
    pixels), crowd regions from `crowd_regions` with iscrowd=1. Empty masks
    cannot be detected and are left out; their number is added to
    ``stats["skipped_empty_gt"]`` when a dict is given.
    """
    ids = select_image_ids(dataset, image_ids, limit)
    images, annotations = [], []
    skipped = 0

    def add(image_id, rle, class_id, iscrowd, bbox=None):
        annotations.append({
            "id": len(annotations) + 1,  # COCOeval treats id 0 as "unmatched"
            "image_id": image_id, "category_id": int(class_id),
            "segmentation": rle, "area": float(mask_utils.area(rle)),
            "bbox": [float(v) for v in (bbox if bbox is not None else mask_utils.toBbox(rle))],
            "iscrowd": iscrowd})

    for image_id in ids:
        masks, class_ids = dataset.load_mask(image_id)
        height, width = masks.shape[:2]
        images.append({"id": image_id, "height": int(height), "width": int(width),
                       "file_name": str(dataset.image_reference(image_id))})
        for i in range(masks.shape[-1]):
            if not masks[..., i].any():
                skipped += 1
                continue
            add(image_id, encode_mask(masks[..., i]), class_ids[i], 0)
        for region in crowd_regions(dataset, image_id):
            add(image_id, _crowd_rle(region, height, width), region["class_id"], 1,
                region.get("bbox"))
    if skipped:
        logger.warning("%d empty ground-truth masks left out of the evaluation", skipped)
    if stats is not None:
        stats["skipped_empty_gt"] = stats.get("skipped_empty_gt", 0) + skipped

    coco = COCO()
    coco.dataset = {
        "images": images, "annotations": annotations,
        "categories": [{"id": i, "name": str(name)}
                       for i, name in enumerate(dataset.class_names) if i > 0]}
    with contextlib.redirect_stdout(io.StringIO()):  # "creating index..." chatter
        coco.createIndex()
    return coco


def results_to_coco(dataset, image_ids, results):
    """Convert matterport result dicts to a list of COCO result dicts.

    image_ids: the internal image id of each result, in the same order.
    Returns: [{"image_id", "category_id", "bbox": [x, y, w, h] floats,
    "score", "segmentation": RLE (when the result has masks)}].
    """
    image_ids = [int(i) for i in image_ids]
    if len(image_ids) != len(results):
        raise ValueError(f"{len(results)} results for {len(image_ids)} image ids: "
                         "pass one result dict per image id, in the same order")
    out = []
    for image_id, r in zip(image_ids, results):
        rois = np.asarray(r["rois"]).reshape(-1, 4)
        masks = r.get("masks")
        if masks is not None:
            masks = np.asarray(masks)
            if masks.ndim != 3 or masks.shape[-1] != rois.shape[0]:
                raise ValueError(
                    f"Result for image {image_id}: masks have shape {masks.shape}, expected "
                    f"[H, W, {rois.shape[0]}] (one mask per roi, at the original image size)")
            info = dataset.image_info[image_id]
            expected = (info.get("height"), info.get("width"))
            if None not in expected and tuple(masks.shape[:2]) != tuple(expected):
                raise ValueError(
                    f"Result for image {image_id}: masks are {masks.shape[:2]} but the image is "
                    f"{expected}; detections must be unmolded to the original image size")
        out.extend({"image_id": image_id, **det} for det in result_instances(r))
    return out


def result_instances(result):
    """One detect() result's instances as COCO result fields, in its order:
    [{"category_id", "bbox": [x, y, w, h] floats, "score", "segmentation":
    RLE (when the result has masks)}].

    result: "rois" [N, (y1, x1, y2, x2)], "class_ids" [N], "scores" [N],
        optional "masks" bool [H, W, N].
    """
    rois = np.asarray(result["rois"]).reshape(-1, 4)
    masks = result.get("masks")
    instances = []
    for i in range(rois.shape[0]):
        y1, x1, y2, x2 = (float(v) for v in rois[i])
        det = {"category_id": int(result["class_ids"][i]), "bbox": [x1, y1, x2 - x1, y2 - y1],
               "score": float(result["scores"][i])}
        if masks is not None:
            det["segmentation"] = encode_mask(np.asarray(masks)[..., i])
        instances.append(det)
    return instances


def write_coco_results(path, coco_results=None, dataset=None, image_ids=None, results=None):
    """Write detections as a COCO results json (a list of result dicts).

    Give either `coco_results` (from `results_to_coco`) or `dataset`,
    `image_ids` and matterport `results`. The file is written atomically.
    Returns: the path.
    """
    if coco_results is None:
        if dataset is None or image_ids is None or results is None:
            raise ValueError("write_coco_results needs coco_results, or dataset, image_ids and results")
        coco_results = results_to_coco(dataset, image_ids, results)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(coco_results, f)
    os.replace(tmp, path)
    return path


def detect_batch_size(detect_fn):
    """Images per detect() call: the model's BATCH_SIZE when detect_fn is a
    bound MaskRCNN.detect (matterport's detect wants exactly that many), else 1."""
    config = getattr(getattr(detect_fn, "__self__", None), "config", None)
    return int(getattr(config, "BATCH_SIZE", 1) or 1)


def run_detection(detect_fn, dataset, image_ids, batch_size=None, progress=True, desc="detect"):
    """Run `detect_fn` over images, in batches of `batch_size`.

    Yields (image_id, image uint8 [H, W, 3], result dict) per image. The last
    batch is padded by repeating its last image; the extra results are dropped.
    """
    from tqdm.auto import tqdm

    batch_size = batch_size or detect_batch_size(detect_fn)
    batches = [tuple(image_ids[start:start + batch_size])
               for start in range(0, len(image_ids), batch_size)]
    # The next batches decode in threads while this one is detected.
    loaded = read_ahead(lambda ids: [dataset.load_image(i) for i in ids], batches)
    with tqdm(total=len(image_ids), desc=desc, unit="img", disable=not progress) as bar:
        for ids, images, error in loaded:
            if error is not None:
                raise error
            padded = images + [images[-1]] * (batch_size - len(images))
            results = detect_fn(padded)
            if len(results) != len(padded):
                raise ValueError(f"detect_fn returned {len(results)} results for {len(padded)} "
                                 "images; it must return one result dict per image")
            for image_id, image, result in zip(ids, images, results):
                yield image_id, image, result
            bar.update(len(ids))


def coco_metrics(coco_gt, coco_results, iou_types, class_names,
                 confusion_score_threshold=0.5):
    """Run COCOeval for each iou type and gather everything into a dict.

    coco_gt: COCO ground truth (`build_coco_gt`).
    coco_results: list of COCO result dicts (copied: pycocotools edits them).
    Returns: {iou_type: {"AP", "AP50", ..., "ARl", "per_class", "pr_curves",
    "confusion"}} with plain Python values.
    """
    out = {}
    for iou_type in normalize_iou_types(iou_types):
        if iou_type == "segm" and any("segmentation" not in d for d in coco_results):
            raise ValueError("Segmentation evaluation needs masks in every detection; "
                             "use iou_type='bbox' for box-only results")
        coco_dt = load_results(coco_gt, coco_results)
        evaluator = COCOeval(coco_gt, coco_dt, iou_type)
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        block = {name: float(v) for name, v in zip(STAT_NAMES, evaluator.stats)}
        block["per_class"] = coco_report.per_class_metrics(evaluator, coco_dt, class_names)
        block["pr_curves"] = coco_report.pr_curves(evaluator, class_names)
        block["confusion"] = coco_report.confusion_summary(
            coco_gt, coco_dt, iou_type, class_names, score_threshold=confusion_score_threshold)
        out[iou_type] = block
    return out


def load_results(coco_gt, coco_results):
    """COCO.loadRes on a deep copy (it edits the dicts); an empty list gives
    an empty result set (loadRes itself fails on one)."""
    if not coco_results:
        coco_dt = COCO()
        coco_dt.dataset = {"images": list(coco_gt.dataset["images"]), "annotations": [],
                           "categories": list(coco_gt.dataset["categories"])}
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt.createIndex()
        return coco_dt
    copied = [dict(d, bbox=list(d["bbox"])) if "bbox" in d else dict(d) for d in coco_results]
    with contextlib.redirect_stdout(io.StringIO()):
        return coco_gt.loadRes(copied)


def evaluate_coco(dataset, detect_fn=None, results=None, image_ids=None, iou_type="segm",
                  limit=None, progress=True, batch_size=None, results_path=None,
                  confusion_score_threshold=0.5):
    """COCO evaluation of a model (or of given results) on a Dataset.

    dataset: a prepared Dataset.
    detect_fn: list of images (uint8 [H, W, 3]) -> list of result dicts, e.g.
        `model.detect`. Run with a progress bar over images.
    results: instead of detect_fn, one result dict per image of `image_ids`.
    image_ids, limit: the images to evaluate (default all; the first `limit`).
    iou_type: "segm", "bbox" or ("bbox", "segm").
    batch_size: images per detect_fn call (default: the model's BATCH_SIZE).
    results_path: also write the detections there as a COCO results json.

    Returns: a JSON-serialisable dict: "num_images", "iou_types",
    "num_detections", "skipped_empty_gt", "seconds_per_image" and per iou
    type the 12 COCO numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10,
    AR100, ARs, ARm, ARl), "per_class", "pr_curves" and "confusion".
    """
    iou_types = normalize_iou_types(iou_type)
    ids = select_image_ids(dataset, image_ids, limit)
    if (detect_fn is None) == (results is None):
        raise ValueError("evaluate_coco needs exactly one of detect_fn or results")
    seconds = None
    if detect_fn is not None:
        coco_results = []
        start = time.perf_counter()
        # Results are encoded image by image so masks of all images never sit
        # in memory together.
        for image_id, _, r in run_detection(detect_fn, dataset, ids, batch_size,
                                            progress, desc="COCO evaluation"):
            coco_results.extend(results_to_coco(dataset, [image_id], [r]))
        seconds = (time.perf_counter() - start) / max(len(ids), 1)
    else:
        if len(results) != len(ids):
            raise ValueError(f"{len(results)} results for {len(ids)} images: pass one result "
                             "dict per image id (after `limit`)")
        coco_results = results_to_coco(dataset, ids, results)
    if results_path:
        write_coco_results(results_path, coco_results)
    return _evaluate(dataset, ids, coco_results, iou_types, seconds, confusion_score_threshold)


def evaluate_coco_results_file(dataset, path, image_ids=None, iou_type="segm", limit=None,
                               confusion_score_threshold=0.5):
    """Evaluate a COCO results json written by `write_coco_results`.

    Pass the same `image_ids`/`limit` that produced the file: images without
    detections still count, so evaluating on more images lowers recall.
    """
    iou_types = normalize_iou_types(iou_type)
    ids = select_image_ids(dataset, image_ids, limit)
    with open(path) as f:
        coco_results = json.load(f)
    if not isinstance(coco_results, list):
        raise ValueError(f"{path} is not a COCO results file (a JSON list of detections)")
    unknown = sorted({d["image_id"] for d in coco_results} - set(ids))
    if unknown:
        raise ValueError(f"{path} has detections for {len(unknown)} images outside the evaluated "
                         f"ones (first: {unknown[:5]}); pass the image_ids/limit used to write it")
    return _evaluate(dataset, ids, coco_results, iou_types, None, confusion_score_threshold)


def _evaluate(dataset, ids, coco_results, iou_types, seconds, confusion_score_threshold):
    stats = {}
    coco_gt = build_coco_gt(dataset, ids, stats=stats)
    metrics = {"num_images": len(ids), "iou_types": list(iou_types),
               "num_detections": len(coco_results),
               "skipped_empty_gt": stats.get("skipped_empty_gt", 0),
               "seconds_per_image": seconds}
    metrics.update(coco_metrics(coco_gt, coco_results, iou_types, dataset.class_names,
                                confusion_score_threshold))
    return metrics
