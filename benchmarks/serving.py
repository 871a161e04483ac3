"""What serving costs: the exported SavedModel (`ExportedModel.predict`)
against `MaskRCNN.detect()` on the same image and size, the JSON encoding
of the detections (COCO RLE + polygons), and `mrcnn serve` over loopback
with 1 and 4 concurrent clients (p50/p95 latency seen by the client,
throughput), in one table whose reference is detect() of the same run.

    python benchmarks/serving.py                          # 512² model, 640x480 JPEG, 12 requests
    python benchmarks/serving.py --size 1024 --requests 8 --image 1280x960
    python benchmarks/serving.py --serve checkpoint       # serve the .h5 instead of the export
    python benchmarks/serving.py --masks random           # ragged masks: the tracer's worst case

The network is ResNet-50-FPN with random weights made to return exactly
--instances detections (benchmarks/step_times.maximise_detections), as a
trained model finding that many objects would: the mask head, the mask
pasting and the encoding all do that work. `--masks filled` (default) sets
the mask head's last layer so that each mask fills its box, one smooth
outline as a trained model's convex objects have; `--masks random` keeps
the random masks, ragged and in many parts, the polygon tracer's worst case
(a second and more per mask at 512²). The service is a
child process (`mrcnn serve --port 0`), as in production; it runs one
request at a time, so 4 clients measure queueing, not parallel inference.
Measured results: docs/deploy.md.
"""
import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
if ROOT_DIR not in sys.path:
    sys.path.insert(0, ROOT_DIR)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from step_times import benchmark_config, maximise_detections  # noqa: E402

CLASS_NAMES = ["BG", "cat", "dog", "bird"]


def percentile(values, q):
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def timed(fn, repeats):
    """Seconds of `repeats` calls of fn() after one warm-up call."""
    return timed_in_turn([fn], repeats)[0]


