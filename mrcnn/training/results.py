"""Pictures of a training run: `results.csv` and `results.png` in the run
folder, and the same picture in TensorBoard, after every epoch.

results.csv: one row per epoch, `epoch` 1-based as the checkpoints
(`mask_rcnn_<name>_<epoch:04d>.h5`) count, then every scalar of the epoch's
logs: the losses, their `val_` values, `learning_rate`, `val_mAP` and
`val_mAP50` (empty in epochs where Config.EVAL_EVERY_EPOCHS did not
evaluate), then any other scalars (`skipped_images`, ...).
results.png: one small panel per loss (train and validation curves), and a
mAP panel once an epoch has measured it.
"""
import csv
import io
import logging
import math
import os
import tempfile

import keras
import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

CSV_NAME = "results.csv"
PNG_NAME = "results.png"
# TensorBoard: the picture is the image summary `results` of the run's
# `train` folder, step = the 0-based epoch, as Keras counts.
TENSORBOARD_RUN = "train"
TENSORBOARD_TAG = "results"

LOSS_NAMES = ("rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss", "mrcnn_bbox_loss",
              "mrcnn_mask_loss", "loss", "l2_loss")
MAP_NAMES = ("val_mAP", "val_mAP50")
# The first columns, in this order; other scalars of the logs follow sorted.
LEADING_COLUMNS = ("epoch", *LOSS_NAMES, *(f"val_{n}" for n in LOSS_NAMES), "learning_rate",
                   *MAP_NAMES)
TRAIN_COLOUR = "#1f77b4"
VAL_COLOUR = "#ff7f0e"
MAP_COLOURS = {"val_mAP": "#2ca02c", "val_mAP50": "#d62728"}


def scalar_logs(logs):
    """{name: float} of the entries of a Keras `logs` dict that are single
    numbers (Python numbers, numpy or tensor scalars)."""
    out = {}
    for name, value in (logs or {}).items():
        try:
            array = np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if array.size == 1:
            out[name] = float(array.reshape(()))
    return out


def read_results(path):
    """{epoch: {column: float}} from a results.csv (empty cells left out);
    {} when the file is missing. Raises ValueError for a file that is not
    one."""
    if not os.path.exists(path):
        return {}
    rows = {}
    with open(path, newline="") as f:
        for line in csv.DictReader(f):
            if "epoch" not in line:
                raise ValueError(f"{path}: no epoch column")
            rows[int(line["epoch"])] = {name: float(value) for name, value in line.items()
                                        if name != "epoch" and name and value not in ("", None)}
    return rows


def columns(rows):
    """The CSV header for `rows` ({epoch: {column: float}}): LEADING_COLUMNS,
    then the other columns sorted."""
    seen = set().union(*rows.values()) if rows else set()
    return [*LEADING_COLUMNS, *sorted(seen - set(LEADING_COLUMNS))]


