"""`mrcnn serve --model EXPORT_DIR`: the exported SavedModel behind the same
API (tests/deploy/conftest.py's `exported_model`, shared with the export
tests), its answers checked against ExportedModel.predict in this process."""
import numpy as np
import requests
from pycocotools import mask as mask_utils
from serve_fixtures import encode, painted_image, start_service

from mrcnn.serving.predictor import load_predictor

TIMEOUT = 120


def test_exported_model_is_served_with_the_same_answers(exported_model):
    export_dir, _, class_names = exported_model
    image = painted_image()
    exported = load_predictor(model_dir=export_dir)
    with start_service("--model", export_dir) as service:
        health = requests.get(service.url + "healthz", timeout=TIMEOUT).json()
        assert health["model"]["kind"] == "saved_model" and health["class_names"] == class_names[1:]
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
