"""Video files in and out for `predict --video` and `splash --video`, through
OpenCV (opencv-python-headless, which bundles FFmpeg).

The output's container follows its extension:

    .mp4 (.m4v, .mov)  H.264 (`avc1`) when this OpenCV build can encode it,
                       else MPEG-4 Part 2 (`mp4v`) with a one-line notice:
                       VLC, ffmpeg and OpenCV play it, web browsers do not.
    .avi               Motion JPEG (`MJPG`), as matterport's balloon sample wrote.

The opencv-python-headless wheel installed here has no software H.264
encoder (only a hardware one, absent here), so it writes `mp4v`; the codec
is found once per process by writing and reading back a two-frame file
(`mp4_fourcc`). VP9 in MP4 is not tried: it writes, but far slower than
MJPG, about as slow as the network (docs/video.md, benchmarks/video_codecs.py).

Frames are RGB uint8 [H, W, 3] on this side; OpenCV's BGR stays inside.
"""
import contextlib
import functools
import os
import sys
import tempfile
import time

import numpy as np

from mrcnn.commands import UsageError
from mrcnn.data.errors import DatasetError

MP4_FOURCCS = ("avc1", "H264", "mp4v")
AVI_FOURCC = "MJPG"
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".avi": "avi"}
DEFAULT_FPS = 25.0


