"""The notebooks run top to bottom (nbclient, kernel python3) in quick mode:
a tiny network on the tests' backbone, a temporary logs folder (so the predict notebook trains its
demonstration model on a fresh clone's terms), the gns data when
../shared/data exists and the shapes otherwise. Any cell error fails."""
import os

import nbformat
import pytest

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "notebooks")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return str(tmp_path_factory.mktemp("notebook_logs"))


def run_notebook(name, logs, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("MRCNN_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MRCNN_NOTEBOOK_LOGS", logs)
    # The tests' backbone (tests/tiny_backbone.py, found by the kernel
    # through conftest's entry point): the notebooks' plumbing, not ResNet's.
    monkeypatch.setenv("MRCNN_NOTEBOOK_BACKBONE", "tiny")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("NO_ALBUMENTATIONS_UPDATE", "1")
    notebook = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        f"{name} is committed with outputs; clear them"
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": NOTEBOOKS}})
    client.execute()
    return notebook


def outputs_text(notebook):
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") or "".join(output.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def images_shown(notebook):
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells
               for output in cell.get("outputs", []))


def test_visualize_dataset(logs, monkeypatch):
    notebook = run_notebook("visualize_dataset.ipynb", logs, monkeypatch)
    text = outputs_text(notebook)
    assert "training images" in text and "Class statistics" in text
    assert images_shown(notebook) >= 5


def test_predict_trains_a_demonstration_model_when_there_is_no_checkpoint(logs, monkeypatch):
    notebook = run_notebook("predict.ipynb", logs, monkeypatch)
    text = outputs_text(notebook)
    assert "training a small demonstration model" in text
    assert "mAP@0.5 over" in text and "COCO evaluation on 2 images" in text
    assert images_shown(notebook) >= 3


def test_inspect_model(logs, monkeypatch):
    had_checkpoint = any(name.endswith(".h5") for _, _, files in os.walk(logs) for name in files)
    notebook = run_notebook("inspect_model.ipynb", logs, monkeypatch)
    text = outputs_text(notebook)
    # After predict.ipynb (same module) the checkpoint is reused, not retrained.
    assert ("demonstration model" in text) != had_checkpoint
    assert "positive" in text and "level 0: feature map 16 x 16" in text
    assert images_shown(notebook) >= 5
