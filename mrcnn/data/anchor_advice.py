"""Do the RPN anchors fit the objects? Instance box sizes and aspect ratios,
measured as the network sees them (after the config's resize), compared
with RPN_ANCHOR_SCALES / RPN_ANCHOR_RATIOS, and settings suggested when
too many objects fall outside what the anchors cover.

Pure NumPy on box and image sizes (no image is read): `advise(boxes,
config)` with `boxes` as `DatasetStatistics.boxes()` gives them.

What "covered" means here: an anchor of scale s matches objects of size
(sqrt of the box area) between s / 2 and 2 s well enough for the RPN, so
the scales cover [smallest / 2, 2 * largest]; an anchor ratio r (width /
height, as mrcnn.anchors uses it) covers ratios between r / 2 and 2 r.
Advice is given when more than `OUTSIDE_FRACTION` of the instances fall
outside; the suggested values are powers of 2 spanning the
`PERCENTILES` of the data.
"""
import dataclasses
import math

import numpy as np

# More than this fraction of the instances outside the anchors' range: advise.
OUTSIDE_FRACTION = 0.05
# Percentiles of sizes and ratios the suggested anchors span.
PERCENTILES = (2, 98)
# An anchor matches objects from SCALE_REACH times smaller to SCALE_REACH
# times larger than its scale, and ratios RATIO_REACH times apart.
SCALE_REACH = 2.0
RATIO_REACH = 2.0
# Objects smaller than this (pixels, after resizing) are barely a few cells of
# the finest feature map (stride 4): a larger image is suggested first.
TINY_SIZE = 8
# Largest IMAGE_MAX_DIM / IMAGE_MIN_DIM suggested (GPU memory grows with its square).
MAX_SUGGESTED_DIM = 2048


def resize_scales(image_hw, min_dim, max_dim, min_scale=0, mode="square"):
    """The scale `mrcnn.data.resize.resize_image` applies to each image,
    computed from the sizes alone.

    image_hw: int [N, 2] image heights and widths (original).
    Returns: float64 [N]. "crop" and "pad64" scale as "square" does without
    its IMAGE_MAX_DIM limit; "none" keeps 1.
    """
    image_hw = np.asarray(image_hw, dtype=np.float64).reshape(-1, 2)
    scale = np.ones(len(image_hw))
    if mode == "none" or not len(image_hw):
        return scale
    if min_dim:
        scale = np.maximum(1.0, min_dim / image_hw.min(axis=1))
    if min_scale:
        scale = np.maximum(scale, float(min_scale))
    if max_dim and mode == "square":
        longest = image_hw.max(axis=1)
        too_big = np.round(longest * scale) > max_dim
        scale = np.where(too_big, max_dim / longest, scale)
    return scale