def _write_atomically(path, write, binary=False):
    """Write through `write(file)` into a temporary file beside `path`, then
    rename it over `path`: a reader (or a run killed half-way) never sees a
    partial file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"newline": ""})) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_results_csv(path, rows):
    """Write `rows` ({epoch: {column: float}}) as results.csv, atomically."""
    header = columns(rows)

    def write(f):
        writer = csv.writer(f)
        writer.writerow(header)
        for epoch in sorted(rows):
            row = rows[epoch]
            writer.writerow([epoch] + [repr(row[name]) if name in row else ""
                                       for name in header[1:]])

    _write_atomically(path, write)


def draw_results(rows):
    """The run's picture: uint8 [H, W, 4] RGBA, and its PNG bytes.

    One panel per loss present in `rows` ({epoch: {column: float}}): the
    training value (blue) and the validation value (orange) per epoch; one
    panel of val_mAP (green) and val_mAP50 (red) when some epoch has them.
    Drawn on an Agg canvas: no window, no pyplot state.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = sorted(rows)

    def series(name):
        xs = [e for e in epochs if name in rows[e] and math.isfinite(rows[e][name])]
        return xs, [rows[e][name] for e in xs]

    panels = [name for name in LOSS_NAMES
              if any(name in rows[e] or f"val_{name}" in rows[e] for e in epochs)]
    with_map = any(name in rows[e] for e in epochs for name in MAP_NAMES)
    count = max(len(panels) + with_map, 1)
    ncols = min(count, 4)
    nrows = math.ceil(count / ncols)
    width, height = 3.2 * ncols, 2.6 * nrows
    figure = Figure(figsize=(width, height), dpi=100)
    canvas = FigureCanvasAgg(figure)
    # Fixed margins in inches (room for the tick labels, the title, the
    # epoch label): a layout engine would measure every text, at twice the
    # cost of the drawing.
    figure.subplots_adjust(left=0.65 / width, right=1 - 0.1 / width, bottom=0.45 / height,
                           top=1 - 0.3 / height, wspace=0.85 / 2.45, hspace=0.75 / 1.85)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, panels):
        for key, colour, label in ((name, TRAIN_COLOUR, "train"),
                                   (f"val_{name}", VAL_COLOUR, "val")):
            xs, ys = series(key)
            if xs:
                ax.plot(xs, ys, color=colour, marker="o", markersize=3, linewidth=1.5,
                        label=label)
        ax.set_title(name, fontsize=9)
    if with_map:
        ax = axes[len(panels)]
        for name in MAP_NAMES:
            xs, ys = series(name)
            if xs:
                ax.plot(xs, ys, color=MAP_COLOURS[name], marker="o", markersize=3,
                        linewidth=1.5, label=name[len("val_"):])
        ax.set_title("validation mAP", fontsize=9)
        top = max((rows[e][n] for e in epochs for n in MAP_NAMES if n in rows[e]), default=0)
        top = min(1.0, max(1.15 * top, 0.05)) if math.isfinite(top) else 1.0
        # A little below 0, so that a mAP of 0 is not hidden by the axis.
        ax.set_ylim(-0.03 * top, top)
    # Every panel spans the same epochs, the mAP one too (measured in fewer).
    first, last = (epochs[0], epochs[-1]) if epochs else (1, 1)
    pad = max(0.25, 0.04 * (last - first))
    for ax in axes[:count]:
        ax.set_xlim(first - pad, last + pad)
        ax.set_xlabel("epoch", fontsize=8)
        if last - first < 10:
            ax.set_xticks(range(first, last + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    for ax in axes[count:]:
        ax.set_visible(False)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba()).copy()
    # Encoding the drawn pixels is much cheaper than savefig, which draws again.
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, format="png")
    return pixels, png.getvalue()


class TrainingResults(keras.callbacks.Callback):
    """Writes results.csv and results.png into `log_dir` at each epoch's end
    and logs the picture to TensorBoard (see the module docstring).

    A continued run keeps the rows of the epochs before its first one and
    replaces those from there on (a run that re-runs epoch N replaces row
    N). Must come after the callbacks that add to the logs (the learning
    rate, CocoEvalCallback's val_mAP).

    log_dir: the run folder (MaskRCNN.log_dir).
    tensorboard: also log the picture as an image summary.
    """

    def __init__(self, log_dir, tensorboard=True):
        super().__init__()
        self.log_dir = log_dir
        self.tensorboard = tensorboard
        self.rows = None
        self._writer = None

    @property
    def csv_path(self):
        return os.path.join(self.log_dir, CSV_NAME)

    @property
    def png_path(self):
        return os.path.join(self.log_dir, PNG_NAME)

    def on_train_begin(self, logs=None):
        try:
            self.rows = read_results(self.csv_path)
        except (ValueError, KeyError, csv.Error) as e:
            logger.warning("%s cannot be read (%s): it is rewritten with this run's epochs",
                           self.csv_path, e)
            self.rows = {}
        self._first_epoch = True

    def on_epoch_end(self, epoch, logs=None):
        if self.rows is None:
            self.on_train_begin()
        number = epoch + 1
        if self._first_epoch:
            # Rows from here on belong to an earlier try at these epochs.
            self.rows = {e: row for e, row in self.rows.items() if e < number}
            self._first_epoch = False
        self.rows[number] = scalar_logs(logs)
        os.makedirs(self.log_dir, exist_ok=True)
        write_results_csv(self.csv_path, self.rows)
        pixels, png = draw_results(self.rows)
        _write_atomically(self.png_path, lambda f: f.write(png), binary=True)
        if self.tensorboard:
            self._log_image(epoch, pixels)

    def _log_image(self, epoch, pixels):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(
                os.path.join(self.log_dir, TENSORBOARD_RUN))
        with self._writer.as_default():
            tf.summary.image(TENSORBOARD_TAG, pixels[np.newaxis, ..., :3], step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
