"""`mrcnn serve`: detections over HTTP, and the one web page that shows them.

    predictor.py  CheckpointPredictor (a MaskRCNN checkpoint) and load_predictor,
                  which picks it or the exported SavedModel (mrcnn.export.ExportedModel):
                  both answer predict(image uint8 [H, W, 3]) with the same arrays;
                  PredictorDetector gives either MaskRCNN's detect() (mrcnn predict --model)
    decode.py     request bytes -> uint8 [H, W, 3], with the upload and pixel limits
    response.py   a prediction -> the JSON of POST /v1/predict (COCO RLE, polygons)
    app.py        the Flask application: /v1/predict, /healthz, / (static/index.html)
    server.py     waitress around the app: threads, one model call at a time,
                  SIGTERM and Ctrl+C stop it cleanly
    launch.py     start `mrcnn serve` in a child process and wait for its URL
"""
