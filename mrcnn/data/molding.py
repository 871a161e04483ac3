"""Inference pre- and post-processing in NumPy, without a network:
images to the network's inputs (mold) and its detections back to the
original image (unmold). MaskRCNN.mold_inputs/unmold_detections (matterport's
API) call these; the exported model does the same in TensorFlow
(mrcnn.modeling.transform)."""
import numpy as np

from mrcnn.boxes import denorm_boxes, norm_boxes
from mrcnn.data.pipeline import mold_image
from mrcnn.data.resize import paste_masks, resize_image
from mrcnn.image_meta import compose_image_meta


def mold_inputs(images, config):
    """Resize, pad and mean-subtract images for the network.

    images: list of uint8 [height, width, channels] arrays, sizes may differ.
    config: the Config (IMAGE_*_DIM, IMAGE_MIN_SCALE, IMAGE_RESIZE_MODE,
        MEAN_PIXEL, NUM_CLASSES).

    Returns:
    molded_images: float32 [N, h, w, channels], resized and normalized.
    image_metas: [N, IMAGE_META_SIZE] (mrcnn.image_meta).
    windows: int [N, (y1, x1, y2, x2)], the part of each molded image that
        holds the original (padding excluded).
    """
    molded_images = []
    image_metas = []
    windows = []
    for image in images:
        molded_image, window, scale, padding, crop = resize_image(
            image,
            min_dim=config.IMAGE_MIN_DIM,
            min_scale=config.IMAGE_MIN_SCALE,
            max_dim=config.IMAGE_MAX_DIM,
            mode="square" if config.IMAGE_RESIZE_MODE == "crop" else
            config.IMAGE_RESIZE_MODE)
        molded_image = mold_image(molded_image, config)
        image_meta = compose_image_meta(
            0, image.shape, molded_image.shape, window, scale,
            np.zeros([config.NUM_CLASSES], dtype=np.int32))
        molded_images.append(molded_image)
        windows.append(window)
        image_metas.append(image_meta)
    molded_images = np.stack(molded_images)
    image_metas = np.stack(image_metas)
    windows = np.stack(windows)
    return molded_images, image_metas, windows


def unmold_detections(detections, mrcnn_mask, original_image_shape, image_shape, window):
    """The detections of one image, from the network's output to the
    original image.

    detections: [N, (y1, x1, y2, x2, class_id, score)] in normalized
        coordinates of the molded image, zero-padded after the last one.
    mrcnn_mask: float [N, height, width, num_classes] mask probabilities.
    original_image_shape: [H, W, C] before resizing.
    image_shape: [H, W, C] after resizing and padding.
    window: [y1, x1, y2, x2] pixels of the original inside the molded image.

    Returns:
    boxes: int32 [N, (y1, x1, y2, x2)] pixels of the original image.
    class_ids: int32 [N].
    scores: float32 [N].
    masks: bool [H, W, N] full-size instance masks.
    """
    # The detections are zero-padded: the first class id 0 ends them.
    zero_ix = np.where(detections[:, 4] == 0)[0]
    N = zero_ix[0] if zero_ix.shape[0] > 0 else detections.shape[0]

    boxes = detections[:N, :4]
    class_ids = detections[:N, 4].astype(np.int32)
    scores = detections[:N, 5].astype(np.float32)
    masks = mrcnn_mask[np.arange(N), :, :, class_ids]

    # Translate normalized coordinates in the resized image to pixel
    # coordinates in the original image before resizing
    window = norm_boxes(np.asarray(window), image_shape[:2])
    wy1, wx1, wy2, wx2 = window
    shift = np.array([wy1, wx1, wy1, wx1])
    wh = wy2 - wy1  # window height
    ww = wx2 - wx1  # window width
    scale = np.array([wh, ww, wh, ww])
    # Convert boxes to normalized coordinates on the window
    boxes = np.divide(boxes - shift, scale)
    # Convert boxes to pixel coordinates on the original image
    boxes = denorm_boxes(boxes, original_image_shape[:2])

    # Filter out detections with zero area. Happens in early training when
    # network weights are still random
    exclude_ix = np.where(
        (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) <= 0)[0]
    if exclude_ix.shape[0] > 0:
        boxes = np.delete(boxes, exclude_ix, axis=0)
        class_ids = np.delete(class_ids, exclude_ix, axis=0)
        scores = np.delete(scores, exclude_ix, axis=0)
        masks = np.delete(masks, exclude_ix, axis=0)

    full_masks = paste_masks(masks, boxes, original_image_shape)

    return boxes.astype(np.int32), class_ids, scores, full_masks
