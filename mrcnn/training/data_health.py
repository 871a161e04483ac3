"""Images that fail to load during training: named, counted, and a limit.

The DataGenerator replaces an image that fails to load (a truncated JPEG, an
annotation whose size disagrees with the file) by another, so that one bad
file does not end a long run. This callback makes that visible: at the end of
each epoch it names the images that failed for the first time (the first few,
then a count), adds `skipped_images` (loads that failed in the epoch) to its logs (TensorBoard writes
it as `epoch_skipped_images`), and stops training when more than
Config.MAX_UNREADABLE_IMAGES of the training images have failed.
"""
import logging

import keras

from mrcnn.data.errors import DatasetError

logger = logging.getLogger(__name__)

# Failures named per epoch; the rest are counted.
NAMED = 5


class UnreadableImagesError(DatasetError):
    """Training stopped because too many images failed to load."""

    def __init__(self, message):
        super().__init__(message, kind="unreadable_image")


class SkippedImagesReport(keras.callbacks.Callback):
    """Reports the images the training (and validation) generators skipped.

    generators: {"train": DataGenerator, "val": DataGenerator or None}.
    limit: the share of the training set's images that may fail
        (Config.MAX_UNREADABLE_IMAGES); beyond it `stop_message` is set and
        training stops after the epoch (the caller raises it).
    Must come before the TensorBoard callback so that the count is logged.
    """

    def __init__(self, generators, limit):
        super().__init__()
        self.generators = {k: g for k, g in generators.items() if g is not None}
        self.limit = float(limit)
        self.reported = {name: set() for name in self.generators}
        self.stop_message = None
        self._skipped_before = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        skipped = sum(g.skipped for g in self.generators.values())
        logs["skipped_images"] = float(skipped - self._skipped_before)
        self._skipped_before = skipped
        for name, generator in self.generators.items():
            failed = dict(generator.failed_images)
            new = [image_id for image_id in failed if image_id not in self.reported[name]]
            if not new:
                continue
            self.reported[name].update(new)
            named = "; ".join(failed[i] for i in new[:NAMED])
            more = f" and {len(new) - NAMED} more" if len(new) > NAMED else ""
            logger.warning("Epoch %d: %d %s image(s) could not be loaded and were replaced by "
                           "others: %s%s", epoch + 1, len(new), name, named, more)
        train = self.generators.get("train")
        if train is None:
            return
        total = len(train.dataset.image_ids)
        failed = len(train.failed_images)
        if failed and failed > self.limit * total:
            first = "; ".join(list(train.failed_images.values())[:3])
            self.stop_message = (
                f"{failed} of {total} training images could not be loaded (more than "
                f"MAX_UNREADABLE_IMAGES={self.limit:g} of them), e.g. {first}. Training stopped "
                f"after epoch {epoch + 1}, its checkpoint written. Fix or remove those files "
                "(`mrcnn validate` checks every image), or raise MAX_UNREADABLE_IMAGES, then "
                "continue with --weights=last")
            self.model.stop_training = True
