"""What the service makes of uploaded bytes (mrcnn.serving.decode), and the
JSON of a prediction (mrcnn.serving.response), without a network or a server."""
import io

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from mrcnn.outlines import coco_polygons
from mrcnn.serving.decode import RequestError, decode_image
from mrcnn.serving.response import instances_json, parse_classes, parse_flag, parse_score_threshold


def encoded(image, fmt="PNG", **options):
    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buffer, fmt, **options)
    return buffer.getvalue()


def refused(data, **options):
    with pytest.raises(RequestError) as info:
        decode_image(data, **options)
    return info.value


def test_exif_orientation_is_applied_as_in_training():
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10] = 255  # a white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show rotated 90 degrees clockwise
    decoded = decode_image(encoded(image, "JPEG", exif=exif, quality=95))
    assert decoded.shape == (40, 20, 3) and decoded.dtype == np.uint8
    assert decoded[:10].mean() > 200 and decoded[-10:].mean() < 50  # the band is now on top


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16", "P"])
def test_grey_alpha_16_bit_and_palette_images_become_rgb(mode):
    rng = np.random.default_rng(0)
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 60000, (12, 16)).astype(np.uint16))
    else:
        img = Image.fromarray(rng.integers(0, 255, (12, 16, 3)).astype(np.uint8)).convert(mode)
    decoded = decode_image(encoded(img))
    assert decoded.shape == (12, 16, 3) and decoded.dtype == np.uint8


def test_refusals_say_what_is_wrong():
    png = encoded(np.zeros((30, 30, 3), np.uint8))
    assert refused(b"").status == 400
    assert refused(b"plain text, no picture").status == 415
    truncated = refused(encoded(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))[:-300])
    assert truncated.status == 400 and "truncated" in truncated.message
    too_big = refused(png, max_pixels=899)
    assert too_big.status == 413 and "30 x 30 = 900 pixels" in too_big.message
    assert decode_image(png, max_pixels=900).shape == (30, 30, 3)


def test_pillow_bomb_limit_stays_on_behind_the_service_limit():
    """A file over twice Pillow's MAX_IMAGE_PIXELS is refused by Pillow
    itself even when the service's own limit is set higher."""
    side = int((2 * Image.MAX_IMAGE_PIXELS) ** 0.5) + 100
    bomb = encoded(Image.new("1", (side, side)))
    assert len(bomb) < 200_000
    error = refused(bomb, max_pixels=10 ** 12)
    assert error.status == 413 and "too many pixels" in error.message


def test_query_values():
    assert parse_score_threshold(None) is None and parse_score_threshold("0.25") == 0.25
    for bad in ("-0.1", "1.01", "nan", "x"):
        with pytest.raises(RequestError):
            parse_score_threshold(bad)
    assert parse_classes(" b , a", ["BG", "a", "b"]) == ["b", "a"]
    assert parse_classes("", ["BG", "a"]) is None
    assert parse_flag("polygons", None) is True and parse_flag("polygons", "No") is False


def test_instances_json_boxes_rle_and_polygons_in_image_coordinates():
    masks = np.zeros((2, 50, 60), np.uint8)
    masks[0, 10:20, 30:45] = 1           # a 10 x 15 rectangle
    masks[1, 30:40, 5:15] = 1
    masks[1, 34:36, 9:11] = 0            # with a hole
    prediction = {"boxes": np.array([[10, 30, 20, 45], [30, 5, 40, 15]], np.float32),
                  "class_ids": np.array([2, 1], np.int32), "class_names": ["b", "a"],
                  "scores": np.array([0.9, 0.4], np.float32), "masks": masks}
    first, second = instances_json(prediction)
    assert first["class_name"] == "b" and first["class_id"] == 2 and first["score"] == pytest.approx(0.9)
    assert first["box"] == {"y1": 10.0, "x1": 30.0, "y2": 20.0, "x2": 45.0, "xywh": [30.0, 10.0, 15.0, 10.0]}
    assert first["area"] == 150 and second["area"] == 96
    for instance, mask in zip((first, second), masks):
        rle = {"size": instance["mask"]["size"], "counts": instance["mask"]["counts"].encode()}
        assert instance["mask"]["size"] == [50, 60]
        np.testing.assert_array_equal(mask_utils.decode(rle), mask)
    # Traced on the mask's bounding box, shifted back: the same outlines as
    # the COCO exporter traces on the whole image.
    for instance, mask in zip((first, second), masks):
        assert instance["polygons"] == coco_polygons(mask.astype(bool))
    xs, ys = first["polygons"][0][0::2], first["polygons"][0][1::2]
    assert 29 <= min(xs) < max(xs) <= 45 and 9 <= min(ys) < max(ys) <= 20
    filled = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(second["polygons"], 50, 60)))
    assert filled[34:36, 9:11].all()  # the hole comes back filled: COCO polygons have none
    assert abs(int(filled.sum()) - 100) <= 4  # the corners are cut by up to a pixel
    assert "polygons" not in instances_json(prediction, polygons=False)[0]
    assert [d["class_name"] for d in instances_json(prediction, classes=["a"])] == ["a"]
