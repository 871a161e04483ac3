"""Keras callbacks that measure and show the model on validation images
during training.

- `CocoEvalCallback`: COCO mAP on the validation set every K epochs, logged
  to TensorBoard and added to the epoch's `logs` as ``val_mAP`` and
  ``val_mAP50`` (so `ModelCheckpoint(monitor="val_mAP", mode="max")`,
  `EarlyStopping` and `CSVLogger` see it), with an optional best-by-mAP
  checkpoint.
- `TensorBoardImagesCallback`: a few validation images with ground truth
  and predictions side by side, every K epochs.

Both take a `detect_fn_factory`: called once per evaluated epoch, it returns
a function ``detect_fn(list of uint8 [H, W, 3] images) -> list of result
dicts`` that uses the current training weights (e.g. an inference model
refreshed from the training model, then its bound `detect`).

TensorBoard layout: scalars and images go to ``<log_dir>/validation`` (the
run where Keras' TensorBoard callback puts the validation losses), scalars
tagged ``epoch_mAP``, ``epoch_mAP50`` like Keras' own ``epoch_<metric>``,
images tagged ``ground_truth_vs_prediction/image_<id>``; the step is the
0-based epoch, as Keras uses it.
"""
import json
import logging
import math
import os

import keras
import numpy as np

from mrcnn.boxes import extract_bboxes
from mrcnn.coco_eval import evaluate_coco, normalize_iou_types, run_detection, select_image_ids
from mrcnn.drawing import draw_instances, side_by_side

logger = logging.getLogger(__name__)

VALIDATION_RUN = "validation"


def _due(epoch, every_n_epochs):
    return every_n_epochs > 0 and (epoch + 1) % every_n_epochs == 0


class _SummaryWriterMixin:
    """A tf.summary file writer opened on first use, closed at train end."""

    _writer = None

    def _summary_writer(self):
        if self._writer is None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, VALIDATION_RUN))
        return self._writer

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class CocoEvalCallback(_SummaryWriterMixin, keras.callbacks.Callback):
    """COCO evaluation of the training model on a validation Dataset.

    dataset: a prepared Dataset (validation images).
    detect_fn_factory: () -> detect_fn using the current weights.
    every_n_epochs: evaluate after epochs K, 2K, ... (0 turns it off).
    log_dir: TensorBoard folder (scalars in log_dir/validation, metrics JSON
        per evaluation in log_dir/coco_eval/epoch_NNNN.json); None: no files.
    limit, image_ids: evaluate the first `limit` of `image_ids` (default all).
    iou_type: "segm", "bbox" or both; the first one gives val_mAP.
    best_checkpoint_path: save the weights there whenever val_mAP improves
        ("{epoch}" in it is filled in). Saved with `save_fn(model, path)`,
        default matterport-layout HDF5 (`mrcnn.weights.save_weights_h5`).
    Must come before ModelCheckpoint/EarlyStopping in the callback list so
    that they see val_mAP in the same epoch.

    After each evaluation, `last_metrics` holds the full metrics dict and
    `best` the best val_mAP so far.
    """

    def __init__(self, dataset, detect_fn_factory, every_n_epochs=1, log_dir=None, limit=None,
                 iou_type="segm", best_checkpoint_path=None, image_ids=None, progress=True,
                 batch_size=None, save_fn=None):
        super().__init__()
        self.dataset = dataset
        self.detect_fn_factory = detect_fn_factory
        self.every_n_epochs = int(every_n_epochs)
        self.log_dir = log_dir
        self.image_ids = select_image_ids(dataset, image_ids, limit)
        self.iou_types = normalize_iou_types(iou_type)
        self.best_checkpoint_path = best_checkpoint_path
        self.progress = progress
        self.batch_size = batch_size
        self.save_fn = save_fn
        self.best = -math.inf
        self.last_metrics = None

    def scalars(self, metrics):
        """{"mAP", "mAP50"} of the first iou type, plus "<type>_mAP(50)" for
        each type when several are evaluated."""
        first = metrics[self.iou_types[0]]
        out = {"mAP": first["AP"], "mAP50": first["AP50"]}
        if len(self.iou_types) > 1:
            for t in self.iou_types:
                out[f"{t}_mAP"] = metrics[t]["AP"]
                out[f"{t}_mAP50"] = metrics[t]["AP50"]
        return out

    def on_epoch_end(self, epoch, logs=None):
        if not _due(epoch, self.every_n_epochs):
            return
        metrics = evaluate_coco(self.dataset, detect_fn=self.detect_fn_factory(),
                                image_ids=self.image_ids, iou_type=self.iou_types,
                                progress=self.progress, batch_size=self.batch_size)
        scalars = self.scalars(metrics)
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in scalars.items()})
        self.last_metrics = metrics
        if self.log_dir:
            self._log(epoch, scalars, metrics)
        logger.info("epoch %d: val_mAP %.4f, val_mAP50 %.4f on %d images", epoch + 1,
                    scalars["mAP"], scalars["mAP50"], metrics["num_images"])
        if scalars["mAP"] > self.best:
            self.best = scalars["mAP"]
            if self.best_checkpoint_path:
                self._save_best(epoch, scalars["mAP"])

    def _log(self, epoch, scalars, metrics):
        import tensorflow as tf

        writer = self._summary_writer()
        with writer.as_default():
            for name, value in scalars.items():
                tf.summary.scalar(f"epoch_{name}", value, step=epoch)
        writer.flush()
        folder = os.path.join(self.log_dir, "coco_eval")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"epoch_{epoch + 1:04d}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(metrics, f)
        os.replace(path + ".tmp", path)

    def _save_best(self, epoch, value):
        path = self.best_checkpoint_path.format(epoch=epoch + 1)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if self.save_fn is not None:
            self.save_fn(self.model, path)
        else:
            from mrcnn.weights import save_weights_h5

            save_weights_h5(self.model, path, attrs={"epoch": epoch + 1, "val_mAP": float(value)})
        logger.info("epoch %d: val_mAP improved to %.4f, weights saved to %s",
                    epoch + 1, value, path)


