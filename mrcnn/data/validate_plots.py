"""The figures of `mrcnn validate --plot`: where they go, the instance sizes
against the anchors, and a grid of annotated samples as training sees them
(resized, augmented).

Figures use matplotlib's object-oriented API (Figure + FigureCanvasAgg,
never pyplot); the sample grid is drawn with NumPy and Pillow
(`mrcnn.drawing.draw_instances`).
"""
import os

import numpy as np

from mrcnn.boxes import extract_bboxes
from mrcnn.data.anchor_advice import SCALE_REACH, resize_scales
from mrcnn.data.augmentation import augment
from mrcnn.data.resize import resize, resize_image, resize_mask

FIGURES = ("histograms", "classes", "sizes", "samples")
# Longest side of a sample in the grid, pixels.
TILE = 256
# Colour of the anchor scales and ratios in the size figure.
ANCHOR_COLOR = "#ff0000"


def plot_paths(target):
    """{figure name: PNG path} for `--plot TARGET`: a path ending in .png
    keeps the histograms there and puts the other figures beside it as
    <stem>_classes.png, <stem>_sizes.png, <stem>_samples.png; anything
    else is a folder (created) holding histograms.png, classes.png,
    sizes.png and samples.png."""
    target = os.fspath(target)
    if target.lower().endswith(".png"):
        stem = target[:-4]
        return {name: target if name == "histograms" else f"{stem}_{name}.png" for name in FIGURES}
    os.makedirs(target, exist_ok=True)
    return {name: os.path.join(target, f"{name}.png") for name in FIGURES}


