"""`splash`: matterport's colour splash (balloon sample): the detected
objects in colour on a greyscale copy of the image, for an image or every
frame of a video.

Output names follow matterport, in the current folder unless --out says
otherwise: `splash_<YYYYmmddTHHMMSS>.png` for an image,
`splash_<YYYYmmddTHHMMSS>.avi` (MJPG) for a video.
"""
import datetime
import os

import numpy as np

from mrcnn.commands import UsageError
from mrcnn.commands.session import configure, load_model
from mrcnn.visualize import color_splash


def default_output(extension):
    return "splash_{:%Y%m%dT%H%M%S}.{}".format(datetime.datetime.now(), extension)


def splash_image(model, image_path, out_path):
    """Splash one image file. Returns (out_path, number of instances)."""
    from PIL import Image

    from mrcnn.data.dataset import read_image_file, to_rgb

    image = to_rgb(read_image_file(image_path))
    result = model.detect([image])[0]
    Image.fromarray(color_splash(image, result["masks"])).save(out_path)
    return out_path, int(result["masks"].shape[-1])


def splash_video(model, video_path, out_path, progress=True):
    """Splash every frame of a video into an MJPG AVI at the same frame rate.
    Returns (out_path, number of frames)."""
    import cv2
    from tqdm.auto import tqdm

    capture = cv2.VideoCapture(video_path)
    if not capture.isOpened():
        raise UsageError(f"--video {video_path}: OpenCV cannot open it as a video")
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    writer = cv2.VideoWriter(out_path, cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    frames = 0
    try:
        with tqdm(total=total, desc="splash", unit="frame", disable=not progress) as bar:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                # OpenCV frames are BGR; the model and the splash work in RGB.
                image = np.ascontiguousarray(frame[..., ::-1])
                result = model.detect([image])[0]
                writer.write(np.ascontiguousarray(color_splash(image, result["masks"])[..., ::-1]))
                frames += 1
                bar.update(1)
    finally:
        capture.release()
        writer.release()
    return out_path, frames


def run_splash(args, project):
    """Splash; returns the exit code."""
    source = args.image or args.video
    if not os.path.isfile(source):
        raise UsageError(f"--{'image' if args.image else 'video'} {source}: no such file")
    config, path, _ = configure(project, args, "inference")
    config.validate()
    model, _ = load_model("inference", config, args, path)
    if args.image:
        out, n = splash_image(model, args.image, args.out or default_output("png"))
        print(f"Splash of {n} instances saved to {out}")
    else:
        out, n = splash_video(model, args.video, args.out or default_output("avi"))
        print(f"Splash of {n} frames saved to {out}")
    return 0
