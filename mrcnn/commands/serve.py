"""`serve`: detections over HTTP (mrcnn.serving) from an exported model
(--model EXPORT_DIR) or a checkpoint (--weights last|PATH), until SIGTERM
or Ctrl+C."""
import logging

import numpy as np

from mrcnn.commands import UsageError
from mrcnn.commands.session import configure, load_exported, load_model

logger = logging.getLogger("mrcnn.serving")


def _predictor(args, project):
    """The predictor the flags ask for, and a one-line description."""
    from mrcnn.serving.predictor import CheckpointPredictor

    if args.model:
        predictor = load_exported(args)
        return predictor, f"exported model {args.model}"
    args.weights = args.weights or "last"
    config, path, _ = configure(project, args, "inference")
    config.validate()
    model, _ = load_model("inference", config, args, path)
    return CheckpointPredictor(model, config.class_names(), path=path or args.weights), \
        f"checkpoint {path or args.weights}"


def _warm_up(predictor):
    """One prediction on a blank image, its masks encoded: the first call
    traces the graph and imports the tracer (seconds), which the first
    user should not wait for."""
    from mrcnn.serving.response import instances_json

    size = int((getattr(predictor, "config", None) or {}).get("IMAGE_MIN_DIM") or 256)
    prediction = predictor.predict(np.zeros((size, size, 3), np.uint8))
    square = np.zeros((1, 8, 8), np.uint8)
    square[0, 2:6, 2:6] = 1
    instances_json({"boxes": np.array([[2, 2, 6, 6]], np.float32), "class_ids": np.array([1]),
                    "class_names": [predictor.class_names[1]], "scores": np.array([1.0]),
                    "masks": square})
    return prediction


def run_serve(args, project):
    """Serve until stopped; returns the exit code (0 after SIGTERM/Ctrl+C)."""
    from mrcnn.serving.app import create_app
    from mrcnn.serving.server import make_server, serve_until_stopped, server_url

    level = logger.level
    logger.setLevel(logging.INFO)  # the request log and "shutting down"
    try:
        max_upload = int(args.max_upload_mb * 2 ** 20)
        predictor, what = _predictor(args, project)
        _warm_up(predictor)
        app = create_app(predictor, max_upload_bytes=max_upload, max_pixels=args.max_pixels)
        try:
            server = make_server(app, args.host, args.port, threads=args.threads,
                                 max_upload_bytes=max_upload)
        except OSError as e:
            reason = e.strerror or e
            raise UsageError(f"--host {args.host} --port {args.port}: cannot listen there ({reason}); "
                             "choose another --port (0 picks a free one)") from e
        classes = ", ".join(predictor.class_names[1:])
        print(f"Serving {what} (classes: {classes}) on {server_url(server, args.host)}", flush=True)
        print("POST an image to /v1/predict, open / in a browser; Ctrl+C or SIGTERM stops.", flush=True)
        serve_until_stopped(server)
    finally:
        logger.setLevel(level)
    return 0
