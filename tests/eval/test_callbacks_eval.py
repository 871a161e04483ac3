"""The in-training evaluation callbacks write what TensorBoard's event reader sees."""
import os

import h5py
import numpy as np
import pytest
from eval_shapes import H, W, gt_results, make_dataset
from tensorboard_events import tensorboard_events

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from mrcnn.evaluation import evaluate_coco  # noqa: E402
from mrcnn.training.callbacks_eval import CocoEvalCallback, TensorBoardImagesCallback  # noqa: E402


def shifted(results, dx=3):
    out = []
    for r in results:
        masks = np.roll(r["masks"], dx, axis=1)
        out.append(dict(r, masks=masks, rois=r["rois"] + np.array([0, dx, 0, dx])))
    return out


class Detector:
    """detect_fn_factory: epoch 1 detects the ground truth, later epochs a shifted copy."""

    def __init__(self, ds):
        self.ds, self.calls = ds, 0
        self.perfect = {id(ds.load_image(i)): r for i, r in zip(ds.image_ids, gt_results(ds))}
        self.moved = {id(ds.load_image(i)): r
                      for i, r in zip(ds.image_ids, shifted(gt_results(ds)))}

    def __call__(self):
        self.calls += 1
        table = self.perfect if self.calls == 1 else self.moved
        return lambda images: [table[id(im)] for im in images]


def events(log_dir):
    """{tag: [(step, value)]} from every event file under log_dir/validation."""
    return tensorboard_events(log_dir, "validation")


def tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="dense")])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_map_scalar_logs_and_best_checkpoint(tmp_path):
    ds = make_dataset()
    log_dir = str(tmp_path / "logs")
    best = str(tmp_path / "best.h5")
    callback = CocoEvalCallback(ds, Detector(ds), every_n_epochs=1, log_dir=log_dir,
                                best_checkpoint_path=best, progress=False)
    keras_best = str(tmp_path / "keras_best.weights.h5")
    checkpoint = keras.callbacks.ModelCheckpoint(keras_best, monitor="val_mAP", mode="max",
                                                 save_best_only=True, save_weights_only=True)
    model = tiny_model()
    history = model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=2, verbose=0,
                        callbacks=[callback, checkpoint])
    expected = evaluate_coco(ds, results=shifted(gt_results(ds)), progress=False)["segm"]
    assert 0 < expected["AP"] < 1
    assert history.history["val_mAP"] == pytest.approx([1.0, expected["AP"]])
    assert history.history["val_mAP50"] == pytest.approx([1.0, expected["AP50"]])
    scalars = events(log_dir)
    assert [s for s, _ in scalars["epoch_mAP"]] == [0, 1]
    assert [float(v) for _, v in scalars["epoch_mAP"]] == pytest.approx([1.0, expected["AP"]])
    assert float(scalars["epoch_mAP50"][1][1]) == pytest.approx(expected["AP50"])
    # The best checkpoint is epoch 1's, not overwritten by the worse epoch 2.
    with h5py.File(best, "r") as f:
        assert int(f.attrs["epoch"]) == 1 and float(f.attrs["val_mAP"]) == 1.0
        assert "dense" in f
    assert os.path.exists(keras_best) and callback.best == 1.0
    assert os.path.exists(os.path.join(log_dir, "coco_eval", "epoch_0002.json"))


def test_every_n_epochs_and_both_iou_types(tmp_path):
    ds = make_dataset()
    detector = Detector(ds)
    callback = CocoEvalCallback(ds, detector, every_n_epochs=2, log_dir=str(tmp_path),
                                iou_type=("bbox", "segm"), limit=2, progress=False)
    callback.set_model(tiny_model())
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs == {} and detector.calls == 0
    callback.on_epoch_end(1, logs)
    assert logs["val_mAP"] == logs["val_bbox_mAP"] == 1.0 and logs["val_segm_mAP"] == 1.0
    assert callback.last_metrics["num_images"] == 2
    callback.on_train_end()
    assert set(events(str(tmp_path))) >= {"epoch_mAP", "epoch_bbox_mAP", "epoch_segm_mAP50"}


def test_images_side_by_side(tmp_path):
    ds = make_dataset()
    detector = Detector(ds)
    detector.calls = 1  # predictions: the shifted copy
    callback = TensorBoardImagesCallback(ds, detector, str(tmp_path), image_ids=[0, 2])
    callback.set_model(tiny_model())
    callback.on_epoch_end(0)
    callback.on_train_end()
    logged = events(str(tmp_path))
    assert sorted(logged) == ["ground_truth_vs_prediction/image_0",
                              "ground_truth_vs_prediction/image_2"]
    step, tensor = logged["ground_truth_vs_prediction/image_0"][0]
    assert step == 0 and tensor[:2].tolist() == [str(2 * W + 4).encode(), str(H + 12).encode()]
    png = tf.io.decode_png(tensor[2]).numpy()
    band = 12
    left, right = png[band:, :W], png[band:, W + 4:]
    image = ds.load_image(0)
    masks = ds.load_mask(0)[0]
    # (20, 14): inside the square on the left; on the right the predicted
    # square is 3 px further right, so (20, 6) is inside only the ground truth.
    assert left[20, 14].tolist() != image[20, 14].tolist()
    assert masks[20, 6, 0] and not shifted(gt_results(ds, [0]))[0]["masks"][20, 6, 0]
    assert right[20, 6].tolist() == image[20, 6].tolist()
    assert left[20, 6].tolist() == left[20, 14].tolist()


def test_images_leave_out_predictions_under_the_threshold(tmp_path):
    ds = make_dataset()
    image = ds.load_image(0)
    right = {}
    for min_confidence in (0.5, 0.95):  # the predictions score 0.9
        log_dir = str(tmp_path / str(min_confidence))
        callback = TensorBoardImagesCallback(ds, Detector(ds), log_dir, image_ids=[0],
                                             min_confidence=min_confidence)
        callback.set_model(tiny_model())
        callback.on_epoch_end(0)
        callback.on_train_end()
        _, tensor = events(log_dir)["ground_truth_vs_prediction/image_0"][0]
        right[min_confidence] = tf.io.decode_png(tensor[2]).numpy()[12:, W + 4:]
    # (20, 14) is inside the square: drawn at 0.5, the bare image at 0.95.
    assert right[0.5][20, 14].tolist() != image[20, 14].tolist()
    assert right[0.95][20, 14].tolist() == image[20, 14].tolist()
