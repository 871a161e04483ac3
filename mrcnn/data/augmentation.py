"""Augmentation of an image and its instance masks together.

`augment(image, masks, class_ids, augmentation)` accepts

- an **albumentations** transform or `Compose` (the default library:
  maintained, fast, mask-aware). Masks go in as the "masks" target, one
  per instance; albumentations moves them with every geometric transform
  (nearest-neighbour) and leaves them alone for pixel-level ones
  (brightness, blur, ...).
- an **imgaug** augmenter (matterport compatibility:
  ``augmentation=iaa.Fliplr(0.5)``), when imgaug is installed:
  ``pip install mrcnn[imgaug]`` (imgaug 0.4.0). imgaug 0.4.0 does not import
  on NumPy 2 (it reads ``np.sctypes`` and ``np.complex``, removed in NumPy 2);
  `mrcnn.imgaug_numpy2` defines the missing aliases on numpy when imgaug is
  first imported, from an import hook the mrcnn distribution installs at
  interpreter start (and this module, for a checkout that is not installed).
  Known to fail on NumPy 2 even then: ``ElasticTransformation`` (in OpenCV).

Without code, ``Config.AUGMENTATION`` (``mrcnn train --augment``) names a
preset, "light", "default" or "heavy" (PRESET_LISTS), or is a list of
albumentations transforms by name with their arguments, as a YAML file writes
it (mrcnn.albumentations_list); `augmentation_from_config` builds either into
an albumentations Compose.

Which augmenters change the masks is decided by the library, not by a list
here: imgaug gets the masks as a `SegmentationMapsOnImage` (one channel per
instance) and every imgaug augmenter defines what it does to segmentation
maps: geometric ones (Fliplr, Affine, Rot90, Crop, PerspectiveTransform, ...)
move them, pixel-only ones (Multiply, GaussianBlur, Dropout, ...) leave them
unchanged. matterport instead ran a whitelist of augmenter names over the
masks and silently left masks unaugmented for any augmenter not on it
(Rot90, Crop, Resize, ...), so masks and image drifted apart.

Instances whose mask is empty after augmentation (moved out of the image,
cropped away) are dropped and counted in `AUGMENTATION_STATS`; the caller
recomputes boxes from the returned masks (`mrcnn.boxes.extract_bboxes`).
The instances that the resize before augmentation loses (IMAGE_RESIZE_MODE
"crop", masks too thin for the downscale) are counted there apart, by
`mrcnn.data.pipeline.load_image_gt`.
"""
import threading

import numpy as np

from mrcnn.albumentations_list import AugmentationListError, build_transforms
from mrcnn.config import ConfigError
from mrcnn.imgaug_numpy2 import define_numpy_aliases, install

# For mrcnn imported before imgaug where the distribution's .pth hook did
# not run (a checkout put on sys.path, not installed).
install()

# imgaug works in chunks of instances: it holds segmentation maps as int32,
# so 100 masks of 1024x1024 at once would take 400 MB.
_IMGAUG_CHUNK = 16


