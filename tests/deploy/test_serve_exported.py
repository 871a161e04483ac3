"""`mrcnn serve --model EXPORT_DIR`: the exported SavedModel behind the same
API, its answers checked against ExportedModel.predict in this process."""
import numpy as np
import pytest
import requests
from pycocotools import mask as mask_utils
from serve_fixtures import CLASS_NAMES, ServeConfig, encode, painted_image, shared_checkpoint, start_service

from mrcnn.serving.predictor import load_predictor

export = pytest.importorskip("mrcnn.export", reason="mrcnn.export (the SavedModel export) is absent")
TIMEOUT = 120


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    checkpoint = shared_checkpoint(tmp_path_factory)
    predictor = load_predictor(weights=checkpoint, config=ServeConfig())
    return export.export_saved_model(predictor.model, tmp_path_factory.mktemp("export") / "serve",
                                     ["BG"] + CLASS_NAMES, checkpoint=checkpoint)


@pytest.mark.slow
def test_exported_model_is_served_with_the_same_answers(export_dir):
    image = painted_image()
    exported = load_predictor(model_dir=export_dir)
    with start_service("--model", export_dir) as service:
        health = requests.get(service.url + "healthz", timeout=TIMEOUT).json()
        assert health["model"]["kind"] == "saved_model" and health["class_names"] == CLASS_NAMES
        body = requests.post(service.url + "v1/predict", data=encode(image, "PNG"),
                             headers={"Content-Type": "image/png"}, timeout=TIMEOUT).json()
        cut = float(np.median(exported.predict(image)["scores"]))
        kept = requests.post(service.url + "v1/predict", params={"score_threshold": cut},
                             data=encode(image, "PNG"), headers={"Content-Type": "image/png"},
                             timeout=TIMEOUT).json()
    assert service.process.returncode == 0
    for answer, expected in ((body, exported.predict(image)), (kept, exported.predict(image, cut))):
        instances = answer["instances"]
        assert len(instances) == len(expected["scores"]) > 0
        assert [d["class_name"] for d in instances] == expected["class_names"]
        np.testing.assert_allclose([d["score"] for d in instances], expected["scores"], atol=1e-4)
        boxes = [[d["box"][k] for k in ("y1", "x1", "y2", "x2")] for d in instances]
        np.testing.assert_allclose(boxes, expected["boxes"], atol=0.01)
        masks = np.stack([mask_utils.decode({"size": d["mask"]["size"],
                                             "counts": d["mask"]["counts"].encode()})
                          for d in instances])
        assert np.mean(masks != expected["masks"]) < 0.005
    assert 0 < kept["count"] < body["count"] or body["count"] == kept["count"] == 1
