"""`predict --video` and `splash --video` on a short synthetic video, with
the tiny untrained checkpoint (every detection kept, so every frame has
some): the outputs open in OpenCV with the input's frame count and size,
frames are drawn where the detections are, the JSON lines decode."""
import json
import os
import re

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from tiny_checkpoint import CLASS_NAMES, session_checkpoint

from mrcnn.cli import main
from mrcnn.commands import video as video_module

FRAMES, HEIGHT, WIDTH, FPS = 8, 64, 80, 5


def write_video(path, fourcc="MJPG"):
    """FRAMES frames of a red square and a green disc moving over a blue
    gradient (no grey pixel, so that a splash's grey shows). Returns the
    frames as RGB uint8 [FRAMES, H, W, 3]."""
    import cv2

    frames = []
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (WIDTH, HEIGHT))
    assert writer.isOpened()
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    for i in range(FRAMES):
        frame = np.stack([30 + xx // 2, 70 + yy // 2, np.full_like(xx, 190)], axis=-1).astype(np.uint8)
        frame[10:34, 6 + 4 * i:30 + 4 * i] = (220, 40, 40)
        frame[(yy - 44) ** 2 + (xx - 60 + 3 * i) ** 2 < 100] = (40, 200, 60)
        frames.append(frame)
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return np.stack(frames)


def read_video(path):
    """(frames RGB uint8 [N, H, W, 3], fourcc str) as OpenCV reads the file back."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), path
    code = int(capture.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])
    capture.release()
    return np.stack(frames), code.to_bytes(4, "little").decode("ascii", "replace")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return session_checkpoint(tmp_path_factory)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("video")
    path = folder / "street.avi"
    frames = write_video(path)
    # What the model sees: the file decoded (MJPG is lossy).
    decoded, _ = read_video(path)
    return path, frames, decoded


@pytest.fixture(scope="module")
def predicted(clip, checkpoint, tmp_path_factory):
    """One `predict --video` run: (exit code, out folder, what it printed)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("predicted")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["predict", "--video", str(clip[0]), "--out", str(out), "--weights", checkpoint])
    return code, out, printed.getvalue()


def result_of(record):
    """A detect() result dict rebuilt from one JSON line."""
    detections = record["detections"]
    return {"rois": np.array([[y, x, y + h, x + w] for x, y, w, h in (d["bbox"] for d in detections)]),
            "class_ids": np.array([d["class_id"] for d in detections]),
            "scores": np.array([d["score"] for d in detections]),
            "masks": np.stack([mask_utils.decode(d["segmentation"]).astype(bool) for d in detections],
                              axis=-1)}


def blurred(frames):
    """Video codecs halve the colour resolution (4:2:0): 1-pixel outlines and
    caption text come back smeared, so frames are compared after a blur."""
    import cv2

    return np.stack([cv2.GaussianBlur(f.astype(np.float32), (0, 0), 1.5) for f in frames])


def test_predict_video_writes_an_mp4_of_every_frame_drawn(clip, predicted):
    from mrcnn.visualize import draw_instances

    code, out, _ = predicted
    assert code == 0
    assert sorted(os.listdir(out)) == ["street.jsonl", "street.mp4"]
    drawn, fourcc = read_video(out / "street.mp4")
    assert drawn.shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert fourcc.lower() in {"avc1", "h264", "fmp4", "mp4v"}
    _, _, decoded = clip
    records = [json.loads(line) for line in (out / "street.jsonl").read_text().splitlines()]
    results = [result_of(r) for r in records]
    expected = np.stack([draw_instances(f, r, ["BG", *CLASS_NAMES]) for f, r in zip(decoded, results)])
    # Each frame is its JSON line's detections drawn on the input frame
    # (measured with the tests' tiny network: 4-7 grey levels of codec error
    # after the blur, 21-46 from the input).
    error = np.abs(blurred(drawn) - blurred(expected)).mean(axis=(1, 2, 3))
    moved = np.abs(blurred(drawn) - blurred(decoded)).mean(axis=(1, 2, 3))
    assert (error < 10).all() and (moved > 15).all(), (error, moved)
    for frame, result in enumerate(results):
        inside = result["masks"].any(-1)
        change = np.abs(drawn[frame].astype(int) - decoded[frame].astype(int)).max(-1)
        assert np.median(change[inside]) > 25


def test_predict_video_jsonl_has_one_detection_line_per_frame(predicted):
    _, out, _ = predicted
    lines = (out / "street.jsonl").read_text().splitlines()
    assert len(lines) == FRAMES
    records = [json.loads(line) for line in lines]
    assert [r["frame"] for r in records] == list(range(FRAMES))
    assert [r["time"] for r in records] == pytest.approx([i / FPS for i in range(FRAMES)], abs=1e-3)
    for record in records:
        assert 1 <= len(record["detections"]) <= 8
        for d in record["detections"]:
            assert d["class_name"] == CLASS_NAMES[d["class_id"] - 1] and 0 <= d["score"] <= 1
            mask = mask_utils.decode(d["segmentation"])
            assert mask.shape == (HEIGHT, WIDTH) and mask.any()
            x, y, w, h = d["bbox"]
            ys, xs = np.nonzero(mask)
            # The mask lies inside its box (matterport's boxes: x2, y2 exclusive).
            assert x <= xs.min() and xs.max() < x + w and y <= ys.min() and ys.max() < y + h


def test_predict_video_prints_a_summary(predicted):
    _, out, printed = predicted
    # "8 frames in 21.8 s (0.37 frames/s; 1.25 after the first): a 3, b 61",
    # then the output paths.
    summary = next(line for line in printed.splitlines() if line.startswith(f"{FRAMES} frames in "))
    counts = dict(part.rsplit(" ", 1) for part in summary.rsplit("): ", 1)[1].split(", "))
    expected = {}
    for line in (out / "street.jsonl").read_text().splitlines():
        for d in json.loads(line)["detections"]:
            expected[d["class_name"]] = expected.get(d["class_name"], 0) + 1
    assert {name: int(n) for name, n in counts.items()} == expected
    assert str(out / "street.mp4") in printed and str(out / "street.jsonl") in printed


def splash_of(frame, masks):
    """What a splash of `frame` with these bool masks [H, W, N] looks like."""
    from mrcnn.visualize import color_splash

    return color_splash(frame, masks)


@pytest.mark.parametrize("name,fourccs", [("splash.mp4", {"avc1", "h264", "fmp4", "mp4v"}),
                                          (None, {"mjpg"})])
def test_splash_video_container_follows_out(clip, predicted, checkpoint, tmp_path, monkeypatch,
                                            name, fourccs):
    path, _, decoded = clip
    monkeypatch.chdir(tmp_path)
    out = ["--out", name] if name else []
    assert main(["splash", "--video", str(path), *out, "--weights", checkpoint]) == 0
    written = os.listdir(tmp_path)
    if name is None:
        # matterport's balloon sample: splash_<YYYYmmddTHHMMSS>.avi, MJPG.
        assert len(written) == 1 and re.fullmatch(r"splash_\d{8}T\d{6}\.avi", written[0])
    else:
        assert written == [name]
    frames, fourcc = read_video(tmp_path / written[0])
    assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert fourcc.lower() in fourccs
    # The same network on the same frames: colour where predict's masks
    # are, grey elsewhere, up to the codec's error.
    records = [json.loads(line) for line in (predicted[1] / "street.jsonl").read_text().splitlines()]
    expected = np.stack([splash_of(f, result_of(r)["masks"]) for f, r in zip(decoded, records)])
    error = np.abs(blurred(frames) - blurred(expected)).mean(axis=(1, 2, 3))
    moved = np.abs(blurred(frames) - blurred(decoded)).mean(axis=(1, 2, 3))
    assert (error < 6).all() and (moved > 15).all(), (error, moved)


def test_images_and_video_together_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--images", str(tmp_path), "--video", "x.mp4", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predict", "--out", str(tmp_path)])
    assert "one of the arguments --images --video is required" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["predict", "splash"])
