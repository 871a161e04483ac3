"""`evaluate`: COCO metrics (pycocotools) and matterport's mAP@0.5 of a
checkpoint on the held-out part of a dataset.

The part is `--subset` (default: test when the data has one, else val), split
exactly as `train` split it (same flags, same seed). Detections run once,
with a progress bar; the COCO results json and the metrics are written to
`--out` (default: beside the weights when they are a run's checkpoint),
with pictures of the evaluation (mrcnn.evaluation_plots): precision-recall
curves, confusion matrix, per-class AP bars and the worst images; for a run's
checkpoint the same pictures go to TensorBoard, `<run>/evaluation`, at the
checkpoint's epoch.
"""
import json
import os
import tempfile
import time

import numpy as np

from mrcnn.boxes import extract_bboxes
from mrcnn.coco_eval import (
    evaluate_coco_results_file,
    results_to_coco,
    run_detection,
    select_image_ids,
    write_coco_results,
)
from mrcnn.coco_report import print_metrics_table
from mrcnn.commands import UsageError
from mrcnn.commands.datasets import load_parts, problem_lines
from mrcnn.commands.project import parse_set_values, reconcile_classes
from mrcnn.commands.session import configure, load_model
from mrcnn.evaluation import (
    EVALUATION_MIN_CONFIDENCE,
    compute_ap,
    confusion_errors,
    image_confusion,
)

# --iou-type -> evaluate_coco's iou_type
IOU_TYPES = {"segm": "segm", "bbox": "bbox", "both": ("bbox", "segm")}
# The score from which the confusion matrix and the worst images count a
# detection when evaluate is not told a threshold: at its default 0 every
# low-score detection would be a false positive.
CONFUSION_MIN_CONFIDENCE = 0.5
# TensorBoard run (a folder of the training run) of the evaluation pictures.
TENSORBOARD_RUN = "evaluation"


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


def ground_truth(dataset, image_id):
    """An image's instances as a result dict ("rois", "class_ids", "masks"),
    without empty masks (the COCO evaluation leaves them out too)."""
    masks, class_ids = dataset.load_mask(image_id)
    keep = np.asarray(masks).reshape(-1, masks.shape[-1]).any(axis=0)
    masks = np.asarray(masks)[..., keep]
    return {"rois": extract_bboxes(masks), "class_ids": np.asarray(class_ids)[keep],
            "masks": masks}


def image_ap(dataset, image_id, result, iou_threshold=0.5, gt=None):
    """matterport's AP@iou_threshold of one image's result against its
    ground truth (at the original size; `gt` when already loaded); None for
    an image without instances (AP is undefined there)."""
    if gt is None:
        gt_masks, gt_class_ids = dataset.load_mask(image_id)
        gt = {"rois": extract_bboxes(gt_masks), "class_ids": gt_class_ids, "masks": gt_masks}
    if len(gt["class_ids"]) == 0:
        return None
    ap, _, _, _ = compute_ap(gt["rois"], gt["class_ids"], gt["masks"], result["rois"],
                             result["class_ids"], result["scores"], result["masks"],
                             iou_threshold=iou_threshold)
    return float(ap)


class WorstImages:
    """The `count` images with the most errors seen so far, with what the
    gallery draws of them (only those stay in memory).

    iou_type: how predictions are matched to ground truth ("segm" | "bbox");
    score_threshold: predictions scoring less are left out.
    """

    def __init__(self, count, num_classes, iou_type="segm", score_threshold=0.5):
        self.count, self.num_classes = count, num_classes
        self.iou_type, self.score_threshold = iou_type, score_threshold
        self.errors = {}
        self.kept = []

    def add(self, image_id, reference, image, gt, result):
        matrix = image_confusion(gt, result, self.num_classes, self.iou_type,
                                 score_threshold=self.score_threshold)
        self.errors[image_id] = confusion_errors(matrix)
        if not self.count or not self.errors[image_id]["errors"]:
            return
        keep = np.asarray(result["scores"]) >= self.score_threshold
        shown = {"rois": np.asarray(result["rois"])[keep],
                 "class_ids": np.asarray(result["class_ids"])[keep],
                 "scores": np.asarray(result["scores"])[keep],
                 "masks": np.asarray(result["masks"])[..., keep]}
        self.kept.append((image_id, reference, image, gt, shown, matrix))
        self.kept.sort(key=lambda e: (-self.errors[e[0]]["errors"], e[0]))
        del self.kept[self.count:]


