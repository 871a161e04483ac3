"""Request bytes -> an RGB image, refusing what would hurt the service.

Pillow is told which formats to try (no exotic parsers on untrusted bytes)
and the picture's size is read from its header and checked against the
service's pixel limit before a single pixel is decoded: a 1 kB PNG can
declare 100 000 x 100 000 pixels (a decompression bomb). Pillow's own
bomb check (`PIL.Image.MAX_IMAGE_PIXELS`, an error at twice that) stays
on behind it. Truncated files are refused (`ImageFile.LOAD_TRUNCATED_IMAGES`
stays False). The pixels are then read by `mrcnn.data.dataset.read_image_file`,
as for training: EXIF orientation applied, grey and 16-bit made RGB, alpha dropped.
"""
import io

import numpy as np

# Formats a camera, a phone or an annotation tool writes.
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
DEFAULT_MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo passes


class RequestError(Exception):
    """A request the service refuses: `status` (HTTP 4xx) and a message for
    the person who sent it."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = int(status)
        self.message = message


def decode_image(data, max_pixels=DEFAULT_MAX_PIXELS):
    """Decode an uploaded image.

    data: the file's bytes (JPEG, PNG, WebP, BMP, TIFF, GIF).
    max_pixels: refuse images of more pixels (width x height) than this.
    Returns: uint8 [H, W, 3], upright (EXIF orientation applied).
    Raises RequestError: 400 empty or truncated/corrupt, 415 not an image
    of a known format, 413 too many pixels.
    """
    from PIL import Image, UnidentifiedImageError

    from mrcnn.data.dataset import read_image_file

    if not data:
        raise RequestError(400, "the request has no image: the body (or the uploaded file) is empty")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            width, height = img.size
    except UnidentifiedImageError:
        raise RequestError(415, "the upload is not an image Pillow can read; send a JPEG, PNG, "
                                "WebP, BMP, TIFF or GIF file") from None
    except Image.DecompressionBombError as e:
        raise RequestError(413, f"the image has too many pixels ({e})") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise RequestError(400, f"the image header is corrupt ({e})") from None
    if width * height > max_pixels:
        raise RequestError(413, f"the image is {width} x {height} = {width * height:,} pixels, more "
                                f"than this service's limit of {max_pixels:,} (--max-pixels); "
                                "send a smaller image")
    try:
        image = read_image_file(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise RequestError(413, f"the image has too many pixels ({e})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise RequestError(400, f"the image is truncated or corrupt and cannot be decoded ({e}); "
                                "upload the whole file again") from None
    return np.ascontiguousarray(image, dtype=np.uint8)
