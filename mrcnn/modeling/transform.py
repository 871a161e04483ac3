"""Pre- and post-processing of one image as TensorFlow functions.

The in-graph twins of `MaskRCNN.mold_inputs` (mrcnn.data.resize.resize_image
+ mold_image + compose_image_meta) and `MaskRCNN.unmold_detections`
(+ mrcnn.data.resize.paste_masks), so that an exported SavedModel takes a
raw uint8 image and returns boxes and masks at that image's size (see
mrcnn.export). They compute what the numpy functions compute, including
skimage's resize conventions: bilinear with half-pixel centres, zeros
outside the input (scipy's "grid-constant"), the result clipped to the
input's range; resized images truncated back to uint8. Images are resized
bit for bit as skimage does; masks to within float32 rounding.

Nothing here reads a Config: callers pass its values, so these functions
can be tested without a network.
"""
import tensorflow as tf


def resize_geometry(height, width, min_dim=None, max_dim=None, min_scale=None, mode="square"):
    """The scale, resized size and padding of `resize_image` for an image
    of `height` x `width`.

    height, width: int32 scalar tensors. min_dim, max_dim, min_scale, mode:
        Python values as in resize_image ("crop" is not an inference mode:
        callers pass "square" for it, as mold_inputs does).
    Returns a dict of scalar tensors: scale float64; resized_height,
    resized_width, top, left, padded_height, padded_width int32. The window
    of the image in the padded input is (top, left, top + resized_height,
    left + resized_width).
    """
    h = tf.cast(height, tf.float64)
    w = tf.cast(width, tf.float64)
    scale = tf.constant(1.0, tf.float64)
    if mode not in ("square", "pad64", "none"):
        raise ValueError(f"IMAGE_RESIZE_MODE {mode!r} has no inference resizing; "
                         "use square, pad64 or none")
    if mode != "none":
        if min_dim:
            scale = tf.maximum(scale, float(min_dim) / tf.minimum(h, w))
        if min_scale:
            scale = tf.where(scale < float(min_scale), tf.constant(float(min_scale), tf.float64),
                             scale)
        if max_dim and mode == "square":
            image_max = tf.maximum(h, w)
            # round() of Python and tf.round both round half to even.
            scale = tf.where(tf.round(image_max * scale) > float(max_dim),
                             float(max_dim) / image_max, scale)
    resized_h = tf.cast(tf.round(h * scale), tf.int32)
    resized_w = tf.cast(tf.round(w * scale), tf.int32)
    if mode == "square":
        padded_h = tf.constant(int(max_dim), tf.int32)
        padded_w = tf.constant(int(max_dim), tf.int32)
    elif mode == "pad64":
        padded_h = (resized_h + 63) // 64 * 64
        padded_w = (resized_w + 63) // 64 * 64
    else:
        padded_h, padded_w = resized_h, resized_w
    return {"scale": scale, "resized_height": resized_h, "resized_width": resized_w,
            "top": (padded_h - resized_h) // 2, "left": (padded_w - resized_w) // 2,
            "padded_height": padded_h, "padded_width": padded_w}


def _taps(out_size, in_size):
    """Where output sample o of an axis reads the input, as
    scipy.ndimage.zoom(order=1, grid_mode=True) computes it: coordinate
    c = (o + 0.5) * (in / out) - 0.5, weights w0 = 1 - (c - floor(c)) and
    w1 = 1 - w0 (float64). Returns (index, w0, w1): index [out] of the lower
    tap in the input with one zero border (index 0 is the border)."""
    ratio = tf.cast(in_size, tf.float64) / tf.cast(out_size, tf.float64)
    coords = (tf.range(out_size, dtype=tf.float64) + 0.5) * ratio - 0.5
    first = tf.floor(coords)
    w0 = 1.0 - (coords - first)
    # Coordinates lie in [-0.5, in - 0.5]: both taps stay inside the border.
    return tf.cast(first, tf.int32) + 1, w0, 1.0 - w0


