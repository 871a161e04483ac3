"""Shared test setup: quiet TensorFlow, no network, small configs."""
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
# Never let a test find or fetch real weights in the user's cache: Keras and
# mrcnn.weights look under an empty temporary KERAS_HOME instead.
os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="mrcnn-tests-keras-home-")
os.environ.pop("MRCNN_WEIGHTS_DIR", None)


def _declare_tiny_backbone():
    """Make BACKBONE "tiny" (tests/tiny_backbone.py) known to this process and
    to its subprocesses (CLI and sample scripts, notebook kernels): tests/ on
    PYTHONPATH and an entry point of the group mrcnn.backbones in a
    .dist-info folder beside it, as an installed package would declare it."""
    tests = os.path.dirname(os.path.abspath(__file__))
    site = tempfile.mkdtemp(prefix="mrcnn-tests-plugins-")
    info = os.path.join(site, "mrcnn_test_backbones-0.dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: mrcnn-test-backbones\nVersion: 0\n")
    with open(os.path.join(info, "entry_points.txt"), "w") as f:
        f.write("[mrcnn.backbones]\ntiny = tiny_backbone:tiny_backbone\n")
    paths = [tests, site] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    import sys

    sys.path[:0] = [p for p in (tests, site) if p not in sys.path]
    import tiny_backbone  # noqa: F401  (registers "tiny" in this process)


_declare_tiny_backbone()

import pytest  # noqa: E402

SHARED_DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


@pytest.fixture
def shared_data():
    """Path of ../shared/data, or skip when the folder is absent (fresh clone)."""
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"{SHARED_DATA} is absent: the real datasets live beside the project")
    return SHARED_DATA
