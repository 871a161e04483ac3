"""Exceptions for faults a user causes with a file or a setting, raised deep
in the library (weights, training) and shown by the CLI as one line.

This module imports nothing, so that mrcnn.cli can catch them without
loading TensorFlow.
"""


class WeightsFileError(ValueError):
    """A weight file cannot be used: unreadable, not in a Keras-2 HDF5 layout,
    matching no layer of the model, or holding NaN/inf values. The message
    names the file and what it holds."""


class TrainingDiverged(RuntimeError):
    """Training met a non-finite loss (or non-finite weights at an epoch's end)
    and stopped. The message names the step, the batch's images, the usual
    causes and the last finite checkpoint.

    last_checkpoint: the newest checkpoint of the run (all finite), or None.
    epoch, batch: 1-based epoch and batch where it was noticed.
    image_refs: the images of that batch (paths or references), may be empty.
    """

    def __init__(self, message, last_checkpoint=None, epoch=None, batch=None, image_refs=()):
        super().__init__(message)
        self.last_checkpoint = last_checkpoint
        self.epoch = epoch
        self.batch = batch
        self.image_refs = list(image_refs)
