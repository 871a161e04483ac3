"""From-scratch training learns: the acceptance runs of the core issue.

Each takes from 12 minutes to an hour on a 2-core CPU, so they are marked
slow: `python -m pytest -m slow` (the release check), not the default run.
The timeouts only stop a hung run; they leave room for a busy machine.
"""
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(args, cwd, timeout):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    result = subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_matterport_style_script_learns_from_scratch(tmp_path):
    """8 epochs x 50 steps x 2 images of 128 px, ResNet-101 and the default
    learning rate, as a matterport user's script has them: mAP@0.5 >= 0.85."""
    out = run([os.path.join(ROOT, "tests", "e2e", "matterport_style_script.py"),
               str(tmp_path / "logs")], cwd=str(tmp_path), timeout=120 * 60)
    score = float(out.strip().splitlines()[-1].split(":")[1])
    print(f"matterport-style script mAP@0.5 = {score:.3f}")
    assert score >= 0.85


@pytest.mark.slow
def test_shapes_sample_trains_and_evaluates(tmp_path):
    """`shapes.py train` then `evaluate`, from another working directory: the
    sample's default run (12 epochs x 100 steps x 2 images: 12.5-15 minutes
    in float32, 7.7-7.9 in bfloat16 on a CPU with AVX512_BF16) reaches mAP@0.5
    >= 0.8 on its held-out images."""
    script = os.path.join(ROOT, "samples", "shapes", "shapes.py")
    logs = str(tmp_path / "logs")
    started = time.monotonic()
    run([script, "train", "--logs", logs], cwd=str(tmp_path), timeout=90 * 60)
    # Reported for the 15-minute budget, never asserted (shared machines).
    print(f"shapes sample training took {(time.monotonic() - started) / 60:.1f} minutes")
    out = run([script, "evaluate", "--logs", logs], cwd=str(tmp_path), timeout=10 * 60)
    found = re.search(r"mAP@0\.5 over \d+ held-out images: ([0-9.]+)", out)
    assert found, out[-2000:]
    score = float(found.group(1))
    print(f"shapes sample mAP@0.5 = {score:.3f}")
    assert score >= 0.8