def resize_bilinear(image, height, width):
    """skimage.transform.resize(image, (height, width), order=1,
    preserve_range=True, anti_aliasing=False) of matterport's `resize`,
    bit for bit: scipy's zoom with zeros outside the input ("grid-constant"),
    the four taps weighted and summed in scipy's order, then clipped to the
    input's range. (One ulp of difference would flip the uint8 truncation of
    a flat region's pixels, and an untrained network's scores with them.)

    image: [H, W, C] uint8 or float. height, width: int32 scalars.
    Returns: float64 [height, width, C].
    """
    x = tf.cast(image, tf.float64)
    shape = tf.shape(x)
    iy, wy0, wy1 = _taps(height, shape[0])
    ix, wx0, wx1 = _taps(width, shape[1])
    padded = tf.pad(x, [[1, 1], [1, 1], [0, 0]])
    top = tf.gather(padded, iy, axis=0)
    bottom = tf.gather(padded, iy + 1, axis=0)
    wy0, wy1 = wy0[:, None, None], wy1[:, None, None]
    wx0, wx1 = wx0[None, :, None], wx1[None, :, None]
    out = tf.gather(top, ix, axis=1) * wy0 * wx0
    out = out + tf.gather(top, ix + 1, axis=1) * wy0 * wx1
    out = out + tf.gather(bottom, ix, axis=1) * wy1 * wx0
    out = out + tf.gather(bottom, ix + 1, axis=1) * wy1 * wx1
    return tf.clip_by_value(out, tf.reduce_min(x), tf.reduce_max(x))


def mold_image(image, mean_pixel, num_classes, min_dim=None, max_dim=None, min_scale=None,
               mode="square"):
    """One image as MaskRCNN.mold_inputs prepares it.

    image: uint8 [H, W, 3], any size.
    mean_pixel: the Config's MEAN_PIXEL (3 values). num_classes: NUM_CLASSES.
    min_dim, max_dim, min_scale, mode: the Config's IMAGE_MIN_DIM,
        IMAGE_MAX_DIM, IMAGE_MIN_SCALE, IMAGE_RESIZE_MODE ("crop" -> "square").
    Returns (molded, image_meta, window):
        molded: float32 [h, w, 3], resized, zero-padded, minus the mean pixel
            ([IMAGE_MAX_DIM, IMAGE_MAX_DIM, 3] in square mode, multiples of
            64 in pad64 mode).
        image_meta: float32 [12 + num_classes] (compose_image_meta, image id 0,
            no active classes).
        window: int32 [4] (y1, x1, y2, x2) of the image inside `molded`.
    """
    if mode == "crop":
        mode = "square"
    image = tf.convert_to_tensor(image)
    shape = tf.shape(image)
    g = resize_geometry(shape[0], shape[1], min_dim, max_dim, min_scale, mode)
    rh, rw = g["resized_height"], g["resized_width"]

    def resized():
        # resize_image returns the input's dtype: uint8 truncates.
        return tf.cast(tf.floor(resize_bilinear(image, rh, rw)), tf.uint8)

    if mode == "none":
        pixels = image
    else:
        pixels = tf.cond(tf.equal(g["scale"], 1.0), lambda: image, resized)
    top, left = g["top"], g["left"]
    pixels = tf.pad(pixels, [[top, g["padded_height"] - rh - top],
                             [left, g["padded_width"] - rw - left], [0, 0]])
    molded = tf.cast(pixels, tf.float32) - tf.constant(list(mean_pixel), tf.float32)
    window = tf.stack([top, left, top + rh, left + rw])
    meta = tf.concat([
        tf.zeros([1], tf.float32),
        tf.cast(shape, tf.float32),
        tf.cast(tf.shape(molded), tf.float32),
        tf.cast(window, tf.float32),
        tf.cast(g["scale"], tf.float32)[None],
        tf.zeros([num_classes], tf.float32),
    ], axis=0)
    return molded, meta, window


