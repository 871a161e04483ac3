"""matterport's own calls, in their order (matterport_session.py), run as an
executed notebook (the default run) and as a script under Agg (`-m slow`:
the same calls again; the figure functions' Agg behaviour has its own tests
in tests/visualize): every step runs, and every figure shows its drawing."""
import base64
import glob
import importlib.util
import io
import os
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SESSION = os.path.join(HERE, "matterport_session.py")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("imgaug") is None,
    reason="imgaug is not installed (pip install -e '.[test]' installs it): the session "
           "imports it first, as nucleus.py does")


@pytest.fixture
def workdir(tmp_path):
    """A folder holding mask_rcnn_coco.h5 in matterport's layout (81 classes,
    the session's tiny network), so that nothing is downloaded."""
    from tiny import TinyConfig

    import mrcnn.model as modellib

    class CocoLike(TinyConfig):
        NAME = "coco"
        NUM_CLASSES = 81
        IMAGES_PER_GPU = 1

    model = modellib.MaskRCNN("training", CocoLike(), str(tmp_path / "coco_logs"))
    model.save_weights_h5(str(tmp_path / "mask_rcnn_coco.h5"))
    return tmp_path


def session_env():
    env = dict(os.environ, MRCNN_ROOT=ROOT, MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("MRCNN_WEIGHTS_DIR", None)
    return env


def non_white_share(png):
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return float(np.mean(np.any(pixels < 245, axis=-1)))


def cells(source):
    """(kind, text) of each `# %%` cell of the session file."""
    found, kind, lines = [], None, []
    for line in source.splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                found.append((kind, "\n".join(lines).strip("\n")))
            kind = "markdown" if "[markdown]" in line else "code"
            lines = []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line)
        elif kind == "code":
            lines.append(line)
    found.append((kind, "\n".join(lines).strip("\n")))
    return found


def matterport_lines(out, workdir):
    """What matterport printed, with no logging set up by the session."""
    assert "Starting at epoch 0. LR=" in out and "Starting at epoch 1. LR=" in out
    assert "Checkpoint Path: " + str(workdir / "logs") in out
    # The devices it trains on (a GPU user checks theirs is used).
    assert "Training on /device:CPU:0 (GPUs visible: 0)" in out
    assert "Selecting layers to train" in out and "mrcnn_class_logits" in out
    assert "Not loaded from mask_rcnn_coco.h5: mrcnn_" in out and "(excluded)" in out
    assert "mask_rcnn_shapes.h5 detects as the last checkpoint does" in out
    # run_graph printed its values the way matterport's log() did.
    assert re.search(r"^post_nms_anchor_ix +shape: \(\d+,\) ", out, re.M)
    assert "Unique ROIs: " in out and "Average percent: " in out
    assert (workdir / "logs" / "mask_rcnn_shapes.h5").is_file()


@pytest.mark.slow
def test_as_a_script(workdir):
    run = subprocess.run([sys.executable, SESSION], cwd=workdir, env=session_env(),
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    out = run.stdout
    assert "SESSION OK" in out
    matterport_lines(out, workdir)
    # Under Agg nothing warns about figures that cannot be shown.
    assert "non-interactive" not in run.stderr

    figures = sorted(glob.glob(str(workdir / "figures" / "*.png")))
    names = {os.path.basename(f) for f in figures}
    for expected in ("ground_truth.png", "predictions.png", "nucleus_style.png",
                     "precision_recall.png", "overlaps.png", "post_nms.png", "rois.png",
                     "roi_masks.png", "det_mask_specific.png", "data_mini_masks.png"):
        assert expected in names, sorted(names)
    for figure in figures:
        # A saved figure shows its drawing: a blank canvas is all white (a
        # panel of small masks is mostly white too, hence the low bar).
        assert non_white_share(figure) > 0.002, os.path.basename(figure)


def test_as_a_notebook(workdir, monkeypatch):
    from nbclient import NotebookClient

    with open(SESSION) as f:
        parts = cells(f.read())
    notebook = nbformat.v4.new_notebook()
    for index, (kind, text) in enumerate(parts):
        if kind == "markdown":
            notebook.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            prefix = "%matplotlib inline\n" if index == 0 else ""
            notebook.cells.append(nbformat.v4.new_code_cell(prefix + text))
    # The kernel inherits this process's environment; it draws inline.
    for key, value in session_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MPLBACKEND")
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()

    texts, images = [], []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            if "image/png" in output.get("data", {}):
                images.append(base64.b64decode(output["data"]["image/png"]))
    text = "".join(texts)
    assert "SESSION OK" in text
    matterport_lines(text, workdir)
    # Every display function showed its figure once, in its cell.
    assert len(images) >= 20, len(images)
    for png in images:
        assert non_white_share(io.BytesIO(png)) > 0.002
    # A script's plt.savefig is skipped in the notebook: no figures folder content.
    assert not glob.glob(str(workdir / "figures" / "*.png"))
