"""What each video codec of the installed OpenCV costs when `predict --video`
and `splash --video` write their frames: time per frame, file size and the
error after reading the file back, against MJPG in an AVI (matterport's
balloon sample's choice) measured in the same run.

    python benchmarks/video_codecs.py
    python benchmarks/video_codecs.py --sizes 640x480 --frames 60

Frames: skimage's astronaut photograph scaled to each size and panned a few
pixels per frame (a natural picture moving, not noise). "no" in the writes
column: this OpenCV build cannot open that encoder. mrcnn.commands.video
picks the first MP4 codec of MP4_FOURCCS that writes; the others are shown
for comparison. Results: docs/video.md.
"""
import argparse
import os
import sys
import tempfile
import time

ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
if ROOT_DIR not in sys.path:
    sys.path.insert(0, ROOT_DIR)

import numpy as np  # noqa: E402

from mrcnn.commands.video import MP4_FOURCCS, mp4_fourcc, quiet_stderr  # noqa: E402

# (fourcc, extension): MJPG/.avi first, the reference.
CODECS = [("MJPG", ".avi")] + [(f, ".mp4") for f in MP4_FOURCCS] + [("vp09", ".mp4")]


def frames_of(width, height, count):
    """`count` BGR uint8 [height, width, 3] frames of a panned photograph."""
    import cv2
    import skimage.data

    picture = cv2.resize(skimage.data.astronaut()[..., ::-1], (width + 4 * count, height))
    return [np.ascontiguousarray(picture[:, 4 * i:4 * i + width]) for i in range(count)]


def measure(fourcc, extension, frames, folder, fps=25.0):
    """{"writes", "ms", "mb", "read", "error"} of one codec on `frames`."""
    import cv2

    height, width = frames[0].shape[:2]
    path = os.path.join(folder, f"{fourcc}{extension}")
    with quiet_stderr():
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        return {"writes": False}
    start = time.perf_counter()
    for frame in frames:
        writer.write(frame)
    writer.release()
    seconds = time.perf_counter() - start
    capture = cv2.VideoCapture(path)
    errors = []
    for frame in frames:
        ok, back = capture.read()
        if not ok:
            break
        errors.append(np.abs(back.astype(np.int16) - frame.astype(np.int16)).mean())
    capture.release()
    return {"writes": True, "ms": 1000 * seconds / len(frames), "mb": os.path.getsize(path) / 1e6,
            "read": len(errors), "error": float(np.mean(errors)) if errors else float("nan")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["640x480", "1280x720"], help="WIDTHxHEIGHT")
    parser.add_argument("--frames", type=int, default=30, help="frames per video (30)")
    args = parser.parse_args(argv)
    import cv2

    print(f"OpenCV {cv2.__version__}; mrcnn writes .mp4 as {mp4_fourcc()!r}, .avi as 'MJPG'\n")
    print(f"{'size':>9}  {'codec':<10} {'writes':>6} {'ms/frame':>9} {'x MJPG':>7} {'MB':>7} "
          f"{'read back':>9} {'mean |err|':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            width, height = (int(v) for v in size.lower().split("x"))
            frames = frames_of(width, height, args.frames)
            reference = None
            for fourcc, extension in CODECS:
                row = measure(fourcc, extension, frames, folder)
                name = f"{fourcc}{extension}"
                if not row["writes"]:
                    print(f"{size:>9}  {name:<10} {'no':>6}")
                    continue
                reference = reference or row["ms"]
                print(f"{size:>9}  {name:<10} {'yes':>6} {row['ms']:9.1f} {row['ms'] / reference:7.2f} "
                      f"{row['mb']:7.2f} {row['read']:>4}/{len(frames):<4} {row['error']:10.2f}")


if __name__ == "__main__":
    main()