class AugmentationStats:
    """Thread-safe counters of the instances the input pipeline loses (it
    loads images in parallel threads), by cause:

    - augmentation (`record`): `images`, `instances` (those that reached
      augmentation with pixels), `dropped_instances`, `images_with_drops`,
      `images_emptied`;
    - the resize before it (`record_resize`): `resize_images`,
      `resize_instances`, `resize_dropped` (cut off by IMAGE_RESIZE_MODE
      "crop", or too thin to survive the downscale), `images_with_resize_drops`.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self.images = 0
            self.instances = 0
            self.dropped_instances = 0
            self.images_with_drops = 0
            self.images_emptied = 0
            self.resize_images = 0
            self.resize_instances = 0
            self.resize_dropped = 0
            self.images_with_resize_drops = 0

    def record(self, instances, dropped):
        """Count one augmented image with `instances` masks of which `dropped` vanished."""
        with self._lock:
            self.images += 1
            self.instances += instances
            self.dropped_instances += dropped
            self.images_with_drops += int(dropped > 0)
            self.images_emptied += int(dropped > 0 and dropped == instances)

    def record_resize(self, instances, dropped):
        """Count one resized image with `instances` masks of which `dropped` vanished."""
        with self._lock:
            self.resize_images += 1
            self.resize_instances += instances
            self.resize_dropped += dropped
            self.images_with_resize_drops += int(dropped > 0)

    def as_dict(self):
        with self._lock:
            return {"images": self.images, "instances": self.instances,
                    "dropped_instances": self.dropped_instances,
                    "images_with_drops": self.images_with_drops,
                    "images_emptied": self.images_emptied,
                    "resize_images": self.resize_images,
                    "resize_instances": self.resize_instances,
                    "resize_dropped": self.resize_dropped,
                    "images_with_resize_drops": self.images_with_resize_drops}

    def summary(self):
        """The end-of-epoch lines: "augmentation: 12 of 5400 instances
        vanished (0.22%) in 10 of 1000 images; ..." and, when the resize lost
        any, "resize: ..." on a second line (see describe_resize)."""
        return "\n".join(filter(None, [describe_augmentation(self.as_dict()),
                                        describe_resize(self.as_dict())]))


def describe_augmentation(s):
    """The summary line of counts as AugmentationStats.as_dict() gives them
    (or differences of two such dicts, for one epoch)."""
    if not s["dropped_instances"]:
        return (f"augmentation: {s['images']} images, {s['instances']} instances, "
                "none vanished")
    share = 100.0 * s["dropped_instances"] / max(s["instances"], 1)
    text = (f"augmentation: {s['dropped_instances']} of {s['instances']} instances vanished "
            f"({share:.2f}%) in {s['images_with_drops']} of {s['images']} images")
    if s["images_emptied"]:
        text += f"; {s['images_emptied']} images lost all their instances"
    return text


def describe_resize(s):
    """The line about instances the resize lost before augmentation, or None
    when it lost none."""
    dropped = s.get("resize_dropped", 0)
    if not dropped:
        return None
    share = 100.0 * dropped / max(s["resize_instances"], 1)
    return (f"resize: {dropped} of {s['resize_instances']} instances vanished ({share:.2f}%) "
            f"in {s['images_with_resize_drops']} of {s['resize_images']} images before "
            "augmentation: cut off by IMAGE_RESIZE_MODE \"crop\" or too thin for the downscale")


AUGMENTATION_STATS = AugmentationStats()


def import_imgaug():
    """Import imgaug 0.4 on NumPy 2 and return its `augmenters` module.

    Raises ImportError with the install command when imgaug is missing.
    """
    define_numpy_aliases()
    try:
        import imgaug.augmenters as iaa
    except ImportError as e:
        raise ImportError("imgaug augmentation needs imgaug: pip install 'imgaug==0.4.0' "
                          "(or pip install mrcnn[imgaug]); albumentations needs nothing extra"
                          ) from e
    return iaa


def _from_library(obj, library):
    return any(c.__module__.split(".")[0] == library for c in type(obj).__mro__)


def is_imgaug_augmenter(obj):
    """True for an imgaug augmenter (without importing imgaug)."""
    return _from_library(obj, "imgaug")


def is_albumentations_transform(obj):
    """True for an albumentations transform or Compose."""
    return _from_library(obj, "albumentations")


def augment(image, masks, class_ids, augmentation, stats=AUGMENTATION_STATS):
    """Augment an image and its instance masks with the same transform.

    image: uint8 [H, W, 3].
    masks: bool [H, W, N], one mask per instance.
    class_ids: int32 [N].
    augmentation: an albumentations transform/Compose, an imgaug augmenter,
        or None (nothing changes).
    stats: the counters to update (default the module's AUGMENTATION_STATS;
        None to count nothing).

    Returns: (image uint8 [H', W', 3], masks bool [H', W', M],
    class_ids int32 [M], dropped): instances whose mask is empty after
    augmentation are removed; `dropped` counts those that had pixels before
    it (so M = N - dropped when no mask came in empty). The size stays the
    same unless the augmentation crops or resizes.
    """
    image = np.asarray(image)
    masks = np.asarray(masks, dtype=bool)
    class_ids = np.asarray(class_ids, dtype=np.int32)
    if masks.ndim != 3 or masks.shape[:2] != image.shape[:2] or masks.shape[-1] != len(class_ids):
        raise ValueError(f"augment: masks {masks.shape} do not fit image {image.shape} and "
                         f"{len(class_ids)} class ids; expected masks [H, W, N] and N class ids")
    if augmentation is None:
        return image, masks, class_ids, 0
    if is_albumentations_transform(augmentation):
        out_image, out_masks = _augment_albumentations(image, masks, augmentation)
    elif is_imgaug_augmenter(augmentation):
        out_image, out_masks = _augment_imgaug(image, masks, augmentation)
    else:
        raise TypeError("augmentation must be an albumentations transform/Compose or an imgaug "
                        f"augmenter, got {type(augmentation).__name__}")
    had_pixels = masks.any(axis=(0, 1))
    keep = out_masks.any(axis=(0, 1))
    # Masks that came in empty (cropped away by the resize before, or empty
    # in the dataset) are removed but not augmentation's loss.
    dropped = int((had_pixels & ~keep).sum())
    if stats is not None:
        stats.record(int(had_pixels.sum()), dropped)
    return out_image, out_masks[..., keep], class_ids[keep], dropped


def _augment_albumentations(image, masks, transform):
    n = masks.shape[-1]
    per_instance = [masks[..., i].astype(np.uint8) for i in range(n)]
    try:
        out = transform(image=image, masks=per_instance)
    except (KeyError, ValueError, TypeError) as e:
        raise ValueError(f"The albumentations transform {type(transform).__name__} failed on an "
                         f"image of {image.shape} with {n} masks: {e}") from e
    out_image = out["image"]
    height, width = out_image.shape[:2]
    out_masks = np.asarray(out["masks"]).reshape(n, height, width)
    return out_image, np.moveaxis(out_masks, 0, -1) > 0


def _augment_imgaug(image, masks, augmenter):
    import_imgaug()
    from imgaug.augmentables.segmaps import SegmentationMapsOnImage

    # A deterministic copy applies the very same random draw to every call:
    # to the image, then to each chunk of masks.
    det = augmenter.to_deterministic()
    out_image = det.augment_image(image)
    n = masks.shape[-1]
    chunks = []
    for start in range(0, n, _IMGAUG_CHUNK):
        segmap = SegmentationMapsOnImage(masks[..., start:start + _IMGAUG_CHUNK], shape=image.shape)
        chunks.append(det.augment_segmentation_maps(segmap).get_arr())
    if not chunks:
        return out_image, np.zeros(out_image.shape[:2] + (0,), dtype=bool)
    out_masks = np.concatenate(chunks, axis=-1) > 0
    if out_masks.shape[:2] != out_image.shape[:2]:
        raise ValueError(f"imgaug gave masks of size {out_masks.shape[:2]} for an image of "
                         f"{out_image.shape[:2]}; this augmenter cannot be used with masks")
    return out_image, out_masks


# The presets of ``Config.AUGMENTATION`` / ``mrcnn train --augment``, written
# as AUGMENTATION lists (mrcnn.albumentations_list) so that a YAML file can
# start from a copy of one. All keep the image size (the batch needs it) and
# are mask-safe: albumentations moves the masks with every geometric
# transform (nearest neighbour) and leaves them alone for pixel-level ones.
# Borders uncovered by a geometric transform are filled with 0, like the
# resize padding.
LIGHT = [
    {"HorizontalFlip": {"p": 0.5}},
    {"RandomBrightnessContrast": {"brightness_limit": 0.1, "contrast_limit": 0.0, "p": 0.3}},
]
DEFAULT = [
    {"HorizontalFlip": {"p": 0.5}},
    # Scale jitter 0.8-1.25 around the centre, zooming in and out equally likely.
    {"Affine": {"scale": [0.8, 1.25], "keep_ratio": True, "balanced_scale": True,
                "fill": 0, "fill_mask": 0, "p": 0.5}},
    {"RandomBrightnessContrast": {"brightness_limit": 0.2, "contrast_limit": 0.2, "p": 0.5}},
]
HEAVY = [
    {"HorizontalFlip": {"p": 0.5}},
    {"Affine": {"scale": [0.7, 1.4], "keep_ratio": True, "balanced_scale": True,
                "rotate": [-15, 15], "translate_percent": [-0.1, 0.1],
                "fill": 0, "fill_mask": 0, "p": 0.7}},
    # Crops up to 15 % off each side and resizes back: a random crop that
    # keeps the image size.
    {"CropAndPad": {"percent": [-0.15, 0.0], "keep_size": True, "sample_independently": True,
                    "p": 0.3}},
    {"RandomBrightnessContrast": {"brightness_limit": 0.3, "contrast_limit": 0.3, "p": 0.5}},
    {"HueSaturationValue": {"hue_shift_limit": 10, "sat_shift_limit": 25, "val_shift_limit": 15,
                            "p": 0.3}},
    {"OneOf": {"transforms": [{"GaussianBlur": {"blur_limit": [3, 5]}},
                              {"GaussNoise": {"std_range": [0.02, 0.08]}}], "p": 0.3}},
]
PRESET_LISTS = {"light": LIGHT, "default": DEFAULT, "heavy": HEAVY}


def compose_from_list(spec, where="AUGMENTATION"):
    """An albumentations Compose of an AUGMENTATION list such as
    ``[{"HorizontalFlip": {"p": 0.5}}, {"Affine": {"rotate": [-15, 15]}}]``
    (see mrcnn.albumentations_list). Raises ConfigError (one line naming
    `where`, the entry and what it accepts) for a bad name or argument."""
    import albumentations as A

    try:
        return A.Compose(build_transforms(spec, where))
    except AugmentationListError as e:
        raise ConfigError(str(e)) from None


def light_augmentation(config=None):
    """``Config.AUGMENTATION = "light"``: horizontal flip (p 0.5) and a small
    brightness change (+-10 %, p 0.3); nothing moves but the flip."""
    return compose_from_list(LIGHT, "the light preset")


def default_augmentation(config=None):
    """The preset behind ``Config.AUGMENTATION = "default"``: an albumentations
    Compose that keeps the image size.

    - horizontal flip, p = 0.5
    - scale jitter 0.8-1.25 around the centre (zoom in and out equally
      likely), borders filled with 0 like the resize padding, p = 0.5
    - brightness and contrast +-20 %, p = 0.5

    config: reserved for presets that depend on settings; unused now.
    """
    return compose_from_list(DEFAULT, "the default preset")


def heavy_augmentation(config=None):
    """``Config.AUGMENTATION = "heavy"``: the default's flip, then stronger
    geometry (scale 0.7-1.4, rotation +-15 degrees, shift +-10 %, p 0.7; a
    crop of up to 15 % per side resized back, p 0.3) and photometry
    (brightness/contrast +-30 %, hue/saturation/value shifts, blur or noise)."""
    return compose_from_list(HEAVY, "the heavy preset")


PRESETS = {"light": light_augmentation, "default": default_augmentation,
           "heavy": heavy_augmentation}


def augmentation_from_config(config):
    """The augmentation that ``config.AUGMENTATION`` asks for.

    None, False, "none" or "" -> None; a preset name ("light", "default",
    "heavy") -> its Compose; a list of transforms by name (an AUGMENTATION
    list of a YAML file, see mrcnn.albumentations_list) -> their Compose; an
    albumentations transform or imgaug augmenter is returned as it is.
    Raises ConfigError naming the setting for anything else.
    """
    value = getattr(config, "AUGMENTATION", None)
    if value is None or value is False:
        return None
    if isinstance(value, str):
        name = value.strip().lower()
        if name in ("", "none", "off"):
            return None
        if name in PRESETS:
            return PRESETS[name](config)
        raise ConfigError(f"AUGMENTATION is {value!r}, not a preset; use None, "
                          f"{', '.join(repr(p) for p in PRESETS)}, a list of albumentations "
                          "transforms by name, or an albumentations/imgaug object")
    if isinstance(value, (list, tuple)):
        return compose_from_list(value)
    if is_albumentations_transform(value) or is_imgaug_augmenter(value):
        return value
    raise TypeError("AUGMENTATION must be None, a preset name, a list of albumentations "
                      f"transforms by name or an albumentations/imgaug object, got "
                      f"{type(value).__name__}")
