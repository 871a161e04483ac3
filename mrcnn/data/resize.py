"""Resizing images and masks (matterport's `utils.resize_image` family)."""
import warnings

import numpy as np
import skimage.transform


def resize(image, output_shape, order=1, mode="constant", cval=0, clip=True,
           preserve_range=False, anti_aliasing=False, anti_aliasing_sigma=None):
    """A wrapper for skimage.transform.resize with matterport's defaults
    (no anti-aliasing unless asked)."""
    return skimage.transform.resize(
        image, output_shape, order=order, mode=mode, cval=cval, clip=clip,
        preserve_range=preserve_range, anti_aliasing=anti_aliasing,
        anti_aliasing_sigma=anti_aliasing_sigma)


def resize_image(image, min_dim=None, max_dim=None, min_scale=None, mode="square"):
    """Resizes an image keeping the aspect ratio unchanged.

    min_dim: if provided, resizes the image such that it's smaller
        dimension == min_dim
    max_dim: if provided, ensures that the image longest side doesn't
        exceed this value.
    min_scale: if provided, ensure that the image is scaled up by at least
        this percent even if min_dim doesn't require it.
    mode: Resizing mode.
        none: No resizing. Return the image unchanged.
        square: Resize and pad with zeros to get a square image
            of size [max_dim, max_dim].
        pad64: Pads width and height with zeros to make them multiples of 64.
               If min_dim or min_scale are provided, it scales the image up
               before padding. max_dim is ignored in this mode.
               The multiple of 64 is needed to ensure smooth scaling of feature
               maps up and down the 6 levels of the FPN pyramid (2**6=64).
        crop: Picks random crops from the image. First, scales the image based
              on min_dim and min_scale, then picks a random crop of
              size min_dim x min_dim. Can be used in training only.
              max_dim is not used in this mode.

    Returns:
    image: the resized image
    window: (y1, x1, y2, x2). If max_dim is provided, padding might
        be inserted in the returned image. If so, this window is the
        coordinates of the image part of the full image (excluding
        the padding). The x2, y2 pixels are not included.
    scale: The scale factor used to resize the image
    padding: Padding added to the image [(top, bottom), (left, right), (0, 0)]
    crop: (y, x, h, w) of the crop, or None
    """
    # Keep track of image dtype and return results in the same dtype
    image_dtype = image.dtype
    # Default window (y1, x1, y2, x2) and default scale == 1.
    h, w = image.shape[:2]
    window = (0, 0, h, w)
    scale = 1
    padding = [(0, 0), (0, 0), (0, 0)]
    crop = None

    if mode == "none":
        return image, window, scale, padding, crop

    # Scale?
    if min_dim:
        # Scale up but not down
        scale = max(1, min_dim / min(h, w))
    if min_scale and scale < min_scale:
        scale = min_scale

    # Does it exceed max dim?
    if max_dim and mode == "square":
        image_max = max(h, w)
        if round(image_max * scale) > max_dim:
            scale = max_dim / image_max

    # Resize image using bilinear interpolation
    if scale != 1:
        image = resize(image, (round(h * scale), round(w * scale)), preserve_range=True)

    # Need padding or cropping?
    if mode == "square":
        # Get new height and width
        h, w = image.shape[:2]
        top_pad = (max_dim - h) // 2
        bottom_pad = max_dim - h - top_pad
        left_pad = (max_dim - w) // 2
        right_pad = max_dim - w - left_pad
        padding = [(top_pad, bottom_pad), (left_pad, right_pad), (0, 0)]
        image = np.pad(image, padding, mode="constant", constant_values=0)
        window = (top_pad, left_pad, h + top_pad, w + left_pad)
    elif mode == "pad64":
        h, w = image.shape[:2]
        # Both sides must be divisible by 64
        assert min_dim % 64 == 0, "Minimum dimension must be a multiple of 64"
        # Height
        if h % 64 > 0:
            max_h = h - (h % 64) + 64
            top_pad = (max_h - h) // 2
            bottom_pad = max_h - h - top_pad
        else:
            top_pad = bottom_pad = 0
        # Width
        if w % 64 > 0:
            max_w = w - (w % 64) + 64
            left_pad = (max_w - w) // 2
            right_pad = max_w - w - left_pad
        else:
            left_pad = right_pad = 0
        padding = [(top_pad, bottom_pad), (left_pad, right_pad), (0, 0)]
        image = np.pad(image, padding, mode="constant", constant_values=0)
        window = (top_pad, left_pad, h + top_pad, w + left_pad)
    elif mode == "crop":
        # Pick a random crop
        h, w = image.shape[:2]
        if h < min_dim or w < min_dim:
            # Too small to crop: pad up to the crop size first
            pad_h, pad_w = max(0, min_dim - h), max(0, min_dim - w)
            padding = [(0, pad_h), (0, pad_w), (0, 0)]
            image = np.pad(image, padding, mode="constant", constant_values=0)
            h, w = image.shape[:2]
        y = np.random.randint(0, (h - min_dim) + 1)
        x = np.random.randint(0, (w - min_dim) + 1)
        crop = (y, x, min_dim, min_dim)
        image = image[y:y + min_dim, x:x + min_dim]
        window = (0, 0, min_dim, min_dim)
    else:
        raise ValueError(
            f"IMAGE_RESIZE_MODE {mode!r} is not supported; use one of "
            "'square', 'pad64', 'crop', 'none'")
    return image.astype(image_dtype), window, scale, padding, crop


