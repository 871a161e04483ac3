"""`splash`: matterport's colour splash (balloon sample): the detected
objects in colour on a greyscale copy of the image, for an image or every
frame of a video.

Output names follow matterport, in the current folder unless --out says
otherwise: `splash_<YYYYmmddTHHMMSS>.png` for an image,
`splash_<YYYYmmddTHHMMSS>.avi` (MJPG) for a video. A video --out picks its
container by extension: .avi (MJPG) or .mp4 (see mrcnn.commands.video).
"""
import datetime
import os

from mrcnn.commands import UsageError
from mrcnn.commands.session import configure, load_model
from mrcnn.commands.video import VideoFrames, container_of, transform_video
from mrcnn.drawing import color_splash


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


def splash_video(model, video, out_path, progress=True):
    """Splash every frame of a video at its frame rate.

    video: a VideoFrames (or a path). out_path: .avi (MJPG) or .mp4.
    Returns: a VideoRun (frames, seconds, fps).
    """
    if not isinstance(video, VideoFrames):
        video = VideoFrames(video)

    def splash(index, seconds, frame):
        return color_splash(frame, model.detect([frame])[0]["masks"])

    with video:
        return transform_video(video, out_path, splash, desc="splash", progress=progress)


def run_splash(args, project):
    """Splash; returns the exit code."""
    if args.image:
        if not os.path.isfile(args.image):
            raise UsageError(f"--image {args.image}: no such file")
        model = _model(args, project)
        out, n = splash_image(model, args.image, args.out or default_output("png"))
        print(f"Splash of {n} instances saved to {out}")
        return 0
    out = args.out or default_output("avi")
    container_of(out)
    # Opened first: a file OpenCV cannot read fails before the model is built.
    with VideoFrames(args.video) as video:
        run = splash_video(_model(args, project), video, out)
    print(f"Splash of {run.summary()} saved to {out}")
    return 0


def _model(args, project):
    config, path, _ = configure(project, args, "inference")
    config.validate()
    return load_model("inference", config, args, path)[0]
