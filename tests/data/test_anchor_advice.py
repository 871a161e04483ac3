"""Anchor advice on constructed box sizes: instance sizes after the config's
resize (checked against resize_image), tiny objects (a larger image, then
smaller scales), objects the default anchors cover (no advice), large
objects, elongated objects (ratios)."""
import numpy as np
import pytest

from mrcnn.config import Config
from mrcnn.data.anchor_advice import advise, instance_geometry, resize_scales, suggest_ratios
from mrcnn.data.resize import resize_image


def _config(**settings):
    return Config().update(settings)


def _boxes(hw, image=(512, 512)):
    """[N, 4]: box height, box width, image height, image width."""
    return np.array([[h, w, image[0], image[1]] for h, w in hw])


def test_sizes_after_the_resize_by_hand():
    # A 200x100 image (height x width) under the defaults (square, 800, 1024):
    # 800 / 100 = 8 would make the long side 1600 > 1024, so the scale is
    # 1024 / 200 = 5.12; a 20x10 box becomes sqrt(200) * 5.12 px.
    sizes, ratios = instance_geometry(_boxes([(20, 10), (4, 16)], (200, 100)), Config())
    np.testing.assert_allclose(sizes, [np.sqrt(200) * 5.12, 8 * 5.12])
    np.testing.assert_allclose(ratios, [0.5, 4.0])
    # pad64 does not cap at IMAGE_MAX_DIM: 800 / 100 = 8.
    sizes, _ = instance_geometry(_boxes([(20, 10)], (200, 100)),
                                 _config(IMAGE_RESIZE_MODE="pad64", IMAGE_MIN_DIM=832))
    np.testing.assert_allclose(sizes, [np.sqrt(200) * 8.32])


@pytest.mark.parametrize("mode, min_dim, max_dim, min_scale", [
    ("square", 800, 1024, 0), ("square", 64, 64, 0), ("square", 0, 256, 2.0),
    ("pad64", 128, 1024, 0), ("crop", 96, 1024, 0), ("none", 800, 1024, 0)])
@pytest.mark.parametrize("shape", [(40, 90), (300, 120), (1500, 1100)])
def test_resize_scales_are_those_of_resize_image(mode, min_dim, max_dim, min_scale, shape):
    image = np.zeros(shape + (3,), np.uint8)
    np.random.seed(0)
    _, _, scale, _, _ = resize_image(image, min_dim=min_dim, max_dim=max_dim,
                                     min_scale=min_scale, mode=mode)
    assert resize_scales([shape], min_dim, max_dim, min_scale, mode)[0] == pytest.approx(scale)


def test_tiny_objects_get_a_larger_image_then_smaller_scales():
    # 512x512 images, IMAGE_MIN_DIM 256: not upscaled, boxes of 4, 5, 6 px.
    # IMAGE_MIN_DIM=IMAGE_MAX_DIM=1024 doubles them to 8, 10, 12 px: none under
    # 8. Scales then: p2 = 8 -> 2**3; p98 = 12 -> 2**4 at the top leaves 2**0
    # as lowest start; the nearest to the current 32 = 2**5 is 2**3.
    config = _config(IMAGE_MIN_DIM=256, IMAGE_MAX_DIM=512)
    advice = advise(_boxes([(4, 4), (5, 5), (6, 6)] * 20), config)
    assert advice.settings == {"IMAGE_MIN_DIM": 1024, "IMAGE_MAX_DIM": 1024,
                               "RPN_ANCHOR_SCALES": [8, 16, 32, 64, 128]}
    assert advice.set_lines() == ["--set IMAGE_MIN_DIM=1024", "--set IMAGE_MAX_DIM=1024",
                                  "--set RPN_ANCHOR_SCALES=[8,16,32,64,128]"]
    text = advice.to_text()
    assert "100% of the instances are under 8 px" in text
    assert "--set IMAGE_MIN_DIM=1024 --set IMAGE_MAX_DIM=1024" in text
    # The suggestion is what it claims: with those settings nothing is tiny
    # and the new anchors leave nothing to advise.
    after = advise(_boxes([(4, 4), (5, 5), (6, 6)] * 20), _config(
        IMAGE_MIN_DIM=1024, IMAGE_MAX_DIM=1024, RPN_ANCHOR_SCALES=[8, 16, 32, 64, 128]))
    assert after.settings == {}
    np.testing.assert_allclose(np.unique(after.sizes), [8, 10, 12])


