"""The HTTP API and the web page, as a Flask (WSGI) application.

    POST /v1/predict   an image -> detections as JSON (mrcnn.serving.response)
                       body: multipart/form-data with a file field `image` (or `file`),
                       or the raw file with Content-Type image/jpeg, image/png, image/*
                       or application/octet-stream
                       query: score_threshold=0..1, classes=name,name, polygons=true|false
    GET  /healthz      the model is loaded: its kind, path, classes, the limits
    GET  /             the web page (static/index.html: no external resources)

Errors are JSON {"error": message, "status": code}: 400 (empty, truncated,
bad query), 413 (over the byte or pixel limit), 415 (not an image, wrong
Content-Type), 404/405; an exception in the model is a 500 with its message
and the service goes on. The model runs one request at a time (a lock:
waitress' worker threads queue behind it), so a predictor need not be
thread-safe.
"""
import logging
import threading
import time
from importlib import resources

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from mrcnn.serving.decode import DEFAULT_MAX_PIXELS, RequestError, decode_image
from mrcnn.serving.predictor import describe
from mrcnn.serving.response import instances_json, parse_classes, parse_flag, parse_score_threshold

logger = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
RAW_TYPES = ("application/octet-stream",)
UPLOAD_FIELDS = ("image", "file")
# The page loads nothing from elsewhere; the browser is told to refuse it too.
PAGE_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
               "img-src 'self' blob: data:; connect-src 'self'")


def _milliseconds(start, end):
    return round((end - start) * 1000.0, 2)


def page_html():
    """The web page's HTML (mrcnn/serving/static/index.html)."""
    return resources.files("mrcnn.serving").joinpath("static", "index.html").read_text("utf-8")


class Predictions:
    """The model behind a lock: one predict() at a time, counted."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.lock = threading.Lock()
        self.served = 0

    def __call__(self, image, score_threshold):
        """Returns (prediction dict, seconds waited, seconds predicting)."""
        waited = time.perf_counter()
        with self.lock:
            started = time.perf_counter()
            prediction = self.predictor.predict(image, score_threshold=score_threshold)
            self.served += 1
        return prediction, started - waited, time.perf_counter() - started


def _upload_bytes():
    """The image bytes of the request (see the module docstring)."""
    mimetype = request.mimetype or ""
    if mimetype == "multipart/form-data":
        for field in UPLOAD_FIELDS:
            upload = request.files.get(field)
            if upload is not None:
                return upload.read()
        fields = sorted(set(request.files) | set(request.form))
        raise RequestError(400, "the multipart upload has no file field named 'image' or 'file'"
                                + (f" (it has: {', '.join(fields)})" if fields else ""))
    data = request.get_data(cache=False)
    if not data:
        raise RequestError(400, "the request body is empty: send an image file")
    if mimetype in RAW_TYPES or mimetype.startswith("image/"):
        return data
    shown = mimetype or "none"
    raise RequestError(415, f"Content-Type {shown} is not accepted: send the image as "
                            "multipart/form-data (field 'image') or as the raw body with "
                            "Content-Type image/jpeg, image/png or application/octet-stream")


def create_app(predictor, max_upload_bytes=DEFAULT_MAX_UPLOAD_BYTES, max_pixels=DEFAULT_MAX_PIXELS):
    """The Flask application serving `predictor` (see mrcnn.serving.predictor).

    max_upload_bytes: largest request body accepted (413 above).
    max_pixels: largest image accepted, width x height (413 above).
    """
    app = Flask("mrcnn.serving")
    app.config["MAX_CONTENT_LENGTH"] = int(max_upload_bytes)
    app.json.sort_keys = False
    model = describe(predictor)
    limits = {"max_upload_bytes": int(max_upload_bytes), "max_pixels": int(max_pixels)}
    predictions = Predictions(predictor)
    html = page_html()
    app.extensions["mrcnn_predictions"] = predictions

    def error(status, message):
        response = jsonify({"error": message, "status": status})
        response.status_code = status
        return response

    @app.errorhandler(RequestError)
    def refused(e):
        logger.info("%s %s %d: %s", request.method, request.path, e.status, e.message)
        return error(e.status, e.message)

    @app.errorhandler(HTTPException)
    def http_error(e):
        message = e.description
        if e.code == 413:
            message = (f"the upload is larger than this service's limit of "
                       f"{max_upload_bytes / 2 ** 20:g} MB (--max-upload-mb); send a smaller file")
        elif e.code == 405:
            message = f"{request.method} is not allowed on {request.path}"
        logger.info("%s %s %d: %s", request.method, request.path, e.code, message)
        return error(e.code, message)

    @app.errorhandler(Exception)
    def failed(e):
        logger.exception("%s %s failed", request.method, request.path)
        return error(500, f"the service failed on this request ({type(e).__name__}: {e}); "
                          "the error is in its log")

    @app.get("/")
    def page():
        return Response(html, mimetype="text/html",
                        headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"})

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "model_loaded": True, "model": model,
                        "class_names": model["class_names"], "limits": limits,
                        "requests_served": predictions.served})

    @app.post("/v1/predict")
    def predict():
        start = time.perf_counter()
        score_threshold = parse_score_threshold(request.args.get("score_threshold"))
        classes = parse_classes(request.args.get("classes"), predictor.class_names)
        polygons = parse_flag("polygons", request.args.get("polygons"))
        data = _upload_bytes()
        image = decode_image(data, max_pixels=max_pixels)
        decoded = time.perf_counter()
        prediction, waited, inference = predictions(image, score_threshold)
        predicted = time.perf_counter()
        instances = instances_json(prediction, classes, polygons=polygons)
        end = time.perf_counter()
        height, width = image.shape[:2]
        logger.info("POST /v1/predict 200: %dx%d, %d instances, %.0f ms", width, height,
                    len(instances), (end - start) * 1000)
        return jsonify({
            "image": {"width": int(width), "height": int(height)},
            "model": model,
            "timing": {"decode_ms": _milliseconds(start, decoded), "queue_ms": round(waited * 1000, 2),
                       "inference_ms": round(inference * 1000, 2),
                       "encode_ms": _milliseconds(predicted, end), "total_ms": _milliseconds(start, end)},
            "score_threshold": score_threshold,
            "classes": classes,
            "count": len(instances),
            "instances": instances,
        })

    return app