def timed_in_turn(fns, repeats):
    """Seconds of `repeats` calls of each of `fns`, called in turn after a
    warm-up call each, so that a change in the machine's load falls on all
    of them alike. Returns one list of times per function."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return times


def test_image(width, height, seed=0):
    """A smooth picture with a few filled shapes (uint8 [H, W, 3]) and its
    JPEG bytes: what a camera sends, not noise that JPEG cannot compress."""
    import skimage.draw
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 200 // width, y * 200 // height, (x + y) * 120 // (width + height)], -1)
    image = image.astype(np.uint8)
    for _ in range(6):
        rr, cc = skimage.draw.disk((rng.integers(0, height), rng.integers(0, width)),
                                   rng.integers(min(width, height) // 12, min(width, height) // 5),
                                   shape=(height, width))
        image[rr, cc] = rng.integers(0, 255, 3)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return image, buffer.getvalue()


def load_clients(url, data, clients, requests_total):
    """`requests_total` POSTs of `data` spread over `clients` threads.
    Returns (latencies in s, wall-clock s, instance counts seen)."""
    import requests

    latencies, counts, errors = [], [], []
    lock = threading.Lock()
    per_client = [requests_total // clients + (i < requests_total % clients) for i in range(clients)]

    def client(n):
        session = requests.Session()
        for _ in range(n):
            start = time.perf_counter()
            reply = session.post(url + "v1/predict", data=data, headers={"Content-Type": "image/jpeg"},
                                 timeout=600)
            elapsed = time.perf_counter() - start
            with lock:
                if reply.status_code != 200:
                    errors.append(reply.text)
                latencies.append(elapsed)
                counts.append(reply.json().get("count"))

    threads = [threading.Thread(target=client, args=(n,)) for n in per_client]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed: {errors[0]}")
    return latencies, wall, counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="IMAGE_MIN_DIM = IMAGE_MAX_DIM (512)")
    parser.add_argument("--image", default="640x480", help="the test image, WIDTHxHEIGHT (640x480)")
    parser.add_argument("--instances", type=int, default=20, help="detections per image (20)")
    parser.add_argument("--repeats", type=int, default=5, help="in-process calls timed (5)")
    parser.add_argument("--requests", type=int, default=12, help="requests per client count (12)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="client counts (1 4)")
    parser.add_argument("--masks", choices=["filled", "random"], default="filled",
                        help="filled: each mask fills its box (default); random: ragged masks")
    parser.add_argument("--serve", choices=["exported", "checkpoint"], default=None,
                        help="what the service loads (default: exported when mrcnn.export exists)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.image.lower().split("x"))

    import keras
    import tensorflow as tf

    import mrcnn.model as modellib
    from mrcnn.serving.launch import ServiceProcess
    from mrcnn.serving.predictor import CheckpointPredictor
    from mrcnn.serving.response import instances_json

    try:
        from mrcnn import export
    except ImportError:
        export = None
    serve = args.serve or ("exported" if export else "checkpoint")
    if serve == "exported" and export is None:
        parser.error("--serve exported: mrcnn.export is absent")

    keras.utils.set_random_seed(0)
    config = benchmark_config(args.size)
    config.DETECTION_MAX_INSTANCES = args.instances
    config.CLASS_NAMES = CLASS_NAMES[1:]
    work = tempfile.mkdtemp(prefix="mrcnn-serving-bench-")
    model = modellib.MaskRCNN("inference", config, work)
    maximise_detections(model)
    if args.masks == "filled":
        layer = model.keras_model.get_layer("mrcnn_mask")
        kernel, bias = layer.get_weights()
        layer.set_weights([np.zeros_like(kernel), np.full_like(bias, 10.0)])
    load_before = os.getloadavg()[0]
    checkpoint = model.save_weights_h5(os.path.join(work, "mask_rcnn_bench_0001.h5"))
    image, jpeg = test_image(width, height)
    rows = []  # (label, latencies s, throughput or None, note)

    predictor = CheckpointPredictor(model, CLASS_NAMES, path=checkpoint)
    exported = None
    if export is not None:
        export_dir = export.export_saved_model(model, os.path.join(work, "export"), CLASS_NAMES,
                                               checkpoint=checkpoint)
        exported = export.ExportedModel(export_dir)
        detect_times, exported_times = timed_in_turn(
            [lambda: model.detect([image]), lambda: exported.predict(image)], args.repeats)
    else:
        detect_times = timed(lambda: model.detect([image]), args.repeats)
    rows.append(("detect() (checkpoint, in process)", detect_times, None, "reference"))
    if exported is not None:
        rows.append(("ExportedModel.predict (in process)", exported_times, None,
                     f"{len(exported.predict(image)['scores'])} instances"))
        del exported
    else:
        rows.append(("ExportedModel.predict", None, None, "mrcnn.export absent: not measured"))
    prediction = predictor.predict(image)
    found = len(prediction["scores"])
    encode_times = timed(lambda: instances_json(prediction), args.repeats)
    rows.append((f"response JSON of {found} instances (RLE + polygons)", encode_times, None, ""))
    bare_times = timed(lambda: instances_json(prediction, polygons=False), args.repeats)
    rows.append((f"response JSON of {found} instances, polygons=false (RLE)", bare_times, None, ""))

    source = ["--model", export_dir] if serve == "exported" else ["--weights", checkpoint]
    with ServiceProcess([*source, "--host", "127.0.0.1", "--port", "0", "--threads", "4"]) as service:
        load_clients(service.url, jpeg, 1, 2)  # first requests: connections, caches
        for clients in args.clients:
            latencies, wall, counts = load_clients(service.url, jpeg, clients, args.requests)
            rows.append((f"service ({serve}), {clients} client{'s' if clients > 1 else ''}, loopback",
                         latencies, len(latencies) / wall,
                         f"{len(latencies)} requests, {counts[0]} instances each"))
    reference = statistics.median(detect_times)

    print(f"\nServing benchmark: ResNet-50-FPN at {args.size}², a {width}x{height} JPEG, "
          f"{args.instances} detections, {args.masks} masks; TensorFlow {tf.__version__}, "
          f"{os.cpu_count()} CPUs, load average {load_before:.1f} at the start and "
          f"{os.getloadavg()[0]:.1f} at the end, {time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| what | p50 ms | p95 ms | throughput img/s | p50 / detect() | note |")
    print("|---|---:|---:|---:|---:|---|")
    for label, times, throughput, note in rows:
        if times is None:
            print(f"| {label} | — | — | — | — | {note} |")
            continue
        p50, p95 = percentile(times, 50), percentile(times, 95)
        rate = f"{throughput:.2f}" if throughput else f"{1.0 / statistics.median(times):.2f}"
        print(f"| {label} | {p50:.0f} | {p95:.0f} | {rate} | {p50 / (reference * 1000):.2f} | {note} |")
    print("\nIn-process rows: --repeats calls after a warm-up (detect() and ExportedModel.predict "
          "in turn); their throughput is 1 / median. Service rows: client-side latency of each request (upload, decode, queue, "
          "inference, JSON) and requests / wall-clock time.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