def test_tiny_objects_without_resize_get_scales_down_to_the_stride():
    advice = advise(_boxes([(4, 4), (5, 5), (6, 6)] * 20), _config(IMAGE_RESIZE_MODE="none"))
    # p2 = 4 px -> 2**2 = 4, the finest stride (BACKBONE_STRIDES[0]); no image
    # size helps when nothing is resized.
    assert advice.settings == {"RPN_ANCHOR_SCALES": [4, 8, 16, 32, 64]}
    assert "crop the images into tiles" in advice.to_text()


def test_small_objects_get_smaller_scales_only():
    # 10 and 20 px on 1024 images (scale 1): not tiny, but under 16 = 32 / 2.
    advice = advise(_boxes([(10, 10), (20, 20)] * 20, (1024, 1024)), Config())
    assert advice.settings == {"RPN_ANCHOR_SCALES": [8, 16, 32, 64, 128]}
    assert "50% of the instances are smaller than 16 px" in advice.to_text()


def test_objects_within_the_default_anchors_get_no_advice():
    rng = np.random.default_rng(0)
    sizes = rng.uniform(20, 900, 200)
    ratios = rng.uniform(0.3, 3.5, 200)
    hw = [(s / np.sqrt(r), s * np.sqrt(r)) for s, r in zip(sizes, ratios)]
    advice = advise(_boxes(np.round(hw).astype(int), (1024, 1024)), Config())
    assert advice.settings == {} and advice.findings == []
    assert advice.covered() == (1.0, 1.0)
    assert "no change suggested" in advice.to_text()
    assert advice.to_dict()["set"] == []


def test_large_objects_get_larger_scales_nearest_the_current():
    # 300 and 600 px under scales 8..128 (cover up to 256): the lowest start
    # that still reaches p98 = 600 (2**9 at the top) is 2**5.
    config = _config(RPN_ANCHOR_SCALES=[8, 16, 32, 64, 128])
    advice = advise(_boxes([(300, 300), (600, 600)] * 20, (1024, 1024)), config)
    assert advice.settings == {"RPN_ANCHOR_SCALES": [32, 64, 128, 256, 512]}
    assert "larger than 256 px" in advice.to_text()


def test_elongated_objects_get_ratios():
    # Bars of width/height 1/8 and 8 and squares: p2 -> 2**-3, p98 -> 2**3,
    # 6 octaves: three ratios from one octave inside each end, 2 octaves
    # apart, each covering an octave either side: 1/8 to 8.
    advice = advise(_boxes([(10, 80), (80, 10), (40, 40)] * 20, (1024, 1024)), Config())
    assert advice.settings == {"RPN_ANCHOR_RATIOS": [0.25, 1.0, 4.0]}
    assert advice.set_lines() == ["--set RPN_ANCHOR_RATIOS=[0.25,1,4]"]
    assert advice.to_dict()["ratios_cover"] == pytest.approx(1 / 3)
    after = advise(_boxes([(10, 80), (80, 10), (40, 40)] * 20, (1024, 1024)),
                   _config(RPN_ANCHOR_RATIOS=[0.25, 1, 4]))
    assert after.settings == {} and after.covered() == (1.0, 1.0)
    # Only wide objects (ratios 5-10: p2 -> 2**2, p98 -> 2**3): three
    # consecutive octaves around exponent (2 + 3) / 2, rounded down.
    assert suggest_ratios(np.array([5.0, 6, 8, 10])) == [2.0, 4.0, 8.0]
    # 0.2 to 6.8 (2**-2 to 2**3, 5 octaves): 2**-1, 2**(-1 + 1.5 rounded), 2**2.
    assert suggest_ratios(np.array([0.2, 1, 1.5, 6.8])) == [0.5, 2.0, 4.0]


def test_settings_from_the_advice_are_accepted_by_the_config():
    advice = advise(_boxes([(4, 4), (5, 5), (6, 6), (4, 40)] * 10),
                    _config(IMAGE_MIN_DIM=256, IMAGE_MAX_DIM=512))
    assert set(advice.settings) == {"IMAGE_MIN_DIM", "IMAGE_MAX_DIM", "RPN_ANCHOR_SCALES",
                                    "RPN_ANCHOR_RATIOS"}
    from mrcnn.commands.project import parse_set_values

    config = Config().update(parse_set_values([line[len("--set "):] for line in advice.set_lines()]))
    config.NUM_CLASSES = 2
    config.validate()
    assert list(config.RPN_ANCHOR_SCALES) == advice.settings["RPN_ANCHOR_SCALES"]


def test_no_instances():
    advice = advise(np.zeros((0, 4), int), Config())
    assert advice.settings == {} and "no instance" in advice.to_text()
    assert advice.to_dict()["instances"] == 0
