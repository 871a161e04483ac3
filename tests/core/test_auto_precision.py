"""Config.DTYPE_POLICY "auto": the policy the hardware computes fastest,
chosen once per process, logged when the network is built and recorded in
its checkpoints."""
import logging

import h5py
import keras
import pytest
from tiny import TinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn.modeling import precision
from mrcnn.modeling.precision import choose_policy, cpu_flags, resolve_precision


@pytest.mark.parametrize("gpus, flags, policy", [
    ([(8, 0)], set(), "mixed_bfloat16"),
    ([(9, 0), (8, 6)], set(), "mixed_bfloat16"),
    # The slowest GPU decides: a replica in bfloat16 beside one without it
    # would compute different things.
    ([(8, 6), (7, 5)], set(), "mixed_float16"),
    ([(7, 0)], {"avx512_bf16"}, "mixed_float16"),
    ([(6, 1)], {"avx512_bf16"}, "float32"),
    ([None], set(), "float32"),
    ([], {"avx2", "avx512f", "avx512_bf16"}, "mixed_bfloat16"),
    ([], {"avx2", "amx_bf16", "amx_tile"}, "mixed_bfloat16"),
    ([], {"avx2", "avx512f"}, "float32"),
    ([], set(), "float32"),
])
def test_auto_chooses_by_the_hardware(gpus, flags, policy):
    chosen, reason = choose_policy(gpus, flags)
    assert chosen == policy
    assert reason


def test_cpu_flags_read_x86_and_arm_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nmodel name\t: AMD EPYC\n"
                   "flags\t\t: fpu AVX2 avx512f avx512_bf16\n\nprocessor\t: 1\n")
    assert {"avx512_bf16", "avx2", "fpu"} <= cpu_flags(str(x86))
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 sve\n")
    assert "bf16" in cpu_flags(str(arm))
    # ARM's bf16 is not one "auto" takes: only x86's AVX512_BF16 and AMX.
    assert choose_policy([], cpu_flags(str(arm)))[0] == "float32"
    assert cpu_flags(str(tmp_path / "absent")) == frozenset()


def test_a_set_policy_is_taken_as_it_is(monkeypatch):
    monkeypatch.setattr(precision, "_hardware_choice", lambda: pytest.fail("hardware probed"))
    chosen = resolve_precision("mixed_float16")
    assert (chosen.policy, chosen.setting) == ("mixed_float16", "mixed_float16")
    assert chosen.describe() == "mixed_float16 (DTYPE_POLICY)"


def test_the_environment_variable_overrides_what_auto_finds(monkeypatch):
    monkeypatch.setenv("MRCNN_AUTO_DTYPE_POLICY", "float32")
    assert resolve_precision("auto").policy == "float32"
    # It only replaces "auto": a policy set in the config stays.
    assert resolve_precision("mixed_bfloat16").policy == "mixed_bfloat16"
    monkeypatch.setenv("MRCNN_AUTO_DTYPE_POLICY", "bfloat16")
    with pytest.raises(ValueError, match="MRCNN_AUTO_DTYPE_POLICY is 'bfloat16'; use one of"):
        resolve_precision("auto")


class AutoConfig(TinyConfig):
    DTYPE_POLICY = "auto"


@pytest.mark.parametrize("found, compute", [
    (("mixed_bfloat16", "this CPU has AVX512_BF16"), "bfloat16"),
    (("float32", "this CPU has no bfloat16 instructions"), "float32"),
])
def test_a_network_built_with_auto_computes_what_the_hardware_chose(
        monkeypatch, tmp_path, caplog, found, compute):
    monkeypatch.delenv("MRCNN_AUTO_DTYPE_POLICY", raising=False)
    monkeypatch.setattr(precision, "_hardware_choice", lambda: found)
    keras.utils.set_random_seed(0)
    model = modellib.MaskRCNN("training", AutoConfig(), str(tmp_path))
    with caplog.at_level(logging.INFO, logger="mrcnn"):
        model.keras_model
    assert model.keras_model.get_layer("mrcnn_mask_conv1").compute_dtype == compute
    assert model.keras_model.get_layer("mrcnn_class_logits").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"
    assert f"Computing in {found[0]} (DTYPE_POLICY 'auto': {found[1]})" in caplog.text
    model.train(tiny_dataset(2), None, learning_rate=0.01, epochs=1, layers="heads")
    with h5py.File(model.find_last(), "r") as f:
        assert f.attrs["mrcnn_dtype_policy"] == found[0]
        # The run's config keeps the setting, so another machine chooses anew.
        assert "DTYPE_POLICY: auto" in f.attrs["mrcnn_config"]
