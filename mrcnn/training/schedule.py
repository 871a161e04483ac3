"""Staged training: Config.TRAINING_SCHEDULE as calls of MaskRCNN.train().

matterport's samples trained the heads on top of COCO weights, then all
layers with a smaller learning rate:

    model.train(train, val, learning_rate=LR, epochs=20, layers="heads")
    model.train(train, val, learning_rate=LR / 10, epochs=40, layers="all")

The same recipe as data:

    TRAINING_SCHEDULE = [{"layers": "heads", "epochs": 20},
                         {"layers": "all", "epochs": 20, "learning_rate_factor": 0.1}]

Stage epochs count the stage alone; `training_stages` turns them into the
cumulative `epochs=` that train() expects, so a resumed run (model.epoch > 0)
skips finished stages and finishes the current one.
"""
import dataclasses
import re

from mrcnn.config import ConfigError
from mrcnn.training.layers import LAYER_REGEX

STAGE_KEYS = ("layers", "epochs", "learning_rate_factor")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One train() call: train `layers` until epoch `end_epoch` (cumulative,
    1-based count of finished epochs) with `learning_rate`."""

    layers: str
    end_epoch: int
    learning_rate: float


def check_schedule(schedule):
    """Reject a malformed TRAINING_SCHEDULE with a message naming the stage.

    schedule: list of dicts with "layers" (str), "epochs" (int >= 1) and an
    optional "learning_rate_factor" (float > 0). Returns the schedule as a
    new list of new dicts (so callers never edit the Config class attribute).
    """
    def fail(message):
        raise ConfigError(f"TRAINING_SCHEDULE: {message}; write it as a list of "
                          "{layers: heads|3+|4+|5+|all|<regex>, epochs: N, "
                          "learning_rate_factor: F (optional)}")

    if not isinstance(schedule, (list, tuple)) or not schedule:
        fail(f"is {schedule!r}, not a non-empty list of stages")
    checked = []
    for index, stage in enumerate(schedule):
        if not isinstance(stage, dict):
            fail(f"stage {index} is {stage!r}, not a mapping")
        unknown = sorted(set(stage) - set(STAGE_KEYS))
        if unknown:
            fail(f"stage {index} has unknown key(s) {unknown}")
        layers = stage.get("layers")
        if not isinstance(layers, str) or not layers:
            fail(f"stage {index} has no 'layers'")
        if layers not in LAYER_REGEX:
            try:
                re.compile(layers)
            except re.error as e:
                fail(f"stage {index}: layers {layers!r} is neither {sorted(LAYER_REGEX)} "
                     f"nor a regular expression ({e})")
        epochs = stage.get("epochs")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            fail(f"stage {index}: epochs is {epochs!r}; it must be an integer >= 1")
        factor = stage.get("learning_rate_factor", 1.0)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
            fail(f"stage {index}: learning_rate_factor is {factor!r}; it must be a number > 0")
        checked.append({"layers": layers, "epochs": epochs, "learning_rate_factor": float(factor)})
    return checked


def from_scratch_schedule(schedule):
    """The schedule for a network without a pretrained backbone: every
    stage trains all layers (a random, frozen backbone learns nothing);
    epochs and learning rates stay. Returns a new list."""
    return [dict(stage, layers="all") for stage in check_schedule(schedule)]


def training_stages(schedule, learning_rate, epochs=None, layers=None):
    """The train() calls of a schedule.

    schedule: Config.TRAINING_SCHEDULE (checked here).
    learning_rate: Config.LEARNING_RATE, scaled by each stage's factor.
    epochs: total epochs to reach (the `--epochs` flag): stages are cut at
        that many epochs, or the last stage is extended to it. None: the
        schedule's total.
    layers: one `layers=` for the whole run (the `--layers` flag) instead of
        the schedule's: a single stage at LEARNING_RATE.
    Returns: list of Stage with increasing end_epoch.
    """
    stages = check_schedule(schedule)
    if layers:
        total = epochs or sum(s["epochs"] for s in stages)
        check_schedule([{"layers": layers, "epochs": total}])
        return [Stage(layers, int(total), float(learning_rate))]
    out, end = [], 0
    for stage in stages:
        if epochs is not None and end >= epochs:
            break
        end += stage["epochs"]
        if epochs is not None:
            end = min(end, epochs)
        out.append(Stage(stage["layers"], end, float(learning_rate) * stage["learning_rate_factor"]))
    if epochs is not None and end < epochs:
        last = out[-1]
        out[-1] = Stage(last.layers, int(epochs), last.learning_rate)
    return out


def describe(stages, start_epoch=0):
    """One line per stage, e.g. "epochs 1-20: heads at lr 0.001", with the
    stages a run at `start_epoch` has already finished marked done."""
    lines, begin = [], 0
    for stage in stages:
        status = " (done)" if stage.end_epoch <= start_epoch else ""
        lines.append(f"epochs {begin + 1}-{stage.end_epoch}: layers={stage.layers} at "
                     f"lr {stage.learning_rate:g}{status}")
        begin = stage.end_epoch
    return lines
