"""`evaluate`: COCO metrics (pycocotools) and matterport's mAP@0.5 of a
checkpoint on the held-out part of a dataset.

The part is `--subset` (default: test when the data has one, else val), split
exactly as `train` split it (same flags, same seed). Detections run once,
with a progress bar; the COCO results json and the metrics are written to
`--out` (default: beside the weights when they are a run's checkpoint).
"""
import json
import os
import tempfile
import time

import numpy as np

from mrcnn.boxes import extract_bboxes
from mrcnn.coco_eval import (evaluate_coco_results_file, results_to_coco, run_detection,
                             select_image_ids, write_coco_results)
from mrcnn.coco_report import print_metrics_table
from mrcnn.commands import UsageError
from mrcnn.commands.datasets import load_parts, problem_lines
from mrcnn.commands.project import parse_set_values, reconcile_classes
from mrcnn.commands.session import configure, load_model
from mrcnn.evaluation import EVALUATION_MIN_CONFIDENCE, compute_ap

# --iou-type -> evaluate_coco's iou_type
IOU_TYPES = {"segm": "segm", "bbox": "bbox", "both": ("bbox", "segm")}


def default_out_dir(weights_path, logs, subset):
    """`<run>/evaluation_<checkpoint>_<subset>/` for a checkpoint under
    --logs; None (print only) for other weights."""
    if not weights_path:
        return None
    logs = os.path.abspath(logs)
    if not os.path.abspath(weights_path).startswith(logs + os.sep):
        return None
    stem = os.path.splitext(os.path.basename(weights_path))[0]
    return os.path.join(os.path.dirname(weights_path), f"evaluation_{stem}_{subset}")


def image_ap(dataset, image_id, result, iou_threshold=0.5):
    """matterport's AP@iou_threshold of one image's result against its
    ground truth (at the original size); None for an image without
    instances (AP is undefined there)."""
    gt_masks, gt_class_ids = dataset.load_mask(image_id)
    if len(gt_class_ids) == 0:
        return None
    ap, _, _, _ = compute_ap(extract_bboxes(gt_masks), gt_class_ids, gt_masks, result["rois"],
                             result["class_ids"], result["scores"], result["masks"],
                             iou_threshold=iou_threshold)
    return float(ap)


def detect_and_score(model, dataset, image_ids, progress=True):
    """Run detection once over `image_ids`. Returns (COCO result dicts,
    matterport APs per image with instances, seconds per image)."""
    coco_results, aps = [], []
    start = time.perf_counter()
    for image_id, _, result in run_detection(model.detect, dataset, image_ids, batch_size=1,
                                             progress=progress, desc="evaluate"):
        coco_results.extend(results_to_coco(dataset, [image_id], [result]))
        ap = image_ap(dataset, image_id, result)
        if ap is not None:
            aps.append(ap)
    return coco_results, aps, (time.perf_counter() - start) / max(len(image_ids), 1)


def evaluation_min_confidence(args):
    """The score threshold `evaluate` detects with: --min-confidence, else an
    explicit --set DETECTION_MIN_CONFIDENCE, else EVALUATION_MIN_CONFIDENCE
    (a config's DETECTION_MIN_CONFIDENCE is a deployment setting)."""
    if getattr(args, "min_confidence", None) is not None:
        return float(args.min_confidence)
    explicit = parse_set_values(getattr(args, "set", None)).get("DETECTION_MIN_CONFIDENCE")
    return float(explicit) if explicit is not None else EVALUATION_MIN_CONFIDENCE


def run_evaluate(args, project):
    """Evaluate; returns the exit code."""
    config, path, _ = configure(project, args, "inference")
    config.DETECTION_MIN_CONFIDENCE = evaluation_min_confidence(args)
    parts, how = load_parts(project.dataset_loader, args.dataset, config,
                            options=args.reader_options, val_path=args.val_dataset,
                            val_fraction=args.val_fraction, seed=args.seed)
    subset = args.subset or ("test" if parts.get("test") is not None else "val")
    dataset = parts.get(subset)
    if dataset is None:
        raise UsageError(f"--subset {subset}: the dataset has no {subset} part ({how}); "
                         f"use one of {[k for k, v in parts.items() if v is not None]}")
    reconcile_classes(config, dataset.class_names)
    config.validate()
    for line in problem_lines(parts):
        print(f"  {line}")
    model, _ = load_model("inference", config, args, path)
    image_ids = select_image_ids(dataset, limit=args.limit)
    print(f"Evaluating {len(image_ids)} {subset} images ({how}), detections scoring "
          f">= {config.DETECTION_MIN_CONFIDENCE:g}")
    coco_results, aps, seconds = detect_and_score(model, dataset, image_ids)

    out_dir = args.out or default_out_dir(path, args.logs, subset)
    with tempfile.TemporaryDirectory() as tmp:
        results_path = os.path.join(out_dir or tmp, "coco_results.json")
        write_coco_results(results_path, coco_results)
        metrics = evaluate_coco_results_file(dataset, results_path, image_ids=image_ids,
                                             iou_type=IOU_TYPES[args.iou_type])
    metrics["seconds_per_image"] = seconds
    metrics["matterport_mAP50"] = float(np.mean(aps)) if aps else None
    metrics["subset"], metrics["weights"] = subset, path or args.weights
    metrics["min_confidence"] = config.DETECTION_MIN_CONFIDENCE
    print_metrics_table(metrics)
    if aps:
        print(f"mAP@0.5 over {len(aps)} held-out images: {metrics['matterport_mAP50']:.3f} "
              "(matterport's compute_ap, images with instances)")
    if out_dir:
        with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=1)
        print(f"Wrote {os.path.join(out_dir, 'metrics.json')} and coco_results.json")
    return 0
