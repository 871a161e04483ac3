"""Repeat-factor sampling against class imbalance (LVIS, Gupta et al. 2019;
detectron2's RepeatFactorTrainingSampler).

For each class c, f_c is the fraction of the training images that contain c,
and r_c = max(1, sqrt(t / f_c)) for a threshold t (Config.
REPEAT_FACTOR_THRESHOLD, e.g. 0.001). An image is repeated r_i = max of r_c
over its classes times per pass over the data (images without instances:
once); the fraction of r_i is rounded up or down at random in each pass, so
that an image with r_i = 2.3 is seen 2.3 times per pass on average.
"""
import logging
import math

import numpy as np

# Not under "mrcnn.data": `train` shows mrcnn's INFO lines but keeps the
# readers' (mrcnn.data) quiet, and these lines say what a run trains on.
logger = logging.getLogger("mrcnn.sampling")


def image_class_table(dataset):
    """The internal class ids of each image, without drawing masks when the
    reader kept its instance records (image_info "instances", see
    mrcnn.data.builder); otherwise from load_mask, once.

    Returns: list (one per dataset.image_ids, in that order) of sorted int
    arrays of the distinct class ids (crowd and background left out).
    """
    table, drawn = [], 0
    image_ids = list(dataset.image_ids)
    for n, image_id in enumerate(image_ids):
        info = dataset.image_info[image_id]
        records = info.get("instances")
        if isinstance(records, list):
            ids = [dataset.map_source_class_id(f"{info['source']}.{r['class_id']}") for r in records]
        else:
            if drawn == 0:
                logger.info("repeat-factor sampling: reading the classes of %d images with "
                            "load_mask (the dataset keeps no instance records)", len(image_ids))
            drawn += 1
            ids = dataset.load_mask(image_id)[1]
            if drawn % 1000 == 0:
                logger.info("repeat-factor sampling: %d of %d images read", n + 1, len(image_ids))
        ids = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        table.append(ids[ids > 0])
    return table


def class_repeat_factors(table, threshold, num_classes=None):
    """r_c = max(1, sqrt(threshold / f_c)) per class id.

    table: per image, the class ids it contains (image_class_table).
    Returns: float64 [num_classes] (index = class id; 1.0 for BG and classes
    no image contains).
    """
    if not threshold or threshold <= 0:
        raise ValueError(f"the repeat-factor threshold must be > 0, got {threshold!r}")
    top = max([int(ids.max()) for ids in table if len(ids)], default=0)
    num_classes = max(int(num_classes or 0), top + 1)
    images_with = np.zeros(num_classes, dtype=np.int64)
    for ids in table:
        images_with[np.asarray(ids, dtype=np.int64)] += 1
    factors = np.ones(num_classes, dtype=np.float64)
    present = images_with > 0
    fraction = images_with[present] / max(len(table), 1)
    factors[present] = np.maximum(1.0, np.sqrt(threshold / fraction))
    factors[0] = 1.0
    return factors


def image_repeat_factors(table, threshold, num_classes=None):
    """r_i = max over the image's classes of r_c (1 for an image without
    instances). Returns float64 [len(table)]."""
    per_class = class_repeat_factors(table, threshold, num_classes)
    return np.array([per_class[np.asarray(ids, dtype=np.int64)].max() if len(ids) else 1.0
                     for ids in table], dtype=np.float64)


def repeat_counts(factors, rng):
    """One pass's whole repeat count per image: floor(r_i), plus one with
    probability r_i - floor(r_i). factors: float [N]; returns int64 [N]."""
    whole = np.floor(factors)
    return (whole + (rng.random(len(factors)) < factors - whole)).astype(np.int64)


def describe(factors, threshold):
    """One line: how many images repeat and by how much."""
    repeated = factors > 1
    if not repeated.any():
        return (f"repeat-factor sampling (t={threshold:g}): no class is rarer than t; "
                "every image is seen once per pass")
    return (f"repeat-factor sampling (t={threshold:g}): {int(repeated.sum())} of {len(factors)} "
            f"images repeated (factor up to {factors.max():.2f}); a pass over the data holds "
            f"{factors.sum():.0f} images on average instead of {len(factors)}")


def expected_share(factors, selected):
    """The expected share of sampled images that are `selected` (bool [N]):
    sum of r_i over selected / sum of r_i (math.fsum for exactness)."""
    factors = np.asarray(factors, dtype=np.float64)
    return math.fsum(factors[np.asarray(selected, dtype=bool)]) / math.fsum(factors)