def unmold_detections(detections, mrcnn_mask, original_shape, image_shape, window):
    """The detections of one image in the original image's pixels, as
    MaskRCNN.unmold_detections computes them (before pasting the masks).

    detections: float32 [D, (y1, x1, y2, x2, class_id, score)], normalized
        coordinates of the molded image, zero-padded after the last one.
    mrcnn_mask: float32 [D, h, w, NUM_CLASSES] mask probabilities.
    original_shape: int32 [>= 2] (H, W, ...) of the image before molding.
    image_shape: int32 [>= 2] (h, w, ...) of the molded image.
    window: int32 [4] (y1, x1, y2, x2) of the image inside the molded one.
    Returns (boxes, class_ids, scores, masks) of the N detections with a
    positive area: boxes int32 [N, 4] (y1, x1, y2, x2; y2, x2 exclusive),
    class_ids int32 [N], scores float32 [N], masks float32 [N, h, w] (each
    detection's class channel).
    """
    class_column = detections[:, 4]
    is_padding = tf.equal(class_column, 0.0)
    count = tf.where(tf.reduce_any(is_padding),
                     tf.argmax(tf.cast(is_padding, tf.int32), output_type=tf.int32),
                     tf.shape(detections)[0])
    boxes = detections[:count, :4]
    class_ids = tf.cast(class_column[:count], tf.int32)
    scores = detections[:count, 5]
    masks = tf.gather(tf.transpose(mrcnn_mask[:count], [0, 3, 1, 2]), class_ids, batch_dims=1)

    # The same dtypes as the numpy code (norm_boxes: float32 from float64;
    # denorm_boxes: float64), so that rounding agrees.
    h = tf.cast(image_shape[0], tf.float64)
    w = tf.cast(image_shape[1], tf.float64)
    win = tf.cast((tf.cast(window, tf.float64) - tf.constant([0.0, 0.0, 1.0, 1.0], tf.float64))
                  / tf.stack([h - 1, w - 1, h - 1, w - 1]), tf.float32)
    shift = tf.stack([win[0], win[1], win[0], win[1]])
    wh = win[2] - win[0]
    ww = win[3] - win[1]
    boxes = (boxes - shift) / tf.stack([wh, ww, wh, ww])
    oh = tf.cast(original_shape[0], tf.float64)
    ow = tf.cast(original_shape[1], tf.float64)
    boxes = tf.cast(boxes, tf.float64) * tf.stack([oh - 1, ow - 1, oh - 1, ow - 1])
    boxes = tf.cast(tf.round(boxes + tf.constant([0.0, 0.0, 1.0, 1.0], tf.float64)), tf.int32)

    # Zero-area boxes (early in training) are not detections.
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = area > 0
    return (tf.boolean_mask(boxes, keep), tf.boolean_mask(class_ids, keep),
            tf.boolean_mask(scores, keep), tf.boolean_mask(masks, keep))


def _paste_weights(starts, ends, size, mask_size):
    """Interpolation weights [N, size, mask_size + 2] that read, for each
    image row (or column) inside [starts, ends), the zero-bordered small
    mask at skimage's resize coordinate; rows outside the box get zeros."""
    starts = starts[:, None]
    ends = ends[:, None]
    pixels = tf.range(size, dtype=tf.int32)[None, :]
    extent = tf.cast(tf.maximum(ends - starts, 1), tf.float32)
    coords = (tf.cast(pixels - starts, tf.float32) + 0.5) * (mask_size / extent) - 0.5
    first = tf.floor(coords)
    frac = coords - first
    inside = tf.cast((pixels >= starts) & (pixels < ends), tf.float32)
    index = tf.cast(first, tf.int32) + 1
    # one_hot gives zeros for an index outside [0, depth): rows far outside
    # the box read nothing, and `inside` zeroes the rest.
    depth = mask_size + 2
    weights = (tf.one_hot(index, depth) * (1 - frac)[..., None]
               + tf.one_hot(index + 1, depth) * frac[..., None])
    return weights * inside[..., None]


def paste_masks(masks, boxes, height, width, threshold=0.5):
    """mrcnn.data.resize.paste_masks in TensorFlow: each small mask resized
    into its box (skimage bilinear, clipped to that mask's range),
    thresholded at `threshold` and placed in an image of height x width.

    masks: float32 [N, m, m] (typically 28 x 28) probabilities.
    boxes: int32 [N, (y1, x1, y2, x2)] in pixels of the image, y2/x2
        exclusive; parts outside the image are cut off.
    height, width: int32 scalars.
    Returns: uint8 [N, height, width], 1 inside the instance, else 0
    (the numpy function returns bool [H, W, N]).
    """
    masks = tf.convert_to_tensor(masks, tf.float32)
    mask_size = masks.shape[1]
    padded = tf.pad(masks, [[0, 0], [1, 1], [1, 1]])
    rows = _paste_weights(boxes[:, 0], boxes[:, 2], height, mask_size)
    cols = _paste_weights(boxes[:, 1], boxes[:, 3], width, mask_size)
    # Separable bilinear resampling: [N, H, m+2] x [N, m+2, m+2] x [N, m+2, W].
    values = tf.matmul(tf.matmul(rows, padded), cols, transpose_b=True)
    low = tf.reduce_min(masks, axis=[1, 2])[:, None, None]
    high = tf.reduce_max(masks, axis=[1, 2])[:, None, None]
    values = tf.clip_by_value(values, low, high)
    inside = ((tf.reduce_sum(rows, axis=2) > 0)[:, :, None]
              & (tf.reduce_sum(cols, axis=2) > 0)[:, None, :])
    return tf.cast(inside & (values >= threshold), tf.uint8)
