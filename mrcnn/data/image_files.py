"""Reading image sizes, mask PNGs and embedded images without surprises.

Pillow's decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`) stays on:
nothing here changes it, so a huge or hostile image raises instead of
exhausting memory.
"""
import base64
import io

import numpy as np

from mrcnn.data.errors import DatasetError

# EXIF orientations 5-8 rotate by 90 degrees: the picture that the annotator
# saw (and that `read_image_file` returns) has width and height swapped.
_ROTATED_ORIENTATIONS = (5, 6, 7, 8)
_EXIF_ORIENTATION = 0x0112


def image_size(path):
    """(height, width) of an image file, read from its header only.

    Follows the EXIF orientation the way `read_image_file` does. Raises
    `DatasetError` (kind "unreadable_image") when the file is not an image.
    """
    from PIL import Image

    try:
        with Image.open(path) as img:
            width, height = img.size
            try:
                orientation = img.getexif().get(_EXIF_ORIENTATION)
            except Exception:  # malformed EXIF: the pixels are still usable
                orientation = None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{path}: cannot read the image ({e}). Replace or remove the file.",
                           kind="unreadable_image", file=path) from e
    if orientation in _ROTATED_ORIENTATIONS:
        height, width = width, height
    return int(height), int(width)


def read_label_png(path):
    """The pixel values of a label or mask image, without colour conversion.

    Returns: [H, W] (palette index or grey value; uint8 or wider) or
    [H, W, 3] uint8 for RGB images. Alpha channels are dropped.
    """
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.mode in ("RGBA", "LA"):
                img = img.convert("RGB" if img.mode == "RGBA" else "L")
            elif img.mode not in ("P", "L", "1", "RGB", "I", "I;16", "I;16B"):
                img = img.convert("RGB")
            return np.asarray(img).copy()
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{path}: cannot read the mask image ({e}). Replace or remove the file.",
                           kind="unreadable_image", file=path) from e


def read_binary_mask(path, size=None, resize=False):
    """A per-instance mask file as bool [H, W]: every non-zero pixel is set.

    Masks drawn as 0/255, 0/1 or coloured on black all work. `size` is the
    expected (height, width): with `resize` the mask is scaled to it (nearest
    neighbour; Open Images masks are smaller than their images), without it a
    different size raises `DatasetError` (kind "size_mismatch").
    """
    values = read_label_png(path)
    mask = values.any(axis=-1) if values.ndim == 3 else values > 0
    if size is not None and tuple(mask.shape) != tuple(size):
        if not resize:
            raise DatasetError(
                f"{path}: the mask is {mask.shape[1]}x{mask.shape[0]} (width x height) but its image "
                f"is {size[1]}x{size[0]}. Masks must have the size of their image.",
                kind="size_mismatch", file=path)
        mask = resize_nearest(mask, size)
    return mask


def resize_nearest(mask, size):
    """bool [h, w] -> bool [size[0], size[1]] by nearest neighbour."""
    from PIL import Image

    img = Image.fromarray(mask.astype(np.uint8) * 255)
    img = img.resize((int(size[1]), int(size[0])), Image.NEAREST)
    return np.asarray(img) > 127


def decode_base64_image(data, file=None):
    """An image embedded as base64 text (LabelMe's `imageData`) -> uint8 [H, W, 3]."""
    from PIL import Image

    try:
        raw = base64.b64decode(data)
        with Image.open(io.BytesIO(raw)) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{file}: the embedded image cannot be decoded ({e}).",
                           kind="unreadable_image", file=file) from e


def decode_base64_mask(data, file=None):
    """A mask embedded as base64 PNG text -> bool [h, w] (non-zero pixels)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(base64.b64decode(data))) as img:
            values = np.asarray(img.convert("L"))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{file}: an embedded mask cannot be decoded ({e}).",
                           kind="invalid_annotation", file=file) from e
    return values > 0
