"""mrcnn.imgaug_numpy2: the numpy names imgaug 0.4.0 needs, defined only where
missing, by a sys.meta_path finder that acts on imgaug's first import and
then leaves. Runs without imgaug (a stand-in package plays it)."""
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from mrcnn import imgaug_numpy2 as hook

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture
def fake_numpy(monkeypatch):
    """A numpy module without sctypes/complex/bool, imported by the hook."""
    fake = types.ModuleType("numpy")
    for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "longdouble", "complex64", "complex128",
                 "clongdouble", "void", "bool_"):
        setattr(fake, name, getattr(np, name))
    monkeypatch.setitem(sys.modules, "numpy", fake)
    return fake


@pytest.fixture
def meta_path(monkeypatch):
    """sys.meta_path without the finder, restored afterwards; imgaug not imported."""
    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path
                                           if not getattr(f, "MRCNN_IMGAUG_NUMPY2", False)])
    monkeypatch.delitem(sys.modules, "imgaug", raising=False)


def test_aliases_are_defined_only_where_missing(fake_numpy):
    fake_numpy.bool = "numpy's own"
    assert hook.define_numpy_aliases() == ["complex", "sctypes"]
    assert fake_numpy.bool == "numpy's own" and fake_numpy.complex is complex
    assert fake_numpy.sctypes["float"] == [np.float16, np.float32, np.float64, np.longdouble]
    assert fake_numpy.sctypes["uint"][0] is np.uint8
    assert hook.define_numpy_aliases() == []


def test_the_finder_acts_on_imgaug_only_and_leaves(fake_numpy, meta_path, monkeypatch):
    monkeypatch.setattr(hook, "_findable", lambda name: True)
    hook.install()
    hook.install()
    finders = [f for f in sys.meta_path if getattr(f, "MRCNN_IMGAUG_NUMPY2", False)]
    assert len(finders) == 1 and sys.meta_path[0] is finders[0]
    assert finders[0].find_spec("imgaug_extension") is None
    assert finders[0].find_spec("numpy.linalg") is None
    assert hook.installed() and not hasattr(fake_numpy, "sctypes")
    during = sys.meta_path
    assert finders[0].find_spec("imgaug") is None  # the usual finders load it
    assert not hook.installed() and hasattr(fake_numpy, "sctypes")
    # The import in progress iterates over the old list: no finder after it is skipped.
    assert during[0] is finders[0]


def test_a_probe_for_a_missing_imgaug_leaves_numpy_alone(fake_numpy, meta_path, monkeypatch):
    monkeypatch.setattr(hook, "_findable", lambda name: False)
    hook.install()
    assert sys.meta_path[0].find_spec("imgaug") is None
    assert not hook.installed() and not hasattr(fake_numpy, "sctypes")


# imgaug 0.4.0 reads np.sctypes at import; this stand-in does the same, and
# a recording finder placed after the hook checks that it is still asked.
FAKE_IMGAUG = "import numpy as np\nFLOATS = set(np.sctypes['float'])\nCOMPLEX = np.complex\n"

SCRIPT = f'''
import sys
sys.meta_path = [f for f in sys.meta_path if not getattr(f, "MRCNN_IMGAUG_NUMPY2", False)]
sys.path[:0] = [{{fake!r}}, {ROOT!r}]
from mrcnn.imgaug_numpy2 import install, installed

class Recorder:
    seen = []

    def find_spec(self, name, path=None, target=None):
        self.seen.append(name)

sys.meta_path.insert(0, Recorder())
install()
assert "numpy" not in sys.modules, "install() imported numpy"
import imgaug
import numpy as np
assert not installed() and "imgaug" in Recorder.seen
assert np.float64 in imgaug.FLOATS and imgaug.COMPLEX is complex
if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
    assert np.bool is np.bool_, "np.bool was replaced"
print("OK")
'''


def test_a_fresh_interpreter_imports_an_imgaug_that_reads_np_sctypes(tmp_path):
    (tmp_path / "imgaug").mkdir()
    (tmp_path / "imgaug" / "__init__.py").write_text(FAKE_IMGAUG)
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(fake=str(tmp_path))],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "OK"


def test_the_pth_line_installs_the_hook_without_importing_mrcnn_or_numpy(tmp_path):
    """The .pth file's import line, run as site.py runs it, with the checkout
    standing in for an installed mrcnn; and silent when mrcnn is gone."""
    with open(os.path.join(ROOT, hook.PTH_FILE)) as f:
        lines = [line for line in f if line.startswith("import")]
    assert len(lines) == 1
    check = ("import sys\n"
             "sys.meta_path = [f for f in sys.meta_path\n"
             "                 if not getattr(f, 'MRCNN_IMGAUG_NUMPY2', 0)]\n"
             "sys.path[:] = [p for p in sys.path if p not in ('', {cwd!r})]\n"
             "{prepend}"
             f"exec({lines[0]!r})\n"
             "print(any(getattr(f, 'MRCNN_IMGAUG_NUMPY2', 0) for f in sys.meta_path),\n"
             "      sorted(m for m in ('mrcnn', 'numpy') if m in sys.modules))\n")
    for prepend, expected in [(f"sys.path.insert(0, {ROOT!r})\n", "True []"),
                              ("", "False []")]:
        done = subprocess.run(
            [sys.executable, "-S", "-c", check.format(cwd=str(tmp_path), prepend=prepend)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        assert done.returncode == 0 and done.stderr == "", done.stderr[-3000:]
        assert done.stdout.strip() == expected