def instance_geometry(boxes, config, min_dim=None, max_dim=None):
    """Sizes and aspect ratios of instance boxes after the config's resize.

    boxes: int [N, 4]: box height, box width, image height, image width
        (original pixels), as `DatasetStatistics.boxes()` returns them.
    config: anything with IMAGE_MIN_DIM, IMAGE_MAX_DIM, IMAGE_MIN_SCALE and
        IMAGE_RESIZE_MODE; min_dim / max_dim replace the first two.
    Returns: (sizes float64 [N]: sqrt(box height * box width) after resizing,
    in pixels; ratios float64 [N]: box width / box height).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scale = resize_scales(boxes[:, 2:], config.IMAGE_MIN_DIM if min_dim is None else min_dim,
                          config.IMAGE_MAX_DIM if max_dim is None else max_dim,
                          getattr(config, "IMAGE_MIN_SCALE", 0), config.IMAGE_RESIZE_MODE)
    sizes = np.sqrt(boxes[:, 0] * boxes[:, 1]) * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = boxes[:, 1] / boxes[:, 0]
    return sizes, ratios


def _round_log2(value):
    return int(math.floor(math.log2(value) + 0.5))


def suggest_scales(sizes, current, smallest=1):
    """Anchor scales, as many as `current` and doubling from one to the
    next (one per pyramid level), that span the PERCENTILES of `sizes`:
    of the placements whose smallest scale is within a factor sqrt(2) of the
    low percentile or below it and whose largest is within sqrt(2) of the
    high percentile or above it, the nearest to `current` (the least
    change); centred on the data when it spans more octaves than the scales.
    Never below `smallest` (the finest stride: anchors sparser than their
    size miss objects).
    Returns: list of int."""
    count = len(current)
    low, high = np.percentile(sizes, PERCENTILES)
    top = _round_log2(max(low, 1e-6))
    bottom = _round_log2(max(high, 1e-6)) - (count - 1)
    if bottom > top:
        first = (top + bottom) // 2
    else:
        first = min(max(_round_log2(min(current)), bottom), top)
    first = max(first, math.ceil(math.log2(max(smallest, 1))))
    return [2 ** (first + i) for i in range(count)]


def suggest_ratios(ratios, count=3):
    """`count` anchor ratios (width / height), powers of 2, covering the
    PERCENTILES of `ratios` (each ratio covers an octave either side): when
    the data spans at most count + 1 octaves, consecutive powers centred on
    it; else spread evenly from one octave inside the low end to one inside
    the high end (at most 2 octaves apart when that covers the data).
    Returns: list of float."""
    low, high = np.percentile(ratios, PERCENTILES)
    a, b = _round_log2(low), _round_log2(high)
    if b - a <= count + 1:
        first = (a + b - (count - 1)) // 2
        exponents = [first + i for i in range(count)]
    else:
        inner_low, inner_high = a + 1, b - 1
        step = (inner_high - inner_low) / (count - 1)
        exponents = [inner_low + int(math.floor(i * step + 0.5)) for i in range(count)]
    return [float(2.0 ** e) for e in exponents]


def _yaml_list(values):
    return "[" + ",".join(f"{v:g}" for v in values) + "]"


@dataclasses.dataclass
class AnchorAdvice:
    """What `advise` found.

    sizes, ratios: float64 [N] instance sizes (px) and width/height ratios
        after the config's resize.
    findings: sentences on what the anchors miss.
    settings: {SETTING: suggested value}, empty when the anchors fit.
    """

    sizes: np.ndarray
    ratios: np.ndarray
    scales: list
    anchor_ratios: list
    resize: str
    findings: list = dataclasses.field(default_factory=list)
    settings: dict = dataclasses.field(default_factory=dict)

    @property
    def scale_range(self):
        """(low, high) sizes in pixels the anchor scales cover."""
        return min(self.scales) / SCALE_REACH, max(self.scales) * SCALE_REACH

    @property
    def ratio_range(self):
        return min(self.anchor_ratios) / RATIO_REACH, max(self.anchor_ratios) * RATIO_REACH

    def covered(self):
        """Fractions of the instances inside the scales' and the ratios' range."""
        if not self.sizes.size:
            return 1.0, 1.0
        low, high = self.scale_range
        r_low, r_high = self.ratio_range
        return (float(np.mean((self.sizes >= low) & (self.sizes <= high))),
                float(np.mean((self.ratios >= r_low) & (self.ratios <= r_high))))

    def set_lines(self):
        """The suggestions as `--set KEY=VALUE` arguments (YAML values)."""
        lines = []
        for key, value in self.settings.items():
            lines.append(f"--set {key}={_yaml_list(value) if isinstance(value, list) else value}")
        return lines

    def to_text(self):
        if not self.sizes.size:
            return f"Anchors: no instance to compare with (resize: {self.resize})."
        size_p = np.percentile(self.sizes, (PERCENTILES[0], 50, PERCENTILES[1]))
        ratio_p = np.percentile(self.ratios, (PERCENTILES[0], 50, PERCENTILES[1]))
        size_cover, ratio_cover = self.covered()
        low, high = self.scale_range
        r_low, r_high = self.ratio_range
        lines = [f"Anchors (instance boxes after the resize: {self.resize}):",
                 f"  size sqrt(box area): p{PERCENTILES[0]} {size_p[0]:.1f}, median "
                 f"{size_p[1]:.1f}, p{PERCENTILES[1]} {size_p[2]:.1f} px; "
                 f"RPN_ANCHOR_SCALES {_yaml_list(self.scales)} "
                 f"cover {low:g}-{high:g} px: {100 * size_cover:.0f}% of the instances",
                 f"  aspect ratio width/height: p{PERCENTILES[0]} {ratio_p[0]:.2f}, median "
                 f"{ratio_p[1]:.2f}, p{PERCENTILES[1]} {ratio_p[2]:.2f}; RPN_ANCHOR_RATIOS "
                 f"{_yaml_list(self.anchor_ratios)} cover {r_low:g}-{r_high:g}: "
                 f"{100 * ratio_cover:.0f}%"]
        lines += [f"  {finding}" for finding in self.findings]
        if self.settings:
            lines.append("  Suggested (add to the train command, or put in the config YAML):")
            lines.append("    " + " ".join(self.set_lines()))
        else:
            lines.append("  The anchors cover the instances; no change suggested.")
        return "\n".join(lines)

    def to_dict(self):
        """JSON-ready: percentiles, coverage, findings, suggested settings."""
        size_cover, ratio_cover = self.covered()
        out = {"resize": self.resize, "instances": int(self.sizes.size),
               "RPN_ANCHOR_SCALES": list(self.scales),
               "RPN_ANCHOR_RATIOS": list(self.anchor_ratios),
               "scales_cover": size_cover, "ratios_cover": ratio_cover,
               "findings": list(self.findings), "settings": dict(self.settings),
               "set": self.set_lines()}
        if self.sizes.size:
            for name, values in (("size", self.sizes), ("ratio", self.ratios)):
                for p in (PERCENTILES[0], 50, PERCENTILES[1]):
                    out[f"{name}_p{p}"] = float(np.percentile(values, p))
        return out


def _describe_resize(config, min_dim=None, max_dim=None):
    min_dim = config.IMAGE_MIN_DIM if min_dim is None else min_dim
    max_dim = config.IMAGE_MAX_DIM if max_dim is None else max_dim
    return (f"IMAGE_RESIZE_MODE={config.IMAGE_RESIZE_MODE}, IMAGE_MIN_DIM={min_dim}, "
            f"IMAGE_MAX_DIM={max_dim}")


def _larger_image(boxes, config, sizes):
    """(min_dim, max_dim, sizes) of the cheapest resize settings that bring
    all but OUTSIDE_FRACTION of the instances to TINY_SIZE pixels, or of the
    one that helps most; None when none helps. Tried: the dims times 1, 2, 4,
    8 (IMAGE_MAX_DIM at most MAX_SUGGESTED_DIM); in "square" mode also
    IMAGE_MIN_DIM = IMAGE_MAX_DIM, which upscales small images to fill the
    square at no memory cost. Other modes do not use IMAGE_MAX_DIM."""
    min_dim, max_dim = config.IMAGE_MIN_DIM or 0, config.IMAGE_MAX_DIM
    square = config.IMAGE_RESIZE_MODE == "square"
    best, median = None, float(np.median(sizes))
    for factor in (1, 2, 4, 8):
        new_max = max_dim * factor if square else max_dim
        for new_min in sorted({min_dim * factor, new_max if square else min_dim * factor}):
            unchanged = (new_min, new_max) == (min_dim, max_dim)
            if unchanged or max(new_min, new_max) > MAX_SUGGESTED_DIM:
                continue
            bigger, _ = instance_geometry(boxes, config, min_dim=new_min, max_dim=new_max)
            if np.median(bigger) <= median * 1.01:
                continue  # no growth: the resize does not depend on this dim here
            if np.mean(bigger < TINY_SIZE) <= OUTSIDE_FRACTION:
                return new_min, new_max, bigger
            if best is None or np.median(bigger) > np.median(best[2]):
                best = (new_min, new_max, bigger)
    return best


def advise(boxes, config):
    """Compare instance boxes with the config's anchors.

    boxes: int [N, 4] (box height, box width, image height, image width) in
        original pixels.
    config: a Config (IMAGE_* resize settings, RPN_ANCHOR_SCALES,
        RPN_ANCHOR_RATIOS, BACKBONE_STRIDES).
    Returns: AnchorAdvice; `settings` holds IMAGE_MIN_DIM / IMAGE_MAX_DIM when
    more than OUTSIDE_FRACTION of the instances are under TINY_SIZE pixels
    after resizing (and a larger image helps), RPN_ANCHOR_SCALES when more
    than that fraction is outside [smallest scale / 2, 2 * largest] (for the
    suggested image size), RPN_ANCHOR_RATIOS when more than that fraction
    has a width/height outside [smallest ratio / 2, 2 * largest].
    """
    sizes, ratios = instance_geometry(boxes, config)
    keep = np.isfinite(ratios) & (sizes > 0)
    sizes, ratios = sizes[keep], ratios[keep]
    boxes = np.asarray(boxes).reshape(-1, 4)[keep]
    scales = sorted(int(s) for s in config.RPN_ANCHOR_SCALES)
    anchor_ratios = sorted(float(r) for r in config.RPN_ANCHOR_RATIOS)
    advice = AnchorAdvice(sizes, ratios, scales, anchor_ratios, _describe_resize(config))
    if not sizes.size:
        return advice
    findings, settings = advice.findings, advice.settings

    tiny = float(np.mean(sizes < TINY_SIZE))
    target = sizes
    if tiny > OUTSIDE_FRACTION:
        larger = _larger_image(boxes, config, sizes)
        finding = (f"{100 * tiny:.0f}% of the instances are under {TINY_SIZE} px after the resize, "
                   f"a few cells of the finest feature map (stride {min(config.BACKBONE_STRIDES)})")
        if larger is None:
            findings.append(finding + "; larger images do not help with this resize (or would "
                            f"exceed {MAX_SUGGESTED_DIM} px): crop the images into tiles")
        else:
            min_dim, max_dim, target = larger
            findings.append(finding + f"; with IMAGE_MIN_DIM={min_dim} and "
                            f"IMAGE_MAX_DIM={max_dim}, "
                            f"{100 * np.mean(target < TINY_SIZE):.0f}% are (median "
                            f"{np.median(target):.1f} px)")
            if min_dim != (config.IMAGE_MIN_DIM or 0):
                settings["IMAGE_MIN_DIM"] = int(min_dim)
            if max_dim != config.IMAGE_MAX_DIM:
                settings["IMAGE_MAX_DIM"] = int(max_dim)

    low, high = min(scales) / SCALE_REACH, max(scales) * SCALE_REACH
    small, large = float(np.mean(target < low)), float(np.mean(target > high))
    if small > OUTSIDE_FRACTION:
        findings.append(f"{100 * small:.0f}% of the instances are smaller than {low:g} px, "
                        f"half the smallest anchor scale ({min(scales)})")
    if large > OUTSIDE_FRACTION:
        findings.append(f"{100 * large:.0f}% of the instances are larger than {high:g} px, twice "
                        f"the largest anchor scale ({max(scales)})")
    if small > OUTSIDE_FRACTION or large > OUTSIDE_FRACTION:
        suggested = suggest_scales(target, scales, smallest=min(config.BACKBONE_STRIDES))
        if suggested != scales:
            settings["RPN_ANCHOR_SCALES"] = suggested

    r_low, r_high = min(anchor_ratios) / RATIO_REACH, max(anchor_ratios) * RATIO_REACH
    outside = float(np.mean((ratios < r_low) | (ratios > r_high)))
    if outside > OUTSIDE_FRACTION:
        findings.append(f"{100 * outside:.0f}% of the instances have a width/height ratio outside "
                        f"{r_low:g}-{r_high:g}, what RPN_ANCHOR_RATIOS {_yaml_list(anchor_ratios)} "
                        "cover")
        suggested = suggest_ratios(ratios, len(anchor_ratios))
        if suggested != anchor_ratios:
            settings["RPN_ANCHOR_RATIOS"] = suggested
    return advice
