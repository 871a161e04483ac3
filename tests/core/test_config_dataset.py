"""Config and Dataset: matterport's API and behaviour a user relies on."""
import numpy as np
import pytest
from PIL import Image

from mrcnn import utils
from mrcnn.config import Config, ConfigError


class MyConfig(Config):
    NAME = "mine"
    NUM_CLASSES = 3
    IMAGE_MIN_DIM = 128
    IMAGE_MAX_DIM = 256


def test_derived_values_follow_the_fields():
    config = MyConfig()
    assert config.BATCH_SIZE == 2 and list(config.IMAGE_SHAPE) == [256, 256, 3]
    assert config.IMAGE_META_SIZE == 12 + 3
    config.IMAGES_PER_GPU = 4
    config.GPU_COUNT = 2
    config.IMAGE_MAX_DIM = 320
    config.NUM_CLASSES = 5
    assert config.BATCH_SIZE == 8 and list(config.IMAGE_SHAPE) == [320, 320, 3]
    assert config.IMAGE_META_SIZE == 17
    config.IMAGE_RESIZE_MODE = "crop"
    assert list(config.IMAGE_SHAPE) == [128, 128, 3]


@pytest.mark.parametrize("field,value,words", [
    ("IMAGE_MAX_DIM", 500, ["IMAGE_MAX_DIM", "divisible by 64", "512"]),
    ("NUM_CLASSES", 1, ["NUM_CLASSES", "background"]),
    ("BACKBONE", "resnet18", ["BACKBONE", "resnet50"]),
    ("IMAGE_RESIZE_MODE", "stretch", ["IMAGE_RESIZE_MODE", "square"]),
    ("MASK_SHAPE", [56, 56], ["MASK_SHAPE", "28"]),
    ("RPN_ANCHOR_SCALES", (32, 64), ["RPN_ANCHOR_SCALES", "BACKBONE_STRIDES"]),
    ("MASK_HEAD_CONV_CHANNELS", 0, ["MASK_HEAD_CONV_CHANNELS", "positive integer"]),
    ("RPN_CONV_CHANNELS", 256.5, ["RPN_CONV_CHANNELS", "positive integer"]),
    ("FPN_CLASSIF_FC_LAYERS_SIZE", "1024", ["FPN_CLASSIF_FC_LAYERS_SIZE", "positive integer"]),
])
def test_validate_names_the_field_and_the_fix(field, value, words):
    config = MyConfig()
    setattr(config, field, value)
    with pytest.raises(ConfigError) as error:
        config.validate()
    for word in words:
        assert word in str(error.value)


def test_yaml_round_trip_and_unknown_fields(tmp_path):
    config = MyConfig()
    config.LEARNING_RATE = 0.02
    config.RPN_ANCHOR_SCALES = (16, 32, 64, 128, 256)
    path = tmp_path / "c.yaml"
    config.to_yaml(str(path))
    loaded = MyConfig.from_yaml(str(path))
    assert loaded.LEARNING_RATE == 0.02 and tuple(loaded.RPN_ANCHOR_SCALES) == (16, 32, 64, 128, 256)
    assert isinstance(loaded.MEAN_PIXEL, np.ndarray)
    assert loaded.to_dict() == config.to_dict()
    with pytest.raises(ConfigError, match="LEARNING_RAT"):
        MyConfig().update({"LEARNING_RAT": 0.1})
    with pytest.raises(ConfigError, match="BATCH_SIZE"):
        MyConfig().update({"BATCH_SIZE": 4})


def test_display_lists_settings(capsys):
    MyConfig().display()
    out = capsys.readouterr().out
    assert "NUM_CLASSES" in out and "IMAGE_SHAPE" in out and "[256, 256, 3]" in out


class TwoSources(utils.Dataset):
    pass


def test_dataset_ids_and_class_maps():
    dataset = TwoSources()
    dataset.add_class("coco", 12, "person")
    dataset.add_class("coco", 12, "person")  # duplicates are ignored
    dataset.add_class("via", 1, "balloon")
    dataset.add_image("coco", "a", "/x/a.jpg", height=4, width=4)
    dataset.add_image("via", "b", "/x/b.jpg", height=4, width=4)
    dataset.prepare()
    assert dataset.num_classes == 3 and dataset.class_names == ["BG", "person", "balloon"]
    assert list(dataset.image_ids) == [0, 1]
    assert dataset.map_source_class_id("coco.12") == 1
    assert dataset.get_source_class_id(2, "via") == 1
    assert dataset.source_class_ids == {"": [0], "coco": [0, 1], "via": [0, 2]}
    # No load_mask override: a valid negative image of its recorded size.
    masks, class_ids = dataset.load_mask(0)
    assert masks.shape == (4, 4, 0) and masks.dtype == bool and class_ids.dtype == np.int32


def test_load_image_converts_grey_and_drops_alpha(tmp_path):
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 7
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    dataset = utils.Dataset()
    dataset.add_image("files", 0, str(tmp_path / "grey.png"))
    dataset.add_image("files", 1, str(tmp_path / "rgba.png"))
    dataset.prepare()
    image = dataset.load_image(0)
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8
    assert np.array_equal(image[..., 1], grey)
    image = dataset.load_image(1)
    assert image.shape == (4, 5, 3) and np.all(image[..., 0] == 200) and np.all(image[..., 2] == 0)


@pytest.mark.parametrize("mode", ["square", "pad64", "crop", "none"])
def test_resize_image_and_mask_stay_aligned(mode):
    image = np.zeros((100, 60, 3), np.uint8)
    mask = np.zeros((100, 60, 1), bool)
    image[20:50, 10:30] = 255
    mask[20:50, 10:30, 0] = True
    np.random.seed(0)
    resized, window, scale, padding, crop = utils.resize_image(
        image, min_dim=64, max_dim=128, mode=mode)
    resized_mask = utils.resize_mask(mask, scale, padding, crop)
    assert resized_mask.shape[:2] == resized.shape[:2]
    if mode == "square":
        # The short side is scaled up to min_dim; the long side stays <= max_dim.
        assert resized.shape == (128, 128, 3) and scale == pytest.approx(64 / 60)
        y1, x1, y2, x2 = window
        assert (y2 - y1, x2 - x1) == (107, 64)
    if mode == "pad64":
        assert resized.shape[0] % 64 == 0 and resized.shape[1] % 64 == 0
    # Pixels under the mask are the object's, the rest are not.
    assert np.all(resized[resized_mask[..., 0]] > 127)
    assert np.mean(resized[~resized_mask[..., 0]] > 127) < 0.02


def test_mini_masks_round_trip():
    mask = np.zeros((64, 64, 2), bool)
    mask[10:40, 5:25, 0] = True
    mask[30:60, 30:60, 1] = True
    boxes = utils.extract_bboxes(mask)
    mini = utils.minimize_mask(boxes, mask, (28, 28))
    assert mini.shape == (28, 28, 2) and mini.all()
    np.testing.assert_array_equal(utils.expand_mask(boxes, mini, (64, 64)), mask)