def test_an_unreadable_video_is_a_one_line_error(tmp_path, capsys, command):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video" * 50)
    out = ["--out", str(tmp_path / "out")] if command == "predict" else ["--out", str(tmp_path / "s.mp4")]
    assert main([command, "--video", str(bad), *out, "--weights", "none"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"mrcnn {command}: --video {bad}: OpenCV cannot open it as a video "
                                "(not a video file, or cut short?)"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "s.mp4").exists()


def test_splash_refuses_an_unknown_video_extension(clip, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["splash", "--video", str(clip[0]), "--out", str(tmp_path / "s.mkv"), "--weights", "none"])
    assert "write the video as .mp4 or .avi" in capsys.readouterr().err


def test_mp4_codec_is_one_this_opencv_writes_and_reads_back(tmp_path):
    fourcc = video_module.mp4_fourcc()
    assert fourcc in video_module.MP4_FOURCCS
    frames = write_video(tmp_path / "probe.mp4", fourcc)
    decoded, _ = read_video(tmp_path / "probe.mp4")
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 8


def test_video_run_summary_gives_both_rates_and_a_short_file():
    run = video_module.VideoRun(frames=8, seconds=10.0, first=3.0, announced=10)
    assert run.summary() == ("8 frames in 10.0 s (0.80 frames/s; 1.00 after the first); "
                             "the file announced 10 frames (cut short?)")
    assert video_module.VideoRun(1, 2.0, 2.0, 1).summary() == "1 frame in 2.0 s (0.50 frames/s)"