def resize_mask(mask, scale, padding, crop=None):
    """Resizes a mask using the given scale and padding.

    Typically, you get the scale and padding from resize_image() to
    ensure both, the image and the mask, are resized consistently.

    scale: mask scaling factor
    padding: Padding to add to the mask in the form
            [(top, bottom), (left, right), (0, 0)]

    Returns: bool [H', W', N].
    """
    mask = np.asarray(mask)
    if scale != 1 and mask.shape[-1] > 0:
        h, w = mask.shape[:2]
        # Nearest neighbour on a float copy: bool input to zoom/resize is
        # unreliable across scipy/skimage versions.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mask = resize(mask.astype(np.float32),
                          (round(h * scale), round(w * scale), mask.shape[-1]),
                          order=0, preserve_range=True) > 0.5
    elif scale != 1:
        h, w = mask.shape[:2]
        mask = np.zeros((round(h * scale), round(w * scale), 0), dtype=bool)
    mask = np.pad(mask, padding, mode="constant", constant_values=0)
    if crop is not None:
        y, x, h, w = crop
        mask = mask[y:y + h, x:x + w]
    return mask.astype(bool)


def minimize_mask(bbox, mask, mini_shape):
    """Resize masks to a smaller version to reduce memory load.
    Mini-masks can be resized back to image scale using expand_masks()

    bbox: int [N, (y1, x1, y2, x2)]
    mask: bool [H, W, N]
    mini_shape: (height, width)

    Returns: bool [mini_h, mini_w, N].
    """
    mini_mask = np.zeros(tuple(mini_shape) + (mask.shape[-1],), dtype=bool)
    for i in range(mask.shape[-1]):
        m = mask[:, :, i].astype(np.float32)
        y1, x1, y2, x2 = bbox[i][:4]
        m = m[y1:y2, x1:x2]
        if m.size == 0:
            # A box of zero area (an instance that vanished): leave it empty.
            continue
        m = resize(m, mini_shape)
        mini_mask[:, :, i] = np.around(m).astype(bool)
    return mini_mask


def expand_mask(bbox, mini_mask, image_shape):
    """Resizes mini masks back to image size. Reverses the change
    of minimize_mask().

    Returns: bool [image_h, image_w, N].
    """
    mask = np.zeros(tuple(image_shape[:2]) + (mini_mask.shape[-1],), dtype=bool)
    for i in range(mask.shape[-1]):
        m = mini_mask[:, :, i].astype(np.float32)
        y1, x1, y2, x2 = bbox[i][:4]
        h = y2 - y1
        w = x2 - x1
        if h <= 0 or w <= 0:
            continue
        # Resize with bilinear interpolation
        m = resize(m, (h, w))
        mask[y1:y2, x1:x2, i] = np.around(m).astype(bool)
    return mask


def unmold_mask(mask, bbox, image_shape):
    """Converts a mask generated by the neural network to a format similar
    to its original shape.

    mask: [height, width] of type float. A small, typically 28x28 mask.
    bbox: [y1, x1, y2, x2]. The box to fit the mask in.

    Returns a binary mask with the same size as the original image.
    """
    full_mask = np.zeros(image_shape[:2], dtype=bool)
    placed = _mask_in_box(mask, bbox, image_shape)
    if placed is not None:
        region, binary = placed
        full_mask[region] = binary
    return full_mask


def paste_masks(masks, boxes, image_shape):
    """unmold_mask for all instances of an image at once.

    masks: float [N, height, width], small (typically 28x28) masks.
    boxes: int [N, (y1, x1, y2, x2)] in pixels of the image.
    Returns: bool [H, W, N], mask i pasted into boxes[i] and thresholded at
    0.5. Written into one array box by box: stacking N full-image masks
    along the last axis would cost far more than the resizing (numbers:
    docs/performance.md).
    """
    full_masks = np.zeros(tuple(image_shape[:2]) + (len(masks),), dtype=bool)
    for i, (mask, box) in enumerate(zip(masks, boxes)):
        placed = _mask_in_box(mask, box, image_shape)
        if placed is not None:
            (rows, cols), binary = placed
            full_masks[rows, cols, i] = binary
    return full_masks


def _mask_in_box(mask, bbox, image_shape):
    """((row slice, column slice) of the image, bool mask for that region)
    of `mask` resized to `bbox` and clipped to the image; None when nothing
    of it is inside."""
    threshold = 0.5
    y1, x1, y2, x2 = (int(v) for v in bbox)
    if y2 <= y1 or x2 <= x1:
        return None
    h, w = image_shape[:2]
    cy1, cx1, cy2, cx2 = max(y1, 0), max(x1, 0), min(y2, h), min(x2, w)
    if cy2 <= cy1 or cx2 <= cx1:
        return None
    mask = resize(mask, (y2 - y1, x2 - x1)) >= threshold
    return ((slice(cy1, cy2), slice(cx1, cx2)),
            mask[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1])
