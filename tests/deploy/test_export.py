"""The SavedModel export (mrcnn.export, `mrcnn export`) of the tiny network:
parity with MaskRCNN.detect() in a process that never imports mrcnn, the
bytes and threshold signatures, the JSON description, refusals, a bfloat16
export through the CLI."""
import io
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import skimage.draw
import tensorflow as tf
from export_fixtures import EXPORT_CLASS_NAMES, ExportConfig, load_checkpoint
from PIL import Image

from mrcnn.export import METADATA_FILE, OUTPUTS, SIGNATURES, ExportedModel, export_saved_model

# Three sizes and aspect ratios; only the first is the network's input size.
SHAPES = [(64, 64), (50, 90), (120, 40)]


def painted(height, width, seed):
    """uint8 [H, W, 3]: a disc and a bar on dark noise."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, (height, width, 3)).astype(np.uint8)
    rr, cc = skimage.draw.disk((height // 3, width // 3), min(height, width) // 5,
                               shape=(height, width))
    image[rr, cc] = (220, 60, 60)
    rr, cc = skimage.draw.rectangle((2 * height // 3, width // 4), (2 * height // 3 + 5, width - 5),
                                    shape=(height, width))
    image[rr, cc] = (60, 220, 60)
    return image


IMAGES = [painted(h, w, seed=i) for i, (h, w) in enumerate(SHAPES)]


def png_bytes(image, fmt="PNG"):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def detector(exported_model):
    """The checkpoint in this process: MaskRCNN with detect()."""
    _, checkpoint, _ = exported_model
    return load_checkpoint(checkpoint)


@pytest.fixture(scope="module")
def exported(exported_model):
    return ExportedModel(exported_model[0])


PARITY_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf

    export_dir, images_file, out_file = sys.argv[1:4]
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    images = np.load(images_file)
    results = {}
    for key in images.files:
        for name, value in serve(image=tf.constant(images[key])).items():
            value = value.numpy()
            # Strings as fixed-width bytes: np.load refuses object arrays.
            results[key + "/" + name] = value.astype("S") if value.dtype == object else value
    np.savez(out_file, **results)
    assert "mrcnn" not in sys.modules, sorted(m for m in sys.modules if m.startswith("mrcnn"))
    print("no mrcnn")
""")


def mask_iou(a, b):
    a, b = a.astype(bool), b.astype(bool)
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else np.logical_and(a, b).sum() / union


