"""Shared test setup: quiet TensorFlow, no network, small configs."""
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
# Never let a test find or fetch real weights in the user's cache: Keras and
# mrcnn.weights look under an empty temporary KERAS_HOME instead.
os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="mrcnn-tests-keras-home-")
os.environ.pop("MRCNN_WEIGHTS_DIR", None)

import pytest  # noqa: E402

SHARED_DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


@pytest.fixture
def shared_data():
    """Path of ../shared/data, or skip when the folder is absent (fresh clone)."""
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"{SHARED_DATA} is absent: the real datasets live beside the project")
    return SHARED_DATA
