"""Fixtures for the weight-file tests: tiny models, no network, no real caches."""
import os
import socket
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "core"))

from weights_fixtures import TinyConfig  # noqa: E402


@pytest.fixture(autouse=True)
def no_network_no_caches(monkeypatch, tmp_path):
    """Any connection attempt fails the test; HOME and MRCNN_WEIGHTS_DIR point
    at empty folders so that real cached weight files are never used."""
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv("MRCNN_WEIGHTS_DIR", raising=False)


def _model(backbone, tmp_path_factory):
    from mrcnn import model as modellib

    config = TinyConfig()
    config.BACKBONE = backbone
    return modellib.MaskRCNN("training", config, tmp_path_factory.mktemp("logs"))


@pytest.fixture(scope="session")
def model_r50(tmp_path_factory):
    """A MaskRCNN (training mode, NUM_CLASSES=3, ResNet-50, 64x64 images)."""
    return _model("resnet50", tmp_path_factory)


@pytest.fixture(scope="session")
def model_r101(tmp_path_factory):
    """The same with ResNet-101 (stage 4 blocks a..w)."""
    return _model("resnet101", tmp_path_factory)
