"""The light/default/heavy presets and AUGMENTATION lists of albumentations
transforms by name: masks follow the image, a YAML list builds the Compose it
says, bad entries give one line, and the list survives a checkpoint."""
import numpy as np
import pytest
import yaml
from test_augmentation import COLORS, assert_aligned, scene

from mrcnn.cli import build_parser
from mrcnn.config import Config, ConfigError
from mrcnn.data.augmentation import (
    PRESET_LISTS,
    PRESETS,
    augment,
    augmentation_from_config,
    compose_from_list,
)
from mrcnn.training.resume import config_differences

A = pytest.importorskip("albumentations")

BRIEF_LIST = """
AUGMENTATION:
  - HorizontalFlip: {p: 0.5}
  - RandomBrightnessContrast: {brightness_limit: 0.2, p: 0.5}
  - Affine: {rotate: [-15, 15], p: 0.3}
"""


def classify(image):
    """Per pixel: the channel of the COLORS entry it was painted with (its
    dominant channel), -1 for the grey background (which brightness and
    contrast may lighten, but not colour)."""
    image = image.astype(int)
    saturated = image.max(-1) - image.min(-1) >= 60
    return np.where(saturated, image.argmax(-1), -1)


def assert_masks_follow(image, masks, class_ids):
    """Each mask covers the pixels of its instance's colour, whatever colour
    changes, interpolation, blur and noise did to the image: IoU >= 0.7 and
    centroids within 1.5 pixels (a mask left behind by a flip or a shift
    would share almost nothing with its pixels)."""
    painted = classify(image)
    assert masks.shape[:2] == image.shape[:2] == (60, 80)
    for i in range(masks.shape[-1]):
        coloured = painted == int(np.argmax(COLORS[i]))
        mask = masks[..., i]
        iou = (coloured & mask).sum() / (coloured | mask).sum()
        assert iou >= 0.7, f"instance {i}: IoU {iou:.2f} of mask and pixels"
        shift = np.subtract(np.argwhere(coloured).mean(0), np.argwhere(mask).mean(0))
        assert np.abs(shift).max() <= 1.5, f"instance {i}: mask {shift} pixels off"


@pytest.mark.parametrize("name", ["light", "default", "heavy"])
def test_each_preset_moves_masks_with_the_image(name):
    compose = PRESETS[name]()
    assert isinstance(compose, A.Compose)
    compose.set_random_seed(7)
    image, masks, class_ids = scene()
    moved = 0
    for _ in range(12):
        out_image, out_masks, out_ids, dropped = augment(image, masks, class_ids, compose, stats=None)
        # The three instances of scene() have distinct colours and stay inside.
        assert dropped == 0 and out_ids.tolist() == [1, 2, 1]
        assert_masks_follow(out_image, out_masks, out_ids)
        moved += int(not np.array_equal(out_masks, masks))
    # Over 12 draws each preset flipped or moved something (p 0.5 flips).
    assert moved >= 3


def test_light_only_flips_and_heavy_adds_geometry_and_colour():
    names = {name: [type(t).__name__ for t in PRESETS[name]().transforms] for name in PRESETS}
    assert names["light"] == ["HorizontalFlip", "RandomBrightnessContrast"]
    assert names["default"] == ["HorizontalFlip", "Affine", "RandomBrightnessContrast"]
    assert names["heavy"] == ["HorizontalFlip", "Affine", "CropAndPad", "RandomBrightnessContrast",
                              "HueSaturationValue", "OneOf"]
    heavy = PRESETS["heavy"]().transforms
    assert heavy[1].rotate == (-15.0, 15.0)
    assert [type(t).__name__ for t in heavy[5].transforms] == ["GaussianBlur", "GaussNoise"]
    # Flip only, colour aside: light keeps masks exactly aligned with the colours.
    image, masks, class_ids = scene()
    light = PRESETS["light"]()
    light.set_random_seed(0)
    for _ in range(6):
        out_image, out_masks, out_ids, _ = augment(image, masks, class_ids, light, stats=None)
        colours = np.array([out_image[out_masks[..., i]][0] for i in range(3)])
        assert_aligned(out_image, out_masks, out_ids, colours)


def test_the_cli_offers_every_preset():
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    augment_flag = next(a for a in train._actions if a.dest == "augment")
    assert augment_flag.choices == [*PRESETS, "none"] and augment_flag.const == "default"
    assert set(PRESET_LISTS) == set(PRESETS)
    args = parser.parse_args(["train", "--dataset", "x", "--augment", "heavy"])
    assert args.augment == "heavy"