def test_saved_model_without_mrcnn_matches_detect(exported_model, detector, tmp_path):
    export_dir, _, class_names = exported_model
    images_file = tmp_path / "images.npz"
    np.savez(images_file, **{f"image{i}": image for i, image in enumerate(IMAGES)})
    script = tmp_path / "serve.py"
    script.write_text(PARITY_SCRIPT)
    # From tmp_path, so that nothing of the checkout is importable by accident.
    done = subprocess.run([sys.executable, str(script), export_dir, str(images_file),
                           str(tmp_path / "out.npz")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no mrcnn" in done.stdout
    served = np.load(tmp_path / "out.npz")
    for i, image in enumerate(IMAGES):
        expected = detector.detect([image])[0]
        got = {name: served[f"image{i}/{name}"] for name in OUTPUTS}
        n = len(expected["class_ids"])
        assert n > 0 and got["num_detections"] == n
        assert got["boxes"].dtype == np.float32 and got["boxes"].shape == (n, 4)
        assert np.abs(got["boxes"] - expected["rois"]).max() <= 1
        np.testing.assert_array_equal(got["class_ids"], expected["class_ids"])
        np.testing.assert_allclose(got["scores"], expected["scores"], atol=1e-4)
        assert [c.decode() for c in got["class_names"]] == [class_names[c]
                                                            for c in expected["class_ids"]]
        assert got["masks"].dtype == np.uint8 and got["masks"].shape == (n,) + image.shape[:2]
        assert set(np.unique(got["masks"])) <= {0, 1}
        for k in range(n):
            assert mask_iou(got["masks"][k], expected["masks"][..., k]) >= 0.98


def test_signatures_have_the_documented_inputs_and_outputs(exported_model):
    loaded = tf.saved_model.load(exported_model[0])
    assert set(loaded.signatures) == set(SIGNATURES)
    dtypes = {"uint8": tf.uint8, "string": tf.string, "float32": tf.float32, "int32": tf.int32}
    for name, inputs in SIGNATURES.items():
        signature = loaded.signatures[name]
        specs = signature.structured_input_signature[1]
        assert {k: specs[k].dtype for k in specs} == {k: dtypes[d] for k, (d, _) in inputs.items()}
        outputs = signature.structured_outputs
        expected = {k: dtypes[d] for k, (d, _) in OUTPUTS.items()}
        assert {k: outputs[k].dtype for k in outputs} == expected
    image_spec = loaded.signatures["serving_default"].structured_input_signature[1]["image"]
    assert image_spec.shape.as_list() == [None, None, 3]


def test_png_bytes_give_the_image_result_and_jpeg_decodes(exported):
    image = IMAGES[1]
    direct = exported.predict(image)
    from_png = exported.predict_bytes(png_bytes(image))
    assert len(direct["scores"]) > 0
    for key in ("boxes", "class_ids", "scores", "masks"):
        np.testing.assert_array_equal(from_png[key], direct[key])
    assert from_png["class_names"] == direct["class_names"]
    from_jpeg = exported.predict_bytes(png_bytes(image, "JPEG"))
    assert from_jpeg["masks"].shape[1:] == image.shape[:2] and len(from_jpeg["scores"]) > 0
    with pytest.raises(ValueError, match="not an image"):
        exported.predict_bytes(b"not an image at all")


def test_threshold_signatures_keep_the_scores_above_it(exported):
    image = IMAGES[2]
    default = exported.predict(image)
    assert len(default["scores"]) >= 3
    # The config's value (0) gives the default signature's answer.
    same = exported.predict(image, score_threshold=0.0)
    np.testing.assert_array_equal(same["scores"], default["scores"])
    np.testing.assert_array_equal(same["masks"], default["masks"])
    cut = float(np.median(default["scores"]))
    kept = exported.predict(image, score_threshold=cut)
    above = default["scores"] >= cut
    assert 0 < len(kept["scores"]) < len(default["scores"])
    assert (kept["scores"] >= cut).all()
    np.testing.assert_array_equal(kept["scores"], default["scores"][above])
    np.testing.assert_array_equal(kept["boxes"], default["boxes"][above])
    np.testing.assert_array_equal(kept["masks"], default["masks"][above])
    assert len(exported.predict(image, score_threshold=1.01)["scores"]) == 0
    from_bytes = exported.predict_bytes(png_bytes(image), score_threshold=cut)
    np.testing.assert_array_equal(from_bytes["scores"], kept["scores"])


def test_class_names_are_the_names_of_the_class_ids(exported):
    result = exported.predict(IMAGES[0])
    assert exported.class_names == EXPORT_CLASS_NAMES
    assert result["class_names"] == [EXPORT_CLASS_NAMES[c] for c in result["class_ids"]]
    assert result["class_ids"].dtype == np.int32 and result["scores"].dtype == np.float32
    assert set(result["class_ids"]) <= {1, 2}


def test_the_json_asset_describes_the_export(exported_model, exported):
    export_dir, checkpoint, class_names = exported_model
    with open(os.path.join(export_dir, METADATA_FILE), encoding="utf-8") as f:
        metadata = json.load(f)
    assert metadata["class_names"] == class_names
    assert metadata["config"]["NUM_CLASSES"] == 3 and metadata["config"]["NAME"] == "export"
    assert metadata["config"]["IMAGE_MAX_DIM"] == 64
    assert metadata["dtype_policy"] == "float32"
    assert metadata["checkpoint"] == os.path.abspath(checkpoint) and metadata["epoch"] == 0
    assert metadata["tensorflow"] == tf.__version__ and metadata["keras"] == keras.__version__
    assert set(metadata["signatures"]) == set(SIGNATURES)
    assert metadata["signatures"]["serving_bytes_threshold"]["inputs"] == {
        "image_bytes": {"dtype": "string", "shape": "[]"},
        "score_threshold": {"dtype": "float32", "shape": "[]"}}
    assert metadata["signatures"]["serving_default"]["outputs"]["masks"] == {
        "dtype": "uint8", "shape": "[N, H, W]"}
    assert exported.config == metadata["config"]
    # Readable by a server running as another user (not mkdtemp's 0700).
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(export_dir).st_mode & 0o777 == 0o777 & ~umask


def test_export_refuses_a_folder_with_files_and_changes_nothing(detector, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty.*overwrite"):
        export_saved_model(detector, out, EXPORT_CLASS_NAMES)
    assert os.listdir(out) == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["taken"]
    with pytest.raises(ValueError, match="class names"):
        export_saved_model(detector, tmp_path / "new", ["BG", "disc"])


def test_cli_export_in_bfloat16_with_a_higher_floor(exported_model, tmp_path, capsys):
    """`mrcnn export` of the checkpoint under mixed_bfloat16 with
    DETECTION_MIN_CONFIDENCE raised: refused into a folder with files, then
    written with --overwrite; the export runs, and its threshold signature
    goes below the config's floor."""
    from mrcnn.cli import main

    _, checkpoint, class_names = exported_model
    out = tmp_path / "bf16"
    out.mkdir()
    (out / "old.txt").write_text("old")
    floor = 0.88
    argv = ["export", "--weights", checkpoint, "--out", str(out), "--logs", str(tmp_path / "logs"),
            "--set", "DTYPE_POLICY=mixed_bfloat16", "--set", f"DETECTION_MIN_CONFIDENCE={floor}"]
    with pytest.raises(SystemExit) as refused:
        main(argv)
    assert refused.value.code == 2
    assert "not empty" in capsys.readouterr().err and os.listdir(out) == ["old.txt"]

    assert main(argv + ["--overwrite"]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "serving_bytes_threshold(image_bytes string [], " in printed
    assert not (out / "old.txt").exists()
    assert sorted(os.listdir(tmp_path)) == ["bf16"]   # no staging folder left, no logs written

    exported = ExportedModel(out)
    assert exported.metadata["dtype_policy"] == "mixed_bfloat16"
    assert exported.metadata["config"]["DETECTION_MIN_CONFIDENCE"] == floor
    assert exported.class_names == class_names
    image = IMAGES[0]
    default = exported.predict(image)
    everything = exported.predict(image, score_threshold=0.0)
    assert np.isfinite(everything["scores"]).all() and len(everything["scores"]) > 0
    assert (default["scores"] >= floor).all()
    assert len(everything["scores"]) > len(default["scores"])
    np.testing.assert_array_equal(everything["scores"][everything["scores"] >= floor],
                                  default["scores"])


def test_pad64_export_matches_detect(exported_model, tmp_path):
    """IMAGE_RESIZE_MODE pad64: the molded size follows the image (64 x 64,
    64 x 128 after scaling 50 x 90 up, 128 x 64), in the graph as in detect()."""
    _, checkpoint, class_names = exported_model

    class Pad64Config(ExportConfig):
        IMAGE_RESIZE_MODE = "pad64"

    model = load_checkpoint(checkpoint, Pad64Config())
    out = export_saved_model(model, tmp_path / "pad64", class_names, checkpoint=checkpoint)
    exported = ExportedModel(out)
    assert exported.config["IMAGE_RESIZE_MODE"] == "pad64"
    for image in IMAGES:
        expected = model.detect([image])[0]
        got = exported.predict(image)
        n = len(expected["class_ids"])
        assert n > 0 and len(got["class_ids"]) == n
        assert np.abs(got["boxes"] - expected["rois"]).max() <= 1
        np.testing.assert_allclose(got["scores"], expected["scores"], atol=1e-4)
        for k in range(n):
            assert mask_iou(got["masks"][k], expected["masks"][..., k]) >= 0.98


def test_auto_exports_float32_whatever_this_machine_computes(exported_model, tmp_path,
                                                            monkeypatch):
    """DTYPE_POLICY "auto" on a machine that chose bfloat16: the model
    computes in bfloat16, its export in float32 (the serving machine is
    another), with the float32 network's detections."""
    _, checkpoint, class_names = exported_model
    monkeypatch.setenv("MRCNN_AUTO_DTYPE_POLICY", "mixed_bfloat16")

    class AutoConfig(ExportConfig):
        DTYPE_POLICY = "auto"

    model = load_checkpoint(checkpoint, AutoConfig())
    assert model.keras_model.get_layer("mrcnn_mask_conv1").compute_dtype == "bfloat16"
    exported = ExportedModel(export_saved_model(model, tmp_path / "auto", class_names))
    assert exported.metadata["dtype_policy"] == "float32"
    assert exported.config["DTYPE_POLICY"] == "float32"
    float32_model = load_checkpoint(checkpoint)
    for image in IMAGES[:2]:
        expected = float32_model.detect([image])[0]
        got = exported.predict(image)
        assert len(got["scores"]) == len(expected["scores"]) > 0
        np.testing.assert_allclose(got["scores"], expected["scores"], atol=1e-4)


def test_cli_export_of_auto_is_float32_and_says_so(exported_model, tmp_path, capsys, caplog,
                                                   monkeypatch):
    """`mrcnn export` of a checkpoint whose DTYPE_POLICY is "auto", on a
    machine where it means bfloat16: float32, built once, and the command
    says how to export bfloat16."""
    from mrcnn.cli import main

    _, checkpoint, _ = exported_model
    monkeypatch.setenv("MRCNN_AUTO_DTYPE_POLICY", "mixed_bfloat16")
    out = tmp_path / "auto"
    assert main(["export", "--weights", checkpoint, "--out", str(out), "--logs",
                 str(tmp_path / "logs"), "--set", "DTYPE_POLICY=auto"]) == 0
    printed = capsys.readouterr().out
    assert "Exporting in float32 (DTYPE_POLICY 'auto' chooses by the machine" in printed
    assert "--set DTYPE_POLICY=mixed_bfloat16 exports bfloat16" in printed
    # Printed, or logged where the log shows mrcnn's INFO lines.
    assert "Computing in float32 (DTYPE_POLICY)" in printed + caplog.text
    assert "(float32, 2 classes)" in printed
    assert ExportedModel(out).metadata["dtype_policy"] == "float32"
