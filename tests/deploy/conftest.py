"""Fixtures of the deploy tests: one tiny checkpoint and its SavedModel
export per test session, shared by the export and the serving tests
(helpers: export_fixtures.py).

The network is tests/core's tiny one (tests/tiny_backbone.py at 64 x 64, two classes)
with seeded random weights and DETECTION_MIN_CONFIDENCE 0, so that every
image gets detections (an untrained network is never confident).
"""
import pytest
from export_fixtures import EXPORT_CLASS_NAMES, load_checkpoint, write_export_checkpoint


@pytest.fixture(scope="session")
def exported_model(tmp_path_factory):
    """(export_dir, checkpoint_path, class_names): the tiny checkpoint
    (ExportConfig, float32) and its SavedModel, written once per session.
    class_names is ["BG", "disc", "bar"]. Treat both as read-only."""
    from mrcnn.export import export_saved_model

    folder = tmp_path_factory.mktemp("deploy")
    checkpoint = write_export_checkpoint(folder)
    model = load_checkpoint(checkpoint)
    export_dir = export_saved_model(model, folder / "export", EXPORT_CLASS_NAMES,
                                    checkpoint=checkpoint)
    return export_dir, checkpoint, list(EXPORT_CLASS_NAMES)