class TensorBoardImagesCallback(_SummaryWriterMixin, keras.callbacks.Callback):
    """Log validation images with ground truth (left) and predictions
    (right) side by side to TensorBoard, every `every_n_epochs` epochs.

    dataset: a prepared Dataset; image_ids: the few images to show.
    detect_fn_factory: () -> detect_fn using the current weights.
    log_dir: TensorBoard folder (images go to log_dir/validation).
    min_confidence: predictions scoring less are not drawn (the detector of
        an evaluation keeps them all).
    """

    def __init__(self, dataset, detect_fn_factory, log_dir, image_ids, every_n_epochs=1,
                 batch_size=None, min_confidence=0.0):
        super().__init__()
        self.min_confidence = float(min_confidence)
        self.dataset = dataset
        self.detect_fn_factory = detect_fn_factory
        self.log_dir = log_dir
        self.image_ids = select_image_ids(dataset, image_ids)
        self.every_n_epochs = int(every_n_epochs)
        self.batch_size = batch_size

    def panel(self, image_id, image, result):
        """uint8 [H + 12, 2 W + 4, 3]: ground truth | prediction of one image."""
        masks, class_ids = self.dataset.load_mask(image_id)
        gt = {"rois": extract_bboxes(masks), "class_ids": class_ids, "masks": masks}
        names = self.dataset.class_names
        keep = np.asarray(result["scores"]) >= self.min_confidence
        result = {"rois": result["rois"][keep], "class_ids": result["class_ids"][keep],
                  "scores": result["scores"][keep], "masks": result["masks"][..., keep]}
        return side_by_side([draw_instances(image, gt, names), draw_instances(image, result, names)],
                            titles=["ground truth", "prediction"])

    def on_epoch_end(self, epoch, logs=None):
        if not _due(epoch, self.every_n_epochs) or not self.image_ids:
            return
        import tensorflow as tf

        detections = run_detection(self.detect_fn_factory(), self.dataset, self.image_ids,
                                   self.batch_size, progress=False)
        writer = self._summary_writer()
        with writer.as_default():
            for image_id, image, result in detections:
                panel = self.panel(image_id, image, result)
                tf.summary.image(f"ground_truth_vs_prediction/image_{image_id}",
                                 np.expand_dims(panel, 0), step=epoch)
        writer.flush()
