"""mrcnn.modeling.transform against the numpy pre/post-processing it
replaces in the exported graph (resize_image + mold_image +
compose_image_meta, unmold_detections + paste_masks), without a network."""
import numpy as np
import pytest
import tensorflow as tf

from mrcnn.config import Config
from mrcnn.data.pipeline import mold_image as numpy_mold
from mrcnn.data.resize import paste_masks as numpy_paste
from mrcnn.data.resize import resize, resize_image
from mrcnn.image_meta import compose_image_meta
from mrcnn.modeling import transform

MEAN = Config.MEAN_PIXEL


def numpy_molded(image, min_dim, max_dim, min_scale, mode):
    molded, window, scale, _, _ = resize_image(image, min_dim=min_dim, max_dim=max_dim,
                                               min_scale=min_scale, mode=mode)
    meta = compose_image_meta(0, image.shape, molded.shape, window, scale, np.zeros([4], np.int32))
    return numpy_mold(molded, Config), meta.astype(np.float32), np.array(window)


def noise(shape, seed, low=0):
    """uint8 noise with flat patches (saturated colours, as photos have):
    there a resized value is an integer only if computed as skimage does."""
    rng = np.random.default_rng(seed)
    image = rng.integers(low, 256, shape).astype(np.uint8)
    h, w = shape[:2]
    image[h // 4:h // 2, w // 5:w // 2] = (220, 60, 60)
    image[h // 2:, w // 2:] = (255, 255, 255)
    return image


@pytest.mark.parametrize("shape, min_dim, max_dim, min_scale, mode", [
    ((64, 64, 3), 64, 64, 0, "square"),        # scale 1
    ((50, 90, 3), 64, 64, 0, "square"),        # down to 36 x 64
    ((120, 40, 3), 64, 64, 0, "square"),       # down, tall
    ((30, 20, 3), 64, 128, 0, "square"),       # up by min_dim
    ((37, 53, 3), 64, 256, 2.0, "square"),     # min_scale
    ((50, 90, 3), 64, 64, 0, "pad64"),         # up to 64 x 115, padded to 64 x 128
    ((130, 70, 3), 64, 64, 0, "pad64"),        # scale 1, padded to 192 x 128
    ((64, 128, 3), 64, 64, 0, "none"),
])
def test_mold_image_matches_resize_image_and_mold_image(shape, min_dim, max_dim, min_scale, mode):
    # Pixels from 20 up: skimage clips the resized image to the input's range,
    # which the borders (blended with zeros) fall below.
    image = noise(shape, seed=sum(shape), low=20)
    expected, expected_meta, expected_window = numpy_molded(image, min_dim, max_dim, min_scale,
                                                            mode)
    molded, meta, window = transform.mold_image(image, MEAN, 4, min_dim, max_dim, min_scale, mode)
    assert molded.shape == expected.shape
    assert molded.dtype == tf.float32
    np.testing.assert_array_equal(molded.numpy(), expected)
    np.testing.assert_array_equal(window.numpy(), expected_window)
    np.testing.assert_allclose(meta.numpy(), expected_meta, rtol=1e-6)


@pytest.mark.parametrize("in_shape, out_shape", [((28, 28), (7, 45)), ((28, 28), (60, 13)),
                                                 ((5, 9), (17, 4)), ((33, 20), (33, 20))])
def test_resize_bilinear_matches_skimage(in_shape, out_shape):
    image = noise(in_shape + (3,), seed=in_shape[0], low=30)
    expected = resize(image, out_shape, preserve_range=True)
    got = transform.resize_bilinear(image, *out_shape).numpy()
    np.testing.assert_array_equal(got, expected)


def random_detections(rng, count, slots, num_classes, mask_size=28):
    y1, x1 = rng.uniform(0.2, 0.5, (2, count))
    y2, x2 = y1 + rng.uniform(0.05, 0.4, count), x1 + rng.uniform(0.05, 0.45, count)
    detections = np.zeros([slots, 6], np.float32)
    detections[:count, :4] = np.stack([y1, x1, y2, x2], axis=1)
    detections[:count, 4] = rng.integers(1, num_classes, count)
    detections[:count, 5] = np.sort(rng.uniform(0.3, 1.0, count))[::-1]
    # An inverted box (y2 < y1): zero area in pixels, dropped by both.
    detections[1, 2] = detections[1, 0] - 0.05
    masks = rng.uniform(0, 1, (slots, mask_size, mask_size, num_classes)).astype(np.float32)
    # Smooth blobs so that thresholding gives real shapes.
    yy, xx = np.mgrid[:mask_size, :mask_size] / (mask_size - 1)
    masks = (0.6 * masks + 0.7 * np.exp(-((yy - 0.5) ** 2 + (xx - 0.5) ** 2) * 6)[None, :, :, None])
    masks[0, ..., :] = np.clip(masks[0], 0.55, 1)   # all above threshold: clipping decides edges
    return detections, masks.astype(np.float32)


@pytest.mark.parametrize("original, mode", [((64, 64, 3), "square"), ((50, 90, 3), "square"),
                                             ((120, 40, 3), "square"), ((50, 90, 3), "pad64")])
def test_unmold_and_paste_match_numpy(original, mode):
    from mrcnn.model import MaskRCNN

    rng = np.random.default_rng(original[0])
    image = noise(original, seed=1)
    molded, _, window = numpy_molded(image, 64, 64, 0, mode)
    detections, masks = random_detections(rng, count=6, slots=8, num_classes=4)
    boxes, class_ids, scores, full = MaskRCNN.unmold_detections(
        None, detections, masks, original, molded.shape, window)

    g_boxes, g_class_ids, g_scores, g_small = transform.unmold_detections(
        detections, masks, np.array(original, np.int32), np.array(molded.shape, np.int32),
        window.astype(np.int32))
    np.testing.assert_array_equal(g_boxes.numpy(), boxes)
    np.testing.assert_array_equal(g_class_ids.numpy(), class_ids)
    np.testing.assert_array_equal(g_scores.numpy(), scores)
    assert len(boxes) == 5
    pasted = transform.paste_masks(g_small, g_boxes, original[0], original[1]).numpy()
    assert pasted.dtype == np.uint8 and pasted.shape == (5,) + original[:2]
    expected = np.moveaxis(full, -1, 0)
    assert expected.sum() > 0
    # Float32 against skimage's float64 coordinates: a pixel may flip where
    # the value is within rounding of 0.5.
    assert (pasted != expected).sum() <= 2


def test_paste_masks_cuts_boxes_at_the_image_border():
    mask = np.full([1, 28, 28], 0.9, np.float32)
    boxes = np.array([[-5, 10, 20, 80]], np.int32)
    expected = np.moveaxis(numpy_paste(mask, boxes, (16, 40)), -1, 0)
    got = transform.paste_masks(mask, boxes, 16, 40).numpy()
    np.testing.assert_array_equal(got, expected)
    assert got[0, :, 10:].all() and not got[0, :, :10].any()