def plot_sizes(path, advice, title=None):
    """Save the instance sizes against the anchors as a PNG: left, a
    histogram of sqrt(box area) after the resize (log scale) with a red
    vertical line at each RPN_ANCHOR_SCALES value and the covered range
    shaded; right, size against width/height ratio with the scales (vertical)
    and RPN_ANCHOR_RATIOS (horizontal) in red.

    advice: an AnchorAdvice (its sizes, ratios, scales, anchor_ratios).
    Returns: path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    figure = Figure(figsize=(12, 4.5))
    FigureCanvasAgg(figure)
    hist, scatter = figure.subplots(1, 2)
    sizes, ratios = advice.sizes, advice.ratios
    low, high = min(advice.scales) / SCALE_REACH, max(advice.scales) * SCALE_REACH
    left = min([low] + ([sizes.min()] if sizes.size else [])) / 1.5
    right = max([high] + ([sizes.max()] if sizes.size else [])) * 1.5
    for ax in (hist, scatter):
        ax.axvspan(low, high, color="0.92", zorder=0)
        for scale in advice.scales:
            ax.axvline(scale, color=ANCHOR_COLOR, lw=1.5, zorder=3)
        ax.set_xscale("log")
        ax.set_xlim(left, right)
        ax.set_xlabel("sqrt(box area) after the resize, px")
    if sizes.size:
        hist.hist(sizes, bins=np.geomspace(left, right, 40), color="tab:blue", zorder=2)
        scatter.scatter(sizes, ratios, s=6, alpha=0.5, color="tab:blue", zorder=2)
    hist.set_ylabel("instances")
    hist.set_title("instance sizes; red: RPN_ANCHOR_SCALES, grey: covered")
    for ratio in advice.anchor_ratios:
        scatter.axhline(ratio, color=ANCHOR_COLOR, lw=1, ls="--", zorder=3)
    scatter.set_yscale("log", base=2)
    scatter.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    scatter.yaxis.set_minor_formatter(NullFormatter())
    scatter.set_ylabel("box width / height")
    scatter.set_title("size and aspect ratio; red: anchor scales and ratios")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    return path


def _seed_augmentation(augmentation, seed):
    """Fix the random draws of an albumentations or imgaug augmentation."""
    if hasattr(augmentation, "set_random_seed"):  # albumentations >= 2
        augmentation.set_random_seed(seed)
    elif hasattr(augmentation, "seed_"):  # imgaug
        augmentation.seed_(seed)


def sample_ids(dataset, count):
    """Up to `count` image ids spread evenly over the dataset, then the rest
    in order (candidates for the grid)."""
    ids = list(dataset.image_ids)
    if not ids:
        return []
    spread = sorted(set(np.linspace(0, len(ids) - 1, min(count, len(ids))).round().astype(int)))
    first = [ids[i] for i in spread]
    chosen = set(first)
    return first + [i for i in ids if i not in chosen]


def training_view(dataset, image_id, config, augmentation=None, max_side=None):
    """An image and its instances as training gets them: resized as the
    config says (mrcnn.data.pipeline.load_image_gt's order), then augmented.

    max_side: draw the view at most this many pixels long, resizing the
        original once (IMAGE_RESIZE_MODE "square" and "none"; the others and
        augmentations that fail at that size are computed at full size
        first). None: the training size.
    Returns: (image uint8 [H, W, 3], masks bool [H, W, N], class_ids int32 [N]).
    """
    image = dataset.load_image(image_id)
    masks, class_ids = dataset.load_mask(image_id)
    masks = np.asarray(masks, dtype=bool)
    class_ids = np.asarray(class_ids, np.int32).reshape(-1)
    small = _reduced_view(image, masks, config, max_side) if max_side else None
    if small is not None:
        kept = small[1].any(axis=(0, 1))
        try:
            out = augment(small[0], small[1][..., kept], class_ids[kept], augmentation, stats=None)
            return out[:3]
        except (ValueError, TypeError):  # e.g. a fixed-size crop larger than the view
            pass
    image, _, scale, padding, crop = resize_image(
        image, min_dim=config.IMAGE_MIN_DIM, max_dim=config.IMAGE_MAX_DIM,
        min_scale=config.IMAGE_MIN_SCALE, mode=config.IMAGE_RESIZE_MODE)
    masks = resize_mask(masks, scale, padding, crop)
    kept = masks.any(axis=(0, 1))
    image, masks, class_ids, _ = augment(image, masks[..., kept], class_ids[kept], augmentation,
                                         stats=None)
    if max_side and max(image.shape[:2]) > max_side:
        factor = max_side / max(image.shape[:2])
        shape = (round(image.shape[0] * factor), round(image.shape[1] * factor))
        image = resize(image, shape, preserve_range=True).astype(np.uint8)
        masks = resize_mask(masks, factor, [(0, 0), (0, 0), (0, 0)])
    return image, masks, class_ids


def _reduced_view(image, masks, config, max_side):
    """The config's resize ("square" or "none") and a reduction to
    `max_side` in one resize of the original; None for other modes or when
    no reduction is needed."""
    mode = config.IMAGE_RESIZE_MODE
    if mode not in ("square", "none"):
        return None
    h, w = image.shape[:2]
    scale = resize_scales([(h, w)], config.IMAGE_MIN_DIM, config.IMAGE_MAX_DIM,
                          config.IMAGE_MIN_SCALE, mode)[0]
    canvas = (config.IMAGE_MAX_DIM, config.IMAGE_MAX_DIM) if mode == "square" else (h, w)
    factor = max_side / max(canvas)
    if factor >= 1:
        return None
    scale *= factor
    shape = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = resize(image, shape, preserve_range=True).astype(np.uint8)
    small_masks = resize_mask(masks, scale, [(0, 0), (0, 0), (0, 0)])[:shape[0], :shape[1]]
    height, width = round(canvas[0] * factor), round(canvas[1] * factor)
    top, left = max(0, (height - shape[0]) // 2), max(0, (width - shape[1]) // 2)
    padding = [(top, max(0, height - shape[0] - top)), (left, max(0, width - shape[1] - left)),
               (0, 0)]
    return np.pad(small, padding), np.pad(small_masks, padding)


def _tile(dataset, image, masks, class_ids):
    """The instances drawn on the image: masks, outlines, boxes, class names."""
    from mrcnn.drawing import draw_instances

    kept = masks.any(axis=(0, 1))
    masks, class_ids = masks[..., kept], class_ids[kept]
    return draw_instances(image, {"rois": extract_bboxes(masks), "class_ids": class_ids,
                                  "masks": masks}, dataset.class_names)


def sample_grid(dataset, config, augmentation=None, count=9, columns=3, seed=0, title=None):
    """A grid of annotated samples: images resized as the config says,
    augmented with `augmentation` (None: as they are), masks, boxes and
    class names drawn. Images with instances come first; unreadable ones are
    skipped. The augmentation's random draws are seeded (`seed`) so the
    same command draws the same grid.

    Returns: uint8 [H, W, 3] (white background, the image id above each tile,
    `title` in a band at the top), or None when no image can be read.
    """
    from PIL import Image, ImageDraw

    if augmentation is not None:
        _seed_augmentation(augmentation, seed)
    state = np.random.get_state()
    np.random.seed(seed)  # IMAGE_RESIZE_MODE "crop" draws its crop from np.random
    tiles, spare = [], []
    try:
        for image_id in sample_ids(dataset, count)[:4 * count]:
            try:
                image, masks, class_ids = training_view(dataset, image_id, config, augmentation,
                                                        max_side=TILE)
            except Exception:  # validate's report names what cannot be read
                continue
            name = str(dataset.image_info[image_id]["id"])
            tile = (_tile(dataset, image, masks, class_ids), name)
            (tiles if len(class_ids) else spare).append(tile)
            if len(tiles) >= count:
                break
    finally:
        np.random.set_state(state)
    tiles = (tiles + spare)[:count]
    if not tiles:
        return None
    band, gap = 14, 6
    cell_h = max(t.shape[0] for t, _ in tiles) + band
    cell_w = max(t.shape[1] for t, _ in tiles)
    rows = -(-len(tiles) // columns)
    top = band if title else 0
    width = min(columns, len(tiles)) * (cell_w + gap) - gap
    if title:  # wide enough for the title
        measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        width = max(width, int(np.ceil(measure.textlength(title))) + 4)
    canvas = np.full((top + rows * (cell_h + gap) - gap, width, 3), 255, np.uint8)
    for k, (tile, _) in enumerate(tiles):
        y, x = top + (k // columns) * (cell_h + gap) + band, (k % columns) * (cell_w + gap)
        canvas[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    if title:
        draw.text((2, 1), title, fill=(0, 0, 0))
    longest = max(1, cell_w // 6)  # characters of Pillow's default font that fit a tile
    for k, (_, name) in enumerate(tiles):
        name = name if len(name) <= longest else name[:longest - 3] + "..."
        draw.text(((k % columns) * (cell_w + gap) + 2, top + (k // columns) * (cell_h + gap) + 1),
                  name, fill=(0, 0, 0))
    return np.asarray(picture)


def save_sample_grid(path, dataset, config, augmentation=None, **options):
    """Save `sample_grid` as a PNG; returns path, or None when no image
    could be drawn."""
    from PIL import Image

    grid = sample_grid(dataset, config, augmentation, **options)
    if grid is None:
        return None
    Image.fromarray(grid).save(path)
    return path
