"""Drawing into NumPy arrays, without matplotlib: instances (masks, boxes,
captions) for files, TensorBoard, video and `splash`, and the colours that
every picture of the project gives the classes.

mrcnn.visualize re-exports these under matterport's names.
"""
import colorsys
import random

import numpy as np


def random_colors(N, bright=True, seed=None):
    """Generate N visually distinct colours: RGB tuples of floats in [0, 1].

    To get visually distinct colors, generate them in HSV space then convert
    to RGB. The order is shuffled (with `random`, or a private generator
    when `seed` is given, for repeatable pictures).
    """
    brightness = 1.0 if bright else 0.7
    hsv = [(i / max(N, 1), 1, brightness) for i in range(N)]
    colors = [colorsys.hsv_to_rgb(*c) for c in hsv]
    (random if seed is None else random.Random(seed)).shuffle(colors)
    return colors


def class_colors(num_classes, bright=True):
    """One fixed colour per class id (index 0 = BG), the same in every picture."""
    return random_colors(max(num_classes, 1), bright, seed=num_classes)


def apply_mask(image, mask, color, alpha=0.5):
    """Apply the given mask to the image, in place (matterport semantics).

    image: [H, W, 3] array (uint8 truncates the blend; pass a float or
    uint32 copy for exact values). mask: [H, W] bool or 0/1.
    color: RGB floats in [0, 1].
    Returns: the image.
    """
    mask = np.asarray(mask) > 0
    for c in range(3):
        image[:, :, c] = np.where(mask, image[:, :, c] * (1 - alpha) + alpha * color[c] * 255,
                                  image[:, :, c])
    return image


def caption(class_names, class_id, score):
    label = class_names[class_id] if 0 <= class_id < len(class_names) else str(class_id)
    return f"{label} {score:.3f}" if score is not None else label


def draw_box(image, box, color):
    """Draw a 1-pixel box outline on an image, in place.

    image: [H, W, 3]. box: [y1, x1, y2, x2] (y2, x2 inclusive here, as in
    matterport). color: a value per channel, in the image's range.
    """
    y1, x1, y2, x2 = box
    image[y1:y1 + 2, x1:x2] = color
    image[y2:y2 + 2, x1:x2 + 2] = color
    image[y1:y2, x1:x1 + 2] = color
    image[y1:y2, x2:x2 + 2] = color
    return image


def _outline(mask):
    """bool [H, W]: the mask pixels that touch a pixel outside it."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def draw_instances(image, r, class_names, colors=None, show_mask=True, show_bbox=True,
                   show_caption=True, alpha=0.5):
    """Draw detections (or ground truth) into an RGB image, no matplotlib.

    image: uint8 [H, W, 3].
    r: a result dict: "rois" [N, (y1, x1, y2, x2)], "class_ids" [N],
        optional "scores" [N] and "masks" bool [H, W, N].
    class_names: list of class names (index = class id).
    colors: RGB floats in [0, 1] per instance; default one fixed colour per
        class (`class_colors`), so ground truth and predictions drawn side by
        side match.
    alpha: mask opacity. Inside a mask a pixel becomes
        (1 - alpha) * pixel + alpha * 255 * colour (rounded); outlines,
        boxes (1-2 px) and captions are drawn in the colour over it.
    Returns: uint8 [H, W, 3], a new array.
    """
    from PIL import Image, ImageDraw

    out = np.asarray(image).astype(np.float32).copy()
    rois = np.asarray(r.get("rois", np.zeros((0, 4)))).reshape(-1, 4).astype(int)
    class_ids = np.asarray(r.get("class_ids", np.zeros(len(rois)))).astype(int)
    scores = r.get("scores")
    masks = r.get("masks")
    n = rois.shape[0]
    if colors is None:
        palette = class_colors(len(class_names))
        colors = [palette[c % len(palette)] for c in class_ids]
    if masks is not None and show_mask:
        for i in range(min(n, masks.shape[-1])):
            apply_mask(out, masks[..., i], colors[i], alpha)
            out[_outline(masks[..., i] > 0)] = np.array(colors[i][:3]) * 255
    canvas = Image.fromarray(np.clip(np.round(out), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(max(image.shape[:2]) / 400))
    for i in range(n):
        if not rois[i].any():
            continue
        y1, x1, y2, x2 = rois[i]
        rgb = tuple(int(round(v * 255)) for v in colors[i][:3])
        if show_bbox:
            draw.rectangle([x1, y1, x2 - 1, y2 - 1], outline=rgb, width=width)
        if show_caption:
            text = caption(class_names, class_ids[i],
                            None if scores is None else float(scores[i]))
            left, top, right, bottom = draw.textbbox((x1 + 2, y1 + 1), text)
            draw.rectangle([left - 1, top - 1, right + 1, bottom + 1], fill=rgb)
            draw.text((x1 + 2, y1 + 1), text, fill=(255, 255, 255))
    return np.asarray(canvas)


def side_by_side(images, titles=None, gap=4):
    """Place images next to each other on a white background, optionally
    with a title above each (e.g. "ground truth" | "prediction").

    images: list of uint8 [H_i, W_i, 3]. Returns: uint8 [H, sum W_i + gaps, 3].
    """
    from PIL import Image, ImageDraw

    band = 12 if titles else 0
    height = max(im.shape[0] for im in images) + band
    width = sum(im.shape[1] for im in images) + gap * (len(images) - 1)
    canvas = np.full((height, width, 3), 255, np.uint8)
    x = 0
    for im in images:
        canvas[band:band + im.shape[0], x:x + im.shape[1]] = im
        x += im.shape[1] + gap
    if titles:
        pil = Image.fromarray(canvas)
        draw = ImageDraw.Draw(pil)
        x = 0
        for im, title in zip(images, titles):
            draw.text((x + 2, 0), str(title), fill=(0, 0, 0))
            x += im.shape[1] + gap
        canvas = np.asarray(pil)
    return canvas


def color_splash(image, masks):
    """Colour where the masks are, greyscale elsewhere (matterport's balloon
    splash).

    image: uint8 [H, W, 3]. masks: bool [H, W, N] (N may be 0).
    Returns: uint8 [H, W, 3].
    """
    image = np.asarray(image)
    # skimage's rgb2gray weights, without importing skimage.
    gray = np.round(image[..., :3].astype(np.float64) @ np.array([0.2125, 0.7154, 0.0721]))
    gray = np.repeat(gray[..., None], 3, axis=-1).astype(np.uint8)
    if masks.shape[-1] == 0:
        return gray
    inside = np.any(masks, axis=-1, keepdims=True)
    return np.where(inside, image, gray).astype(np.uint8)