def detect_and_score(model, dataset, image_ids, progress=True, worst=None):
    """Run detection once over `image_ids`. Returns (COCO result dicts,
    matterport APs per image with instances, seconds per image); each image
    also goes to `worst` (a WorstImages) when given."""
    coco_results, aps = [], []
    start = time.perf_counter()
    for image_id, image, result in run_detection(model.detect, dataset, image_ids, batch_size=1,
                                                 progress=progress, desc="evaluate"):
        coco_results.extend(results_to_coco(dataset, [image_id], [result]))
        gt = ground_truth(dataset, image_id)
        ap = image_ap(dataset, image_id, result, gt=gt)
        if ap is not None:
            aps.append(ap)
        if worst is not None:
            worst.add(image_id, os.path.basename(str(dataset.image_reference(image_id))),
                      image, gt, result)
    return coco_results, aps, (time.perf_counter() - start) / max(len(image_ids), 1)


def evaluation_min_confidence(args):
    """The score threshold `evaluate` detects with: --min-confidence, else an
    explicit --set DETECTION_MIN_CONFIDENCE, else EVALUATION_MIN_CONFIDENCE
    (a config's DETECTION_MIN_CONFIDENCE is a deployment setting)."""
    if getattr(args, "min_confidence", None) is not None:
        return float(args.min_confidence)
    explicit = parse_set_values(getattr(args, "set", None)).get("DETECTION_MIN_CONFIDENCE")
    return float(explicit) if explicit is not None else EVALUATION_MIN_CONFIDENCE


def confusion_min_confidence(args):
    """The score threshold of the confusion matrix and the worst images:
    the evaluation's when it is told one, else CONFUSION_MIN_CONFIDENCE."""
    told = getattr(args, "min_confidence", None) is not None or parse_set_values(
        getattr(args, "set", None)).get("DETECTION_MIN_CONFIDENCE") is not None
    return evaluation_min_confidence(args) if told else CONFUSION_MIN_CONFIDENCE


def evaluation_pictures(metrics, class_names, worst):
    """{file name: uint8 RGB [H, W, 3]}: per iou type pr_curves_<t>.png,
    confusion_<t>.png and per_class_ap_<t>.png, and worst_images.png when
    `worst` kept images."""
    from mrcnn import evaluation_plots as plots

    pictures = {}
    for t in metrics["iou_types"]:
        title = f"{t}, {metrics['num_images']} {metrics.get('subset', '')} images"
        pictures[f"pr_curves_{t}.png"] = plots.plot_pr_curves(
            metrics[t]["pr_curves"], len(class_names), title)
        pictures[f"confusion_{t}.png"] = plots.plot_confusion(metrics[t]["confusion"], title)
        pictures[f"per_class_ap_{t}.png"] = plots.plot_per_class_ap(
            metrics[t]["per_class"], f"AP per class, {title}")
    gallery = plots.plot_gallery(worst.kept, class_names)
    if gallery is not None:
        pictures["worst_images.png"] = gallery
    return pictures


def write_tensorboard_images(log_dir, pictures, step, prefix):
    """Each picture as a TensorBoard image `<prefix>/<file stem>` at `step`
    in `log_dir`."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for name, pixels in pictures.items():
            tf.summary.image(f"{prefix}/{os.path.splitext(name)[0]}", pixels[None], step=step)
    writer.close()


def run_of(path, config):
    """(run folder, epoch) when `path` is a checkpoint of a training run of
    config.NAME, else None."""
    from mrcnn.training.checkpoints import continued_run

    return continued_run(path, config.NAME.lower()) if path else None


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
    iou_types = IOU_TYPES[args.iou_type]
    confusion_score = confusion_min_confidence(args)
    worst = WorstImages(getattr(args, "worst", 8), len(dataset.class_names),
                        "segm" if "segm" in iou_types else "bbox", confusion_score)
    coco_results, aps, seconds = detect_and_score(model, dataset, image_ids, worst=worst)

    out_dir = args.out or default_out_dir(path, args.logs, subset)
    with tempfile.TemporaryDirectory() as tmp:
        results_path = os.path.join(out_dir or tmp, "coco_results.json")
        write_coco_results(results_path, coco_results)
        metrics = evaluate_coco_results_file(dataset, results_path, image_ids=image_ids,
                                             iou_type=iou_types,
                                             confusion_score_threshold=confusion_score)
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
        pictures = evaluation_pictures(metrics, dataset.class_names, worst)
        from mrcnn.evaluation_plots import save_png

        for name, pixels in pictures.items():
            save_png(pixels, os.path.join(out_dir, name))
        print(f"Wrote {', '.join(pictures)} to {out_dir}")
        run = run_of(path, config)
        if run:
            log_dir = os.path.join(run[0], TENSORBOARD_RUN)
            write_tensorboard_images(log_dir, pictures, run[1], f"evaluation_{subset}")
            print(f"TensorBoard: the pictures in {log_dir} at epoch {run[1]}")
    return 0
