"""`mrcnn serve` over real HTTP: a child process on a free port of
127.0.0.1, asked with `requests` as a client would, its answers checked
against the same predictor called in this process."""
import io
import threading

import numpy as np
import pytest
import requests
from PIL import Image
from pycocotools import mask as mask_utils
from serve_fixtures import (CLASS_NAMES, ServeConfig, encode, painted_image, shared_checkpoint,
                            start_service)

from mrcnn.cli import main
from mrcnn.serving.predictor import load_predictor

MAX_PIXELS = 1_000_000
TIMEOUT = 120


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return shared_checkpoint(tmp_path_factory)


@pytest.fixture(scope="module")
def service(checkpoint):
    """The service of the tiny checkpoint, with a 1 MB upload limit and a
    1-megapixel image limit. The last test of this module stops it."""
    server = start_service("--weights", checkpoint, "--max-upload-mb", 1, "--max-pixels", MAX_PIXELS)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def predictor(checkpoint):
    """The same checkpoint, called directly."""
    return load_predictor(weights=checkpoint, config=ServeConfig())


@pytest.fixture(scope="module")
def images():
    image = painted_image()
    png = encode(image, "PNG")
    jpeg = encode(image, "JPEG", quality=90)
    return {"array": image, "png": png, "jpeg": jpeg,
            "jpeg_array": np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))}


def post(service, data, content_type="image/png", params=None, field=None):
    url = service.url + "v1/predict"
    if field:
        return requests.post(url, files={field: ("upload.bin", data, content_type)}, params=params,
                             timeout=TIMEOUT)
    headers = {"Content-Type": content_type} if content_type else {}
    return requests.post(url, data=data, headers=headers, params=params, timeout=TIMEOUT)


def decoded_masks(instances):
    return [mask_utils.decode({"size": d["mask"]["size"], "counts": d["mask"]["counts"].encode()})
            for d in instances]


def assert_matches(instances, expected):
    """The JSON instances are the predictor's output, in its order."""
    assert len(instances) == len(expected["scores"]) > 0
    assert [d["class_id"] for d in instances] == expected["class_ids"].tolist()
    assert [d["class_name"] for d in instances] == expected["class_names"]
    np.testing.assert_allclose([d["score"] for d in instances], expected["scores"], atol=1e-4)
    boxes = np.array([[d["box"][k] for k in ("y1", "x1", "y2", "x2")] for d in instances])
    np.testing.assert_allclose(boxes, expected["boxes"], atol=0.5)
    for d, mask in zip(instances, decoded_masks(instances)):
        assert d["area"] == int(mask.sum())
    masks = np.stack(decoded_masks(instances))
    assert masks.shape == expected["masks"].shape
    assert np.mean(masks != expected["masks"]) < 0.005


def test_healthz_names_the_model_and_its_limits(service, checkpoint):
    health = requests.get(service.url + "healthz", timeout=TIMEOUT).json()
    assert health["status"] == "ok" and health["model_loaded"] is True
    assert health["class_names"] == CLASS_NAMES
    assert health["model"]["kind"] == "checkpoint" and health["model"]["path"] == checkpoint
    assert health["limits"] == {"max_upload_bytes": 2 ** 20, "max_pixels": MAX_PIXELS}


def test_png_upload_answers_what_the_predictor_finds(service, predictor, images):
    reply = post(service, images["png"], "image/png", field="image")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    expected = predictor.predict(images["array"])
    assert body["image"] == {"width": 96, "height": 72}
    assert body["count"] == len(body["instances"])
    assert_matches(body["instances"], expected)
    first = body["instances"][0]
    x1, y1, x2, y2 = (first["box"][k] for k in ("x1", "y1", "x2", "y2"))
    assert first["box"]["xywh"] == [x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)]
    # Each polygon is COCO's flat [x, y, ...] inside the image, and filled
    # they give back most of the mask (holes and 1-px slivers aside).
    mask = decoded_masks([first])[0]
    assert first["polygons"] and all(len(p) >= 6 and len(p) % 2 == 0 for p in first["polygons"])
    rles = mask_utils.frPyObjects(first["polygons"], 72, 96)
    filled = mask_utils.decode(mask_utils.merge(rles))
    assert (filled & mask).sum() >= 0.8 * mask.sum()
    timing = body["timing"]
    assert set(timing) == {"decode_ms", "queue_ms", "inference_ms", "encode_ms", "total_ms"}
    assert min(timing.values()) >= 0 and timing["total_ms"] >= timing["inference_ms"]
    assert body["model"]["class_names"] == CLASS_NAMES


def test_jpeg_raw_body_and_file_field_give_the_same_answer(service, predictor, images):
    raw = post(service, images["jpeg"], "image/jpeg")
    octets = post(service, images["jpeg"], "application/octet-stream")
    form = post(service, images["jpeg"], "image/jpeg", field="file")
    assert raw.status_code == octets.status_code == form.status_code == 200, raw.text
    assert raw.json()["instances"] == octets.json()["instances"] == form.json()["instances"]
    assert_matches(raw.json()["instances"], predictor.predict(images["jpeg_array"]))