def test_a_yaml_list_builds_the_compose_it_names(tmp_path):
    path = tmp_path / "aug.yaml"
    path.write_text(BRIEF_LIST)
    config = Config()
    config.update(yaml.safe_load(path.read_text()))
    assert config.AUGMENTATION == [{"HorizontalFlip": {"p": 0.5}},
                                   {"RandomBrightnessContrast": {"brightness_limit": 0.2, "p": 0.5}},
                                   {"Affine": {"rotate": [-15, 15], "p": 0.3}}]
    compose = augmentation_from_config(config)
    flip, brightness, affine = compose.transforms
    assert [type(t) for t in compose.transforms] == [A.HorizontalFlip, A.RandomBrightnessContrast,
                                                     A.Affine]
    assert flip.p == 0.5
    assert brightness.brightness_limit == (-0.2, 0.2) and brightness.p == 0.5
    # Arguments not given keep albumentations' defaults.
    assert brightness.contrast_limit == A.RandomBrightnessContrast().contrast_limit
    assert affine.rotate == (-15.0, 15.0) and affine.p == 0.3
    # A bare name stands for the defaults; compositions take nested lists.
    nested = compose_from_list(["VerticalFlip", {"OneOf": {"transforms": [
        {"GaussianBlur": {"blur_limit": [3, 5]}}, "GaussNoise"], "p": 0.25}}])
    assert type(nested.transforms[0]) is A.VerticalFlip
    one_of = nested.transforms[1]
    assert type(one_of) is A.OneOf and one_of.p == 0.25
    assert [type(t) for t in one_of.transforms] == [A.GaussianBlur, A.GaussNoise]
    assert one_of.transforms[0].blur_limit == (3, 5)


@pytest.mark.parametrize("entry,expected", [
    ({"HorizontalFlp": {"p": 0.5}},
     "AUGMENTATION[1]: 'HorizontalFlp' is not an albumentations transform; "
     "did you mean HorizontalFlip"),
    ({"Affine": {"rotation": [-15, 15]}},
     "AUGMENTATION[1] Affine: unknown argument(s) 'rotation' (did you mean rotate?); "
     "Affine takes scale, translate_percent"),
    ({"Affine": {"rotate": "a lot"}},
     "AUGMENTATION[1] Affine(rotate='a lot'): rotate"),
    ({"HorizontalFlip": {"p": 3}},
     "AUGMENTATION[1] HorizontalFlip(p=3): p: Input should be less than or equal to 1"),
    ({"HorizontalFlip": 0.5},
     "AUGMENTATION[1] HorizontalFlip: the arguments are 0.5, not a mapping"),
    (7, "AUGMENTATION[1]: 7 is not a transform entry; write each entry as "
        "{TransformName: {argument: value}}"),
    ({"OneOf": {"p": 0.5}}, "AUGMENTATION[1] OneOf: give its transforms as a list"),
    ({"OneOf": {"transforms": [{"Blurr": {}}]}},
     "AUGMENTATION[1] OneOf.transforms[0]: 'Blurr' is not an albumentations transform; "
     "did you mean Blur"),
])
def test_bad_entries_are_one_line_naming_entry_transform_and_what_is_accepted(entry, expected):
    spec = [{"VerticalFlip": {"p": 0.5}}, entry]
    with pytest.raises(ConfigError) as error:
        Config().update({"AUGMENTATION": spec})
    message = str(error.value)
    assert message.startswith(expected), message
    assert "\n" not in message and "errors.pydantic.dev" not in message
    # The same when a sample's class sets the list and training builds it.
    with pytest.raises(ConfigError) as built:
        compose_from_list(spec)
    assert str(built.value) == message


def test_an_unknown_name_without_a_close_match_lists_the_names():
    with pytest.raises(ConfigError) as error:
        compose_from_list([{"Zzzzzzz": {}}])
    message = str(error.value)
    assert "the names are albumentations' transforms: " in message
    names = message.split(": ")[-1].split(", ")
    assert {"Affine", "HorizontalFlip", "OneOf", "GaussNoise"} <= set(names)
    # No base class or 3D transform among them.
    assert not {"BasicTransform", "DualTransform", "BaseCompose", "Pad3D"} & set(names)


def test_from_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("NUM_CLASSES: 2\nAUGMENTATION:\n  - Affine: {rotation: 5}\n")
    with pytest.raises(ConfigError, match=r"^.*bad\.yaml: AUGMENTATION\[0\] Affine: unknown "
                                          r"argument\(s\) 'rotation'"):
        Config.from_yaml(str(path))


def test_the_list_round_trips_through_yaml_and_compares_equal():
    config = Config()
    config.NUM_CLASSES = 2
    config.update(yaml.safe_load(BRIEF_LIST))
    text = config.to_yaml()
    again = Config.from_yaml(text)
    assert again.AUGMENTATION == config.AUGMENTATION
    assert config_differences(text, again) == []
    # A Python class attribute with tuples is saved as the YAML lists.
    config.AUGMENTATION = [{"Affine": {"rotate": (-15, 15), "p": 0.3}}]
    assert yaml.safe_load(config.to_yaml())["AUGMENTATION"] == [
        {"Affine": {"rotate": [-15, 15], "p": 0.3}}]
    assert config_differences(config.to_yaml(), config) == []