@contextlib.contextmanager
def quiet_stderr():
    """Keep FFmpeg's and OpenCV's native log lines (written to file
    descriptor 2, e.g. while probing encoders that are absent) off the
    terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _writes_and_reads_back(fourcc, folder):
    import cv2

    path = os.path.join(folder, f"probe_{fourcc}.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), DEFAULT_FPS, (64, 48))
    if not writer.isOpened():
        return False
    for value in (0, 200):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    capture = cv2.VideoCapture(path)
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    return frames == 2


@functools.lru_cache(maxsize=None)
def mp4_fourcc():
    """The first of MP4_FOURCCS that this OpenCV writes into an .mp4 and
    reads back, or None when it writes none."""
    with tempfile.TemporaryDirectory() as folder, quiet_stderr():
        for fourcc in MP4_FOURCCS:
            if _writes_and_reads_back(fourcc, folder):
                return fourcc
    return None


def container_of(path, flag="--out"):
    """"mp4" or "avi" from the extension of an output path; UsageError for
    any other extension."""
    container = CONTAINERS.get(os.path.splitext(str(path))[1].lower())
    if container is None:
        raise UsageError(f"{flag} {path}: write the video as .mp4 or .avi")
    return container


def output_fourcc(path, flag="--out"):
    """The fourcc to write `path` with (see the module docstring); prints a
    notice when .mp4 falls back from H.264."""
    if container_of(path, flag) == "avi":
        return AVI_FOURCC
    fourcc = mp4_fourcc()
    if fourcc is None:
        raise UsageError(f"{flag} {path}: this OpenCV build writes no MP4 codec "
                         f"({', '.join(MP4_FOURCCS)}); write .avi (MJPG) instead")
    if fourcc == "mp4v":
        print("Notice: this OpenCV build has no H.264 encoder; the MP4 is MPEG-4 Part 2 (mp4v), "
              "which VLC and ffmpeg play but web browsers do not")
    return fourcc


class VideoFrames:
    """The frames of a video file, opened at once (so that a bad file fails
    before a model is built): UsageError when the file is absent,
    DatasetError when OpenCV cannot open it.

    path: the video file. Attributes: width, height (pixels), fps (the file's,
    DEFAULT_FPS when it gives none), frame_count (what the file announces, or
    None; some containers only estimate it).
    Iterating yields (index, time_s: float, frame uint8 [H, W, 3] RGB).
    """

    def __init__(self, path, flag="--video"):
        import cv2

        self.path = str(path)
        if not os.path.isfile(self.path):
            raise UsageError(f"{flag} {self.path}: no such file")
        with quiet_stderr():
            self._capture = cv2.VideoCapture(self.path)
        if not self._capture.isOpened():
            raise DatasetError(f"{flag} {self.path}: OpenCV cannot open it as a video "
                               "(not a video file, or cut short?)", kind="unreadable_video",
                               file=self.path)
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else DEFAULT_FPS
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None

    def __iter__(self):
        import cv2

        index = 0
        while True:
            ok, frame = self._capture.read()
            if not ok:
                return
            # The timestamp of the frame just read; files without timestamps
            # give a negative or NaN value, then the frame rate decides.
            msec = self._capture.get(cv2.CAP_PROP_POS_MSEC)
            seconds = msec / 1000.0 if np.isfinite(msec) and msec >= 0 else index / self.fps
            yield index, seconds, np.ascontiguousarray(frame[..., ::-1])
            index += 1

    def close(self):
        self._capture.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class VideoOutput:
    """A video file being written at a fixed size and frame rate.

    path: .mp4/.m4v/.mov or .avi (see the module docstring). size: (width,
    height). write() takes uint8 [height, width, 3] RGB frames.
    """

    def __init__(self, path, fps, size, flag="--out"):
        import cv2

        self.path = str(path)
        self.fourcc = output_fourcc(self.path, flag)
        self.size = (int(size[0]), int(size[1]))
        self._writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*self.fourcc), float(fps),
                                       self.size)
        if not self._writer.isOpened():
            raise OSError(f"{self.path}: OpenCV cannot write a {self.fourcc} video there "
                          "(is the folder writable?)")

    def write(self, frame):
        frame = np.asarray(frame)
        if frame.shape != (self.size[1], self.size[0], 3) or frame.dtype != np.uint8:
            raise ValueError(f"{self.path}: frames must be uint8 [{self.size[1]}, {self.size[0]}, 3] "
                             f"RGB, got {frame.dtype} {frame.shape}")
        self._writer.write(np.ascontiguousarray(frame[..., ::-1]))

    def close(self):
        self._writer.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class VideoRun:
    """What `transform_video` did.

    frames: frames written. seconds: wall time of the whole loop. first:
    seconds of the first frame alone (it includes tracing the network, which
    the later frames do not pay). announced: the frame count the file gave,
    or None.
    """

    def __init__(self, frames, seconds, first, announced):
        self.frames, self.seconds, self.first, self.announced = frames, seconds, first, announced

    @property
    def fps(self):
        """Frames per second over the whole run."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def steady_fps(self):
        """Frames per second after the first frame, or None for one frame."""
        rest = self.seconds - self.first
        return (self.frames - 1) / rest if self.frames > 1 and rest > 0 else None

    def summary(self):
        """"8 frames in 21.8 s (0.37 frames/s; 1.25 after the first)", with a
        note when the file announced more frames than could be read."""
        rates = f"{self.fps:.2f} frames/s"
        if self.steady_fps is not None:
            rates += f"; {self.steady_fps:.2f} after the first"
        text = f"{self.frames} frame{'s' if self.frames != 1 else ''} in {self.seconds:.1f} s ({rates})"
        if self.announced and self.frames < self.announced:
            text += f"; the file announced {self.announced} frames (cut short?)"
        return text


def transform_video(video, out_path, transform, desc, progress=True):
    """Write transform(index, time_s, frame RGB) of every frame of `video`
    (a VideoFrames) to `out_path`, at the video's size and frame rate, with a
    tqdm progress bar in frames/s.

    transform: returns uint8 [H, W, 3] RGB of the input frame's size.
    Returns: VideoRun. Raises DatasetError when no frame could be read (and
    removes `out_path`).
    """
    from tqdm.auto import tqdm

    frames, first = 0, 0.0
    start = time.perf_counter()
    with VideoOutput(out_path, video.fps, (video.width, video.height)) as output, \
            tqdm(total=video.frame_count, desc=desc, unit="frame", disable=not progress) as bar:
        for index, seconds, frame in video:
            output.write(transform(index, seconds, frame))
            frames += 1
            if frames == 1:
                first = time.perf_counter() - start
            bar.update(1)
    if frames == 0:
        os.remove(out_path)
        raise DatasetError(f"--video {video.path}: OpenCV opened it but could not read a frame",
                           kind="unreadable_video", file=video.path)
    return VideoRun(frames, time.perf_counter() - start, first, video.frame_count)