def test_score_threshold_and_classes_filter(service, images):
    everything = post(service, images["png"]).json()["instances"]
    scores = sorted(d["score"] for d in everything)
    cut = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
    kept = post(service, images["png"], params={"score_threshold": cut}).json()
    assert kept["score_threshold"] == pytest.approx(cut)
    assert kept["instances"] == [d for d in everything if d["score"] >= cut]
    assert 0 < kept["count"] < len(everything)

    by_class = {name: [d for d in everything if d["class_name"] == name] for name in CLASS_NAMES}
    for name in CLASS_NAMES:
        only = post(service, images["png"], params={"classes": name}).json()
        assert only["classes"] == [name] and only["instances"] == by_class[name]
    both = post(service, images["png"], params={"classes": "bar, disc", "score_threshold": cut}).json()
    assert both["instances"] == kept["instances"]
    bare = post(service, images["png"], params={"polygons": "false"}).json()["instances"]
    assert bare == [{k: v for k, v in d.items() if k != "polygons"} for d in everything]


@pytest.mark.parametrize("params, words", [
    ({"score_threshold": "1.5"}, "between 0 and 1"),
    ({"score_threshold": "high"}, "between 0 and 1"),
    ({"classes": "disc,cat"}, "no class cat; its classes are disc, bar"),
    ({"polygons": "maybe"}, "polygons='maybe': give true or false"),
])
def test_bad_query_options_are_refused(service, images, params, words):
    reply = post(service, images["png"], params=params)
    assert reply.status_code == 400 and words in reply.json()["error"]


def truncated_png(images):
    return images["png"][: len(images["png"]) // 2]


def bomb_png():
    """A 4000 x 4000 PNG of a few kB: 16 megapixels once decoded."""
    return encode(np.zeros((4000, 4000), bool), "PNG")


BAD_REQUESTS = {
    # name: (body, content type, multipart field, status, words of the message)
    "not an image": (lambda i: b"this is a text file, not a picture\n" * 20, "image/png", None, 415, "not an image"),
    "truncated": (truncated_png, "image/png", None, 400, "truncated or corrupt"),
    "empty body": (lambda i: b"", "image/png", None, 400, "empty"),
    "empty file": (lambda i: b"", "image/png", "image", 400, "empty"),
    "too large": (lambda i: bytes(1_500_000), "application/octet-stream", None, 413,
                  "limit of 1 MB (--max-upload-mb)"),
    "too large upload": (lambda i: bytes(1_500_000), "image/png", "image", 413, "--max-upload-mb"),
    "decompression bomb": (lambda i: bomb_png(), "image/png", None, 413,
                           "4000 x 4000 = 16,000,000 pixels, more than this service's limit of "
                           "1,000,000 (--max-pixels)"),
    "wrong content type": (lambda i: i["png"], "text/plain", None, 415, "Content-Type text/plain"),
    "no content type": (lambda i: i["png"], None, None, 415, "Content-Type none"),
    "wrong field": (lambda i: i["png"], "image/png", "picture", 400, "no file field named 'image'"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_a_readable_4xx_and_the_service_goes_on(service, images, case):
    make, content_type, field, status, words = BAD_REQUESTS[case]
    reply = post(service, make(images), content_type, field=field)
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["status"] == status and words in body["error"]
    assert service.process.poll() is None
    assert post(service, images["png"]).status_code == 200


def test_unknown_paths_and_methods_answer_json(service):
    missing = requests.get(service.url + "v2/predict", timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["status"] == 404
    wrong = requests.get(service.url + "v1/predict", timeout=TIMEOUT)
    assert wrong.status_code == 405 and "GET is not allowed on /v1/predict" in wrong.json()["error"]


def test_concurrent_requests_are_all_answered_correctly(service, images):
    reference = {kind: post(service, images[kind], f"image/{kind}").json()["instances"]
                 for kind in ("png", "jpeg")}
    served = requests.get(service.url + "healthz", timeout=TIMEOUT).json()["requests_served"]
    replies = [None] * 6

    def ask(i):
        kind = ("png", "jpeg")[i % 2]
        replies[i] = (kind, post(service, images[kind], f"image/{kind}", field="image"))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    for kind, reply in replies:
        assert reply.status_code == 200
        assert reply.json()["instances"] == reference[kind]
    health = requests.get(service.url + "healthz", timeout=TIMEOUT).json()
    assert health["requests_served"] == served + 6


def test_page_is_self_contained(service):
    page = requests.get(service.url, timeout=TIMEOUT)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.text
    for element in ('id="file-input"', 'id="threshold"', 'id="detections"', 'id="shown-count"',
                    'id="legend"', 'id="download-json"', "<canvas"):
        assert element in html
    assert "http://" not in html and "https://" not in html and "<script src" not in html


def test_usage_errors_name_the_flag(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--model", str(tmp_path), "--weights", "x.h5"])
    assert exit_info.value.code == 2
    assert "--model and --weights: give one" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--model", str(tmp_path / "missing")])
    assert "no such folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--max-upload-mb", "0"])
    assert "--max-upload-mb" in capsys.readouterr().err


def test_sigterm_stops_the_service_cleanly(service):
    """Last in this module: it stops the module's service."""
    assert requests.get(service.url + "healthz", timeout=TIMEOUT).status_code == 200
    assert service.stop() == 0
    assert "shutting down (SIGTERM)" in service.text()
    assert "Traceback" not in service.text()
    with pytest.raises(requests.ConnectionError):
        requests.get(service.url + "healthz", timeout=5)
