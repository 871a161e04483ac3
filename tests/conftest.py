"""Shared test setup: quiet TensorFlow, no network, small configs."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
# Never let a test download weights: point the cache at nothing useful.
os.environ.setdefault("KERAS_HOME", os.path.join(os.path.dirname(__file__), ".keras_home_unused"))

import pytest  # noqa: E402

SHARED_DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


@pytest.fixture
def shared_data():
    """Path of ../shared/data, or skip when the folder is absent (fresh clone)."""
    if not os.path.isdir(SHARED_DATA):
        pytest.skip(f"{SHARED_DATA} is absent: the real datasets live beside the project")
    return SHARED_DATA
