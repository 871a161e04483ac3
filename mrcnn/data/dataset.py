"""The Dataset base class, with matterport's API.

A user subclasses `Dataset`, registers classes with `add_class` and images
with `add_image`, then overrides `load_mask` (and `load_image` when images do
not live in files). `prepare()` builds the internal id tables that the model
and the input pipeline use.
"""
import logging

import numpy as np

from mrcnn.data.errors import DatasetError

logger = logging.getLogger(__name__)


def read_image_file(path):
    """Read an image file as RGB.

    Returns: uint8 [H, W, 3]. Grey images are stacked to three channels and an
    alpha channel is dropped. Pillow's decompression-bomb check stays on.
    Raises FileNotFoundError for a missing file and `DatasetError` (kind
    "unreadable_image", naming the file) for one that does not decode.
    """
    from PIL import Image

    try:
        with Image.open(path) as img:
            img = _apply_exif_orientation(img)
            if img.mode in ("I;16", "I;16B", "I", "F"):
                return np.stack([high_depth_to_uint8(img)] * 3, axis=-1)
            img = img.convert("RGB")
            return np.asarray(img, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise  # names the file already; `validate` counts it as a missing image
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        # Pillow's decoding errors ("image file is truncated") do not say which file.
        raise DatasetError(f"{path}: cannot read the image ({e}). Replace or remove the file.",
                           kind="unreadable_image", file=path) from e


def high_depth_to_uint8(img):
    """A grey image of more than 8 bits per pixel as uint8 [H, W], scaled by
    the range of its type, never by its own content (one hot pixel must not
    darken the whole image): 16-bit modes (I;16, I;16B; 16-bit PNG and TIFF)
    map 0..65535 to 0..255; mode I (32-bit) takes the 16-bit range when every
    value fits in it (older Pillow reads 16-bit PNGs as I), else 0..2**31-1;
    mode F takes 0..1 when every value is in it, else 0..255 (clipped).
    Negative values become 0.
    """
    array = np.asarray(img, dtype=np.float64)
    top = array.max() if array.size else 0
    if img.mode.startswith("I;16") or (img.mode == "I" and top <= 65535):
        full = 65535.0
    elif img.mode == "I":
        full = 2.0 ** 31 - 1
    else:
        full = 1.0 if top <= 1 else 255.0
    return np.clip(np.rint(array * (255.0 / full)), 0, 255).astype(np.uint8)


def _apply_exif_orientation(img):
    # Phones store rotated JPEGs with an orientation tag; annotation tools draw
    # on the rotated picture, so the pixels must be rotated the same way.
    try:
        from PIL import ImageOps

        return ImageOps.exif_transpose(img)
    except Exception:  # pragma: no cover - unusual EXIF payloads
        return img


def to_rgb(image):
    """Grey -> RGB, RGBA -> RGB. image: [H, W] or [H, W, C]; returns [H, W, 3]."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    elif image.ndim == 3 and image.shape[-1] == 1:
        image = np.concatenate([image] * 3, axis=-1)
    if image.ndim != 3:
        raise ValueError(f"Expected an image of shape [H, W] or [H, W, C], got {image.shape}")
    if image.shape[-1] == 4:
        image = image[..., :3]
    return image


class Dataset:
    """The base class for dataset classes (matterport's `utils.Dataset`).

    To use it, create a new class that adds functionality specific to the
    dataset you want to use. For example::

        class CatsAndDogsDataset(Dataset):
            def load_cats_and_dogs(self):
                ...
            def load_mask(self, image_id):
                ...
            def image_reference(self, image_id):
                ...

    See `samples/shapes/shapes.py` for a complete example.
    """

    def __init__(self, class_map=None):
        self._image_ids = []
        self.image_info = []
        # Background is always the first class
        self.class_info = [{"source": "", "id": 0, "name": "BG"}]
        self.source_class_ids = {}

    def add_class(self, source, class_id, class_name):
        assert "." not in source, "Source name cannot contain a dot"
        # Does the class exist already?
        for info in self.class_info:
            if info["source"] == source and info["id"] == class_id:
                # source.class_id combination already available, skip
                return
        self.class_info.append({"source": source, "id": class_id, "name": class_name})

    def add_image(self, source, image_id, path, **kwargs):
        image_info = {"id": image_id, "source": source, "path": path}
        image_info.update(kwargs)
        self.image_info.append(image_info)

    def image_reference(self, image_id):
        """Return a link to the image in its source website or details about
        the image that help looking it up or debugging it.

        Override for your dataset, but pass to this function if you encounter
        images not in your dataset.
        """
        info = self.image_info[image_id]
        return info.get("path") or f"{info['source']}:{info['id']}"

    def prepare(self, class_map=None):
        """Prepares the Dataset class for use.

        Builds the contiguous internal class ids and the mapping from
        "source.id" to internal ids. Call it after all classes and images were
        added.
        """

        def clean_name(name):
            """Returns a shorter version of object names for cleaner display."""
            return ",".join(str(name).split(",")[:1])

        self.num_classes = len(self.class_info)
        self.class_ids = np.arange(self.num_classes)
        self.class_names = [clean_name(c["name"]) for c in self.class_info]
        self.num_images = len(self.image_info)
        self._image_ids = np.arange(self.num_images)

        # Mapping from source class and image IDs to internal IDs
        self.class_from_source_map = {
            "{}.{}".format(info["source"], info["id"]): id
            for info, id in zip(self.class_info, self.class_ids)
        }
        self.image_from_source_map = {
            "{}.{}".format(info["source"], info["id"]): id
            for info, id in zip(self.image_info, self.image_ids)
        }

        # Map sources to class_ids they support
        self.sources = sorted(set(i["source"] for i in self.class_info))
        self.source_class_ids = {}
        for source in self.sources:
            self.source_class_ids[source] = []
            for i, info in enumerate(self.class_info):
                # Include BG class in all datasets
                if i == 0 or source == info["source"]:
                    self.source_class_ids[source].append(i)

    def map_source_class_id(self, source_class_id):
        """Takes a source class ID and returns the int class ID assigned to it.

        For example: dataset.map_source_class_id("coco.12") -> 23
        """
        return self.class_from_source_map[source_class_id]

    def get_source_class_id(self, class_id, source):
        """Map an internal class ID to the corresponding class ID in the source dataset."""
        info = self.class_info[class_id]
        assert info["source"] == source
        return info["id"]

    @property
    def image_ids(self):
        return self._image_ids

    def source_image_link(self, image_id):
        """Returns the path or URL to the image."""
        return self.image_info[image_id]["path"]

    def load_image(self, image_id):
        """Load the specified image and return a [H, W, 3] uint8 Numpy array.

        Grey images are converted to RGB and an alpha channel is dropped.
        """
        image = read_image_file(self.image_info[image_id]["path"])
        return to_rgb(image)

    def load_mask(self, image_id):
        """Load instance masks for the given image.

        Different datasets use different ways to store masks. Override this
        method to load instance masks and return them in the form of an array
        of binary masks of shape [height, width, instances].

        Returns:
            masks: A bool array of shape [height, width, instance count] with
                a binary mask per instance.
            class_ids: a 1D int32 array of class IDs of the instance masks.

        The base class returns no instances: the image is a negative example.
        """
        logger.debug("Dataset.load_mask is not overridden: image %s has no instances", image_id)
        info = self.image_info[image_id]
        height, width = info.get("height"), info.get("width")
        if height is None or width is None:
            height, width = self.load_image(image_id).shape[:2]
        mask = np.zeros([height, width, 0], dtype=bool)
        class_ids = np.zeros([0], dtype=np.int32)
        return mask, class_ids
