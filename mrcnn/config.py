"""Mask R-CNN configuration (matterport's `Config`).

Subclass `Config` and override the settings you need. Derived values
(BATCH_SIZE, IMAGE_SHAPE, IMAGE_META_SIZE) are properties computed from the
current fields, so changing IMAGES_PER_GPU or IMAGE_MAX_DIM after construction
keeps them consistent.
"""
import logging

import numpy as np

from mrcnn.backbones import UnknownBackboneError, get_backbone
from mrcnn.normalizations import registered_normalizations

RESIZE_MODES = ("square", "pad64", "crop", "none")
OPTIMIZERS = ("SGD", "Adam")
DTYPE_POLICIES = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
LOSS_NAMES = ("rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss",
              "mrcnn_bbox_loss", "mrcnn_mask_loss")
DERIVED_FIELDS = ("BATCH_SIZE", "IMAGE_SHAPE", "IMAGE_META_SIZE")


def optimizer_class_name(name):
    """The OPTIMIZERS entry `name` means (case-insensitive), or None."""
    for known in OPTIMIZERS:
        if str(name).lower() == known.lower():
            return known
    return None


def _positive_int(value):
    """True for an int (Python or numpy) >= 1; bool is not a count."""
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1


logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A setting is impossible; the message names the field and what to do."""


def check_augmentation_list(value, where="AUGMENTATION"):
    """Raise ConfigError (one line) unless every entry of an AUGMENTATION list
    names an albumentations transform with arguments it accepts."""
    from mrcnn.albumentations_list import AugmentationListError, build_transforms

    try:
        build_transforms(value, where)
    except AugmentationListError as e:
        raise ConfigError(str(e)) from None


def _finite_number(value):
    """True for an int or float (Python or numpy) that is finite; bool is no number."""
    return (not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.number))
            and bool(np.isfinite(value)))


def _int_at_least(low, optional=False):
    def check(value):
        if optional and value is None:
            return True
        return (not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))
                and value >= low)
    return check, f"an integer >= {low}" + (" (or None)" if optional else "")


def _number_in(low, high, low_open=False, high_open=False, optional=False):
    def check(value):
        if optional and value is None:
            return True
        if not _finite_number(value):
            return False
        above = value > low if low_open else value >= low
        below = high is None or (value < high if high_open else value <= high)
        return above and below
    interval = (f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
                if high is not None else f"{'>' if low_open else '>='} {low}")
    text = f"a number {'in ' if high is not None else ''}{interval}"
    return check, text + (" (or None)" if optional else "")


# The numeric settings: (check, what it must be). Config.validate checks
# their types and ranges before anything else uses them, so that a --set
# value of the wrong type (IMAGE_MIN_DIM=abc, LEARNING_RATE=fast) or range
# (IMAGE_MIN_DIM=-5) is named before a network is built.
NUMERIC_SETTINGS = {
    "GPU_COUNT": _int_at_least(1),
    "IMAGES_PER_GPU": _int_at_least(1),
    "STEPS_PER_EPOCH": _int_at_least(1),
    "VALIDATION_STEPS": _int_at_least(1),
    "IMAGE_MAX_DIM": _int_at_least(1),
    # 0/None: no minimum (matterport's resize_image skips it).
    "IMAGE_MIN_DIM": _int_at_least(0, optional=True),
    "IMAGE_MIN_SCALE": _number_in(0, None, optional=True),
    "IMAGE_CHANNEL_COUNT": _int_at_least(1),
    "RPN_ANCHOR_STRIDE": _int_at_least(1),
    "RPN_TRAIN_ANCHORS_PER_IMAGE": _int_at_least(2),
    "PRE_NMS_LIMIT": _int_at_least(1),
    "POST_NMS_ROIS_TRAINING": _int_at_least(1),
    "POST_NMS_ROIS_INFERENCE": _int_at_least(1),
    "TRAIN_ROIS_PER_IMAGE": _int_at_least(1),
    "POOL_SIZE": _int_at_least(1),
    "MASK_POOL_SIZE": _int_at_least(1),
    "MAX_GT_INSTANCES": _int_at_least(1),
    "DETECTION_MAX_INSTANCES": _int_at_least(1),
    "RPN_NMS_THRESHOLD": _number_in(0, 1, low_open=True),
    "DETECTION_NMS_THRESHOLD": _number_in(0, 1, low_open=True),
    "DETECTION_MIN_CONFIDENCE": _number_in(0, 1),
    "ROI_POSITIVE_RATIO": _number_in(0, 1, low_open=True),
    "LEARNING_RATE": _number_in(0, None, low_open=True),
    "LEARNING_MOMENTUM": _number_in(0, 1, high_open=True),
    "WEIGHT_DECAY": _number_in(0, None),
    "GRADIENT_CLIP_NORM": _number_in(0, None, low_open=True, optional=True),
    "LEARNING_RATE_WARMUP_STEPS": _int_at_least(0, optional=True),
    "GRADIENT_ACCUMULATION_STEPS": _int_at_least(1),
    "DATA_WORKERS": _int_at_least(0),
    "BN_STATISTICS_BATCHES": _int_at_least(0),
    "EVAL_EVERY_EPOCHS": _int_at_least(0),
    "EVAL_LIMIT": _int_at_least(1, optional=True),
    "TENSORBOARD_IMAGES": _int_at_least(0),
    "REPEAT_FACTOR_THRESHOLD": _number_in(0, 1, low_open=True, optional=True),
}
# YAML 1.1 reads 1e-3 (no dot) as a string: a float setting takes it as the number.
FLOAT_SETTINGS = {name for name, (_, text) in NUMERIC_SETTINGS.items() if "number" in text}


class Config:
    """Base configuration class. For custom configurations, create a
    sub-class that inherits from this one and override properties
    that need to be changed.
    """
    # Name the configurations. For example, 'COCO', 'Experiment 3', ...etc.
    # Useful if your code needs to do things differently depending on which
    # experiment is running.
    NAME = None  # Override in sub-classes

    # NUMBER OF GPUs to use. More than one trains data-parallel with
    # tf.distribute.MirroredStrategy (each device gets IMAGES_PER_GPU of the
    # BATCH_SIZE images); with fewer devices visible, training warns and runs
    # the whole batch on one device. Inference always runs on one device.
    GPU_COUNT = 1

    # Number of images to train with on each GPU (or on the CPU).
    IMAGES_PER_GPU = 2

    # Number of training steps per epoch. Validation stats are calculated at
    # the end of every epoch.
    STEPS_PER_EPOCH = 1000

    # Number of validation steps to run at the end of every training epoch.
    VALIDATION_STEPS = 50

    # Backbone network architecture: "resnet50", "resnet101" or the name of a
    # backbone registered with mrcnn.backbones.register_backbone().
    BACKBONE = "resnet101"

    # Only useful if you supply a callable to BACKBONE (matterport's hook;
    # registering the backbone by name is the way that survives a restart).
    COMPUTE_BACKBONE_SHAPE = None

    # The strides of each layer of the FPN Pyramid.
    BACKBONE_STRIDES = [4, 8, 16, 32, 64]

    # Size of the fully-connected layers in the classification graph
    FPN_CLASSIF_FC_LAYERS_SIZE = 1024

    # Size of the top-down layers used to build the feature pyramid
    TOP_DOWN_PYRAMID_SIZE = 256

    # Channels of the mask head's four 3x3 convolutions and its deconvolution
    # (matterport: 256, which COCO weights need). Their cost grows with the
    # square of this width and on small images they dominate a training
    # step; simple masks (plain outlines) need fewer. Measured step times:
    # docs/performance.md.
    MASK_HEAD_CONV_CHANNELS = 256

    # Channels of the RPN's shared 3x3 convolution (matterport: 512, which
    # COCO weights need: with another width their RPN layers are skipped).
    # torchvision's RPN uses 256. It runs on every pyramid level and on P2 it
    # is the largest convolution of inference: at 1024 px, 77 GMAC at 512
    # channels, half that at 256. Measured times: docs/performance.md.
    RPN_CONV_CHANNELS = 512

    # Number of classification classes (including background)
    NUM_CLASSES = 1  # Override in sub-classes

    # Length of square anchor side in pixels
    RPN_ANCHOR_SCALES = (32, 64, 128, 256, 512)

    # Ratios of anchors at each cell (width/height)
    RPN_ANCHOR_RATIOS = [0.5, 1, 2]

    # Anchor stride: 1 = an anchor per feature-map cell, 2 = every other cell.
    RPN_ANCHOR_STRIDE = 1

    # Non-max suppression threshold to filter RPN proposals.
    RPN_NMS_THRESHOLD = 0.7

    # How many anchors per image to use for RPN training
    RPN_TRAIN_ANCHORS_PER_IMAGE = 256

    # ROIs kept after tf.nn.top_k and before non-maximum suppression
    PRE_NMS_LIMIT = 6000

    # ROIs kept after non-maximum suppression (training and inference)
    POST_NMS_ROIS_TRAINING = 2000
    POST_NMS_ROIS_INFERENCE = 1000

    # If enabled, resizes instance masks to a smaller size to reduce
    # memory load. Recommended when using high-resolution images.
    USE_MINI_MASK = True
    MINI_MASK_SHAPE = (56, 56)  # (height, width) of the mini-mask

    # Input image resizing: "square", "pad64", "crop" or "none".
    IMAGE_RESIZE_MODE = "square"
    IMAGE_MIN_DIM = 800
    IMAGE_MAX_DIM = 1024
    # Minimum scaling ratio. Checked after IMAGE_MIN_DIM and can force further
    # up scaling. For example, if set to 2 then images are scaled up to double
    # the width and height, or more, even if IMAGE_MIN_DIM doesn't require it.
    IMAGE_MIN_SCALE = 0
    # Number of color channels per image. RGB = 3, grayscale = 1, RGB-D = 4
    IMAGE_CHANNEL_COUNT = 3

    # Image mean (RGB)
    MEAN_PIXEL = np.array([123.7, 116.8, 103.9])

    # Number of ROIs per image to feed to classifier/mask heads
    TRAIN_ROIS_PER_IMAGE = 200

    # Percent of positive ROIs used to train classifier/mask heads
    ROI_POSITIVE_RATIO = 0.33

    # Pooled ROIs
    POOL_SIZE = 7
    MASK_POOL_SIZE = 14

    # Shape of output mask
    MASK_SHAPE = [28, 28]

    # Maximum number of ground truth instances to use in one image
    MAX_GT_INSTANCES = 100

    # Bounding box refinement standard deviation for RPN and final detections.
    RPN_BBOX_STD_DEV = np.array([0.1, 0.1, 0.2, 0.2])
    BBOX_STD_DEV = np.array([0.1, 0.1, 0.2, 0.2])

    # Max number of final detections
    DETECTION_MAX_INSTANCES = 100

    # Minimum probability value to accept a detected instance
    DETECTION_MIN_CONFIDENCE = 0.7

    # Non-maximum suppression threshold for detection
    DETECTION_NMS_THRESHOLD = 0.3

    # Learning rate and momentum (SGD, as matterport's paper-based setting).
    LEARNING_RATE = 0.001
    LEARNING_MOMENTUM = 0.9

    # "SGD" (with LEARNING_MOMENTUM, matterport's) or "Adam"
    # (mrcnn/training/optimizer.py). Both clip at GRADIENT_CLIP_NORM. From
    # scratch on small data Adam learns the heads faster (measured:
    # docs/normalization.md).
    OPTIMIZER = "SGD"

    # Raise the learning rate linearly from LEARNING_RATE / N to LEARNING_RATE
    # over the first N optimizer steps (0: no warm-up). A train() call whose
    # optimizer starts fresh (a new `layers=` stage) warms up again.
    LEARNING_RATE_WARMUP_STEPS = 0

    # Update the weights once every k batches with the mean of their k
    # gradients (clipped at GRADIENT_CLIP_NORM after averaging): the update of
    # one batch of k x BATCH_SIZE images, in the memory of BATCH_SIZE. A step
    # stays one batch: STEPS_PER_EPOCH, LEARNING_RATE_WARMUP_STEPS, learning-
    # rate schedules and the checkpoints' iteration count all count batches,
    # so an epoch makes STEPS_PER_EPOCH / k updates (a partial accumulation
    # at an epoch's end is saved in the checkpoint and continues on resume).
    # One device only (GPU_COUNT = 1). See docs/mixed-precision.md.
    GRADIENT_ACCUMULATION_STEPS = 1

    # Weight decay regularization
    WEIGHT_DECAY = 0.0001

    # Loss weights for more precise optimization.
    LOSS_WEIGHTS = {
        "rpn_class_loss": 1.,
        "rpn_bbox_loss": 1.,
        "mrcnn_class_loss": 1.,
        "mrcnn_bbox_loss": 1.,
        "mrcnn_mask_loss": 1.
    }

    # Use RPN ROIs or externally generated ROIs for training
    USE_RPN_ROIS = True

    # Train or freeze batch normalization statistics (when NORMALIZATION
    # makes the layers BatchNorm; GroupNorm has none).
    #     None: automatic. BatchNorm statistics and scales train while the
    #           network starts from scratch (or from weights without BatchNorm
    #           statistics), and stay frozen once pretrained weights that carry
    #           them (COCO, ImageNet) are loaded. This is the default because a
    #           frozen, randomly initialised BatchNorm does not normalise.
    #     False: freeze BN layers (matterport's default; right for fine-tuning
    #            with small batches).
    #     True: train BN layers.
    # Why and what was measured: docs/normalization.md.
    TRAIN_BN = None

    # Gradient norm clipping
    GRADIENT_CLIP_NORM = 5.0

    # Augmentation applied during training when the caller passes no
    # augmentation: None (off); a preset: "light" (flips, small brightness),
    # "default" (flips, scale jitter, brightness/contrast), "heavy" (default
    # + rotation, shifts, crops, hue/saturation, blur/noise); or a list of
    # albumentations transforms by name with their arguments, e.g.
    # [{"HorizontalFlip": {"p": 0.5}}, {"Affine": {"rotate": [-15, 15]}}]
    # (mrcnn/albumentations_list.py; the presets' lists are in
    # mrcnn/data/augmentation.py).
    AUGMENTATION = None

    # Repeat-factor sampling against class imbalance (LVIS): None (off), or
    # a threshold t in (0, 1] such as 0.001: a class in a fraction f < t of
    # the training images makes its images repeat sqrt(t / f) times per pass
    # over the data (mrcnn.data.sampling; measured: docs/class-imbalance.md).
    REPEAT_FACTOR_THRESHOLD = None

    # When BatchNorm statistics are learned (see TRAIN_BN), they are
    # recomputed at the end of each epoch from this many training batches
    # with the epoch's final weights ("precise BN"): moving averages lag a
    # network trained from scratch, and inference would see another network.
    # 0 keeps the plain moving averages (docs/normalization.md).
    BN_STATISTICS_BATCHES = 8

    # What the normalization layers (bn_conv1, bn2a_branch2a, ...,
    # mrcnn_class_bn1, mrcnn_mask_bn1, ...) compute, chosen when the network
    # is built (mrcnn/normalizations.py); "batch" and "group" have the same
    # weights, so one checkpoint layout serves both.
    #     None: automatic. "group" while the network has no pretrained
    #           BatchNorm weights (from scratch, or this project's checkpoints
    #           of such a run, which record it); "batch" once COCO or ImageNet
    #           weights (or any file written with BatchNorm) are loaded.
    #     "batch": BatchNorm, as matterport (see TRAIN_BN for its statistics).
    #     "group": GroupNorm with 32 groups (Wu & He 2018): each image is
    #           normalised on its own, so 1-2 images per batch train well
    #           from scratch and inference computes what training did
    #           (measured against BatchNorm: docs/normalization.md).
    #     Another name registered with mrcnn.normalizations.register_normalization.
    NORMALIZATION = None

    # Batch Renormalization (Ioffe 2017) for BatchNorm layers whose
    # statistics are learned (see TRAIN_BN): training normalises with the
    # moving statistics, as inference does, and the batch statistics only
    # shape the gradient. With plain BatchNorm and 2-image batches, the
    # network learns to depend on each batch's own statistics, which the
    # moving statistics that inference uses do not match. Off by default:
    # from scratch with SGD it closed that gap but stalled the classifier
    # (docs/normalization.md).
    BATCH_RENORM = False

    # Keras dtype policy of the network. "auto" (the default) computes in
    # bfloat16 where the hardware does so natively (CPUs with AVX512_BF16
    # or AMX, GPUs of compute capability 8.0 and up), in float16 on GPUs of
    # compute capability 7.x and in float32 elsewhere; the choice is logged
    # when the network is built and recorded in its checkpoints. Or name
    # one: "float32", "mixed_bfloat16" or "mixed_float16". Under the mixed
    # policies the convolutions and dense layers compute in bfloat16 /
    # float16 while variables, checkpoints, boxes, NMS and every output stay
    # float32 (mrcnn/modeling/precision.py): weights trained under any
    # policy load under the others. mixed_float16 trains with dynamic loss
    # scaling. `mrcnn export` writes float32 unless a policy is named.
    # Measured speed and accuracy: docs/mixed-precision.md.
    DTYPE_POLICY = "auto"

    # Threads that prepare training batches beside the model.
    DATA_WORKERS = 2

    # An image that fails to load during training (truncated file, size
    # that disagrees with its annotation, ...) is replaced by another and
    # named at the end of the epoch. When more than this share of the
    # training images has failed, training stops after the epoch (its
    # checkpoint written) with an error naming them: a few bad files are
    # noise, many mean the data or its paths are wrong. 1.0 never stops.
    MAX_UNREADABLE_IMAGES = 0.01

    # How many of a run's newest checkpoints keep the optimizer state that
    # `--weights=last` resumes exactly (momentum, Adam's moments); older
    # ones are rewritten with the weights only, which any of them still
    # loads. The state doubles (SGD) or triples (Adam) a checkpoint: R101
    # with SGD is about 490 MB with it, 250 MB without. None: every
    # checkpoint keeps it.
    OPTIMIZER_STATE_CHECKPOINTS = 2

    # Run COCO evaluation (segm mAP) on the validation set every N epochs
    # (0 = off: it costs an inference pass over the images). The result is
    # logged to TensorBoard and to the epoch's logs as val_mAP / val_mAP50.
    # Like `evaluate`, it ranks every detection: DETECTION_MIN_CONFIDENCE
    # applies to detect() and the TensorBoard images, not to mAP.
    EVAL_EVERY_EPOCHS = 0
    # Evaluate on at most this many validation images (None: all).
    EVAL_LIMIT = None
    # With EVAL_EVERY_EPOCHS, also keep mask_rcnn_<name>_best.h5: the weights
    # of the epoch with the best val_mAP.
    SAVE_BEST_BY_MAP = False
    # Log this many validation images with ground truth and predictions side
    # by side to TensorBoard after every epoch (0 = off).
    TENSORBOARD_IMAGES = 0

    # Staged training of `mrcnn train` and the samples: stages run in order,
    # each {"layers": "heads" | "3+" | "4+" | "5+" | "all" | a regex,
    # "epochs": epochs of this stage, "learning_rate_factor": times
    # LEARNING_RATE (optional, default 1)}. matterport's recipe: the heads on
    # top of pretrained weights, then all layers with a smaller step. When no
    # pretrained backbone was loaded (--weights=none) every stage trains all
    # layers: a random, frozen backbone learns nothing (mrcnn.training.schedule).
    TRAINING_SCHEDULE = [{"layers": "heads", "epochs": 20},
                         {"layers": "all", "epochs": 20, "learning_rate_factor": 0.1}]

    # Class names in class-id order, "BG" excluded. None: taken from the
    # dataset when training. Checkpoints save it with the config, so that
    # inference without a dataset (mrcnn predict, splash) names its detections.
    CLASS_NAMES = None

    def __init__(self):
        """Derived attributes are properties; nothing to freeze here."""

    # ---- derived values -------------------------------------------------
    @property
    def BATCH_SIZE(self):
        return self.IMAGES_PER_GPU * self.GPU_COUNT

    @property
    def IMAGE_SHAPE(self):
        if self.IMAGE_RESIZE_MODE == "crop":
            return np.array([self.IMAGE_MIN_DIM, self.IMAGE_MIN_DIM, self.IMAGE_CHANNEL_COUNT])
        return np.array([self.IMAGE_MAX_DIM, self.IMAGE_MAX_DIM, self.IMAGE_CHANNEL_COUNT])

    @property
    def IMAGE_META_SIZE(self):
        # image_id (1) + original_image_shape (3) + image_shape (3) + window (4)
        # + scale (1) + active_class_ids (NUM_CLASSES)
        return 1 + 3 + 3 + 4 + 1 + self.NUM_CLASSES

    # ---- inspection and I/O ----------------------------------------------
    def to_dict(self):
        """All settings (upper-case attributes, derived ones included) as
        plain Python values."""
        out = {}
        for name in dir(self):
            if not name.isupper() or name.startswith("_"):
                continue
            value = getattr(self, name)
            if callable(value) and not isinstance(value, type):
                if name in ("BACKBONE", "COMPUTE_BACKBONE_SHAPE"):
                    value = getattr(value, "__name__", repr(value))
                else:
                    continue
            out[name] = _to_plain(value)
        return out

    def display(self):
        """Display Configuration values."""
        print("\nConfigurations:")
        for key, value in self.to_dict().items():
            print(f"{key:30} {value}")
        print("\n")

    def __repr__(self):
        return f"<{type(self).__name__} NAME={self.NAME!r}>"

    def update(self, values, strict=True):
        """Set several fields from a dict (e.g. YAML or --set KEY=VALUE).

        Unknown names raise ConfigError unless strict=False; derived fields
        cannot be set because they follow from the others.
        """
        known = set(name for name in dir(type(self)) if name.isupper())
        for key, value in values.items():
            key = str(key).upper()
            if key in DERIVED_FIELDS:
                raise ConfigError(
                    f"{key} is derived from other settings and cannot be set; "
                    "change IMAGES_PER_GPU/GPU_COUNT or IMAGE_MAX_DIM/IMAGE_MIN_DIM instead")
            if strict and key not in known:
                raise ConfigError(f"Unknown setting {key!r}; see Config for the valid names")
            current = getattr(self, key, None)
            if isinstance(current, np.ndarray):
                value = np.array(value, dtype=current.dtype)
            elif isinstance(current, tuple) and isinstance(value, list):
                value = tuple(value)
            elif key in FLOAT_SETTINGS and isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    pass  # validate() names the setting and what it must be
            if key == "AUGMENTATION" and strict and isinstance(value, (list, tuple)):
                # A YAML file's or --set's list is checked as it is read, so that
                # the error names the file; a checkpoint's (strict=False) is
                # checked when training builds it.
                check_augmentation_list(value)
            setattr(self, key, value)
        return self

    def class_names(self):
        """["BG", ...], the names detections carry: CLASS_NAMES, else
        "class <id>" (with a warning saying how to name them)."""
        if self.CLASS_NAMES:
            return ["BG"] + [str(n) for n in self.CLASS_NAMES]
        logger.warning("CLASS_NAMES is not set (weights without a saved config?): detections are "
                       "named 'class <id>'; --set CLASS_NAMES=[a,b] names them")
        return ["BG"] + [f"class {i}" for i in range(1, int(self.NUM_CLASSES))]

    def to_yaml(self, path=None):
        """Write all settings except the derived ones (which follow from the
        others) as YAML to `path` when given. Returns the YAML text."""
        import yaml

        data = {k: v for k, v in self.to_dict().items() if k not in DERIVED_FIELDS}
        text = yaml.safe_dump(data, sort_keys=True)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    @classmethod
    def from_yaml(cls, path_or_text, strict=True):
        """A config of this class with the fields of a YAML file (or text)."""
        import os

        import yaml

        if isinstance(path_or_text, str) and os.path.exists(path_or_text):
            with open(path_or_text) as f:
                data = yaml.safe_load(f) or {}
        else:
            data = yaml.safe_load(path_or_text) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path_or_text}: expected a mapping of setting names to values")
        data = {k: v for k, v in data.items() if str(k).upper() not in DERIVED_FIELDS}
        config = cls()
        try:
            config.update(data, strict=strict)
        except ConfigError as e:
            if isinstance(path_or_text, str) and os.path.exists(path_or_text):
                raise ConfigError(f"{path_or_text}: {e}") from None
            raise
        config.validate()
        return config

    # ---- validation -------------------------------------------------------
    def validate(self):
        """Reject impossible settings with a message naming the field.

        Returns self so that `config = MyConfig().validate()` reads well.
        """
        def fail(field, message):
            raise ConfigError(f"{type(self).__name__}.{field}: {message}")

        for field, (check, requirement) in NUMERIC_SETTINGS.items():
            value = getattr(self, field, None)
            if not check(value):
                fail(field, f"is {value!r}; it must be {requirement}")
        if not isinstance(self.NUM_CLASSES, (int, np.integer)) or self.NUM_CLASSES < 2:
            fail("NUM_CLASSES", f"is {self.NUM_CLASSES!r}; it counts the background too, "
                 "so one object class needs NUM_CLASSES = 2")
        try:
            backbone = get_backbone(self.BACKBONE, self.COMPUTE_BACKBONE_SHAPE)
        except UnknownBackboneError as error:
            fail("BACKBONE", str(error).replace("BACKBONE ", "", 1))
        if (not callable(self.BACKBONE) and backbone.compute_shape is None
                and tuple(self.BACKBONE_STRIDES[:4]) != backbone.strides):
            fail("BACKBONE_STRIDES", f"is {list(self.BACKBONE_STRIDES)}, but the feature maps of "
                 f"{backbone.name} have strides {list(backbone.strides)} (then twice the last)")
        if self.IMAGE_RESIZE_MODE not in RESIZE_MODES:
            fail("IMAGE_RESIZE_MODE", f"is {self.IMAGE_RESIZE_MODE!r}; use one of {RESIZE_MODES}")
        if self.IMAGE_RESIZE_MODE in ("square",):
            side = self.IMAGE_MAX_DIM
            if side % 64:
                fail("IMAGE_MAX_DIM", f"is {side}; image sides must be divisible by 64 "
                     f"(2**6, the FPN's deepest stride), e.g. {max(64, round(side / 64) * 64)}")
            if self.IMAGE_MIN_DIM and self.IMAGE_MIN_DIM > self.IMAGE_MAX_DIM:
                fail("IMAGE_MIN_DIM", f"({self.IMAGE_MIN_DIM}) is larger than "
                     f"IMAGE_MAX_DIM ({self.IMAGE_MAX_DIM})")
        if self.IMAGE_RESIZE_MODE in ("crop", "pad64") and self.IMAGE_MIN_DIM % 64:
            fail("IMAGE_MIN_DIM", f"is {self.IMAGE_MIN_DIM}; in {self.IMAGE_RESIZE_MODE} mode "
                 "it must be divisible by 64")
        if len(self.RPN_ANCHOR_SCALES) != len(self.BACKBONE_STRIDES):
            fail("RPN_ANCHOR_SCALES", f"has {len(self.RPN_ANCHOR_SCALES)} sizes but "
                 f"BACKBONE_STRIDES has {len(self.BACKBONE_STRIDES)} levels; give one per level")
        if not 0 < self.ROI_POSITIVE_RATIO <= 1:
            fail("ROI_POSITIVE_RATIO", f"is {self.ROI_POSITIVE_RATIO}; it must be in (0, 1]")
        if self.TRAIN_ROIS_PER_IMAGE < 1 or self.RPN_TRAIN_ANCHORS_PER_IMAGE < 2:
            fail("TRAIN_ROIS_PER_IMAGE", "and RPN_TRAIN_ANCHORS_PER_IMAGE must be positive")
        if self.POST_NMS_ROIS_TRAINING < self.TRAIN_ROIS_PER_IMAGE:
            fail("POST_NMS_ROIS_TRAINING", f"({self.POST_NMS_ROIS_TRAINING}) is smaller than "
                 f"TRAIN_ROIS_PER_IMAGE ({self.TRAIN_ROIS_PER_IMAGE})")
        for field in ("MASK_HEAD_CONV_CHANNELS", "RPN_CONV_CHANNELS",
                      "FPN_CLASSIF_FC_LAYERS_SIZE", "TOP_DOWN_PYRAMID_SIZE"):
            if not _positive_int(getattr(self, field)):
                fail(field, f"is {getattr(self, field)!r}; it must be a positive integer")
        keep = self.OPTIMIZER_STATE_CHECKPOINTS
        if keep is not None and not _positive_int(keep):
            fail("OPTIMIZER_STATE_CHECKPOINTS", f"is {keep!r}; use a number of checkpoints "
                 ">= 1, or None to keep the optimizer state in every checkpoint")
        if list(self.MASK_SHAPE) != [2 * self.MASK_POOL_SIZE] * 2:
            fail("MASK_SHAPE", f"is {list(self.MASK_SHAPE)}; the mask head upsamples "
                 f"MASK_POOL_SIZE={self.MASK_POOL_SIZE} twice, so it must be "
                 f"[{2 * self.MASK_POOL_SIZE}, {2 * self.MASK_POOL_SIZE}]")
        if len(np.asarray(self.MEAN_PIXEL).reshape(-1)) != self.IMAGE_CHANNEL_COUNT:
            fail("MEAN_PIXEL", f"has {len(np.asarray(self.MEAN_PIXEL).reshape(-1))} values for "
                 f"IMAGE_CHANNEL_COUNT={self.IMAGE_CHANNEL_COUNT}")
        if not 0 <= self.DETECTION_MIN_CONFIDENCE <= 1:
            fail("DETECTION_MIN_CONFIDENCE", "must be between 0 and 1")
        if not 0 <= self.MAX_UNREADABLE_IMAGES <= 1:
            fail("MAX_UNREADABLE_IMAGES", f"is {self.MAX_UNREADABLE_IMAGES!r}; it is a share of "
                 "the training images, between 0 and 1")
        missing = set(LOSS_NAMES) - set(self.LOSS_WEIGHTS)
        if missing:
            fail("LOSS_WEIGHTS", f"lacks {sorted(missing)}")
        if self.TRAIN_BN not in (None, True, False):
            fail("TRAIN_BN", f"is {self.TRAIN_BN!r}; use None (automatic), True or False")
        if self.NORMALIZATION is not None and (
                self.NORMALIZATION not in registered_normalizations()):
            fail("NORMALIZATION", f"is {self.NORMALIZATION!r}; use None (automatic) or a "
                 f"registered normalization: {list(registered_normalizations())} "
                 "(mrcnn.normalizations.register_normalization)")
        if optimizer_class_name(self.OPTIMIZER) is None:
            fail("OPTIMIZER", f"is {self.OPTIMIZER!r}; use one of {list(OPTIMIZERS)}")
        if int(self.LEARNING_RATE_WARMUP_STEPS or 0) < 0:
            fail("LEARNING_RATE_WARMUP_STEPS", f"is {self.LEARNING_RATE_WARMUP_STEPS!r}; "
                 "use 0 (no warm-up) or a number of steps")
        if self.DTYPE_POLICY not in DTYPE_POLICIES:
            fail("DTYPE_POLICY", f"is {self.DTYPE_POLICY!r}; use one of {list(DTYPE_POLICIES)}")
        if self.GRADIENT_ACCUMULATION_STEPS > 1 and self.GPU_COUNT > 1:
            # Keras's accumulation fails under tf.distribute.MirroredStrategy.
            fail("GRADIENT_ACCUMULATION_STEPS", f"is {self.GRADIENT_ACCUMULATION_STEPS} with "
                 f"GPU_COUNT {self.GPU_COUNT}; accumulation runs on one device: set one of them to 1")
        if self.BATCH_RENORM not in (True, False):
            fail("BATCH_RENORM", f"is {self.BATCH_RENORM!r}; use True or False")
        return self


def _to_plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    return value
