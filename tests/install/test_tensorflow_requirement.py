"""`pip install -e .` keeps the TensorFlow an environment already has: setup.py
requires the installed distribution (tensorflow-cpu, a GPU build named
`tensorflow`, Colab's) with requirements.txt's tested range, and `tensorflow`
only where there is none.

Each case is a fresh venv without pip or system site-packages, holding
stand-in distributions (a METADATA file each) for the TensorFlow under test and
for every other requirement, and this interpreter's setuptools. pip runs in it
(`pip --python`) with --dry-run --no-index: its report says what it would
install from a folder of stand-in TensorFlow wheels. No network."""
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SETUP_FILES = ("setup.py", "requirements.txt", "README.md", "mrcnn-imgaug-numpy2.pth")

with open(os.path.join(ROOT, "requirements.txt")) as _f:
    REQUIREMENTS = [line.split("#")[0].strip() for line in _f if line.split("#")[0].strip()]
_LOW, _HIGH = re.fullmatch(r"tensorflow>=([\d.]+),<([\d.]+)",
                           next(r for r in REQUIREMENTS if r.startswith("tensorflow"))).groups()
OLDEST = _LOW              # in range: the oldest claimed
NEWER = _LOW + ".1"        # in range, newer: what pip would pick
TOO_NEW = _HIGH            # past the range
TOO_OLD = "2.15.1"         # Keras 2's TensorFlow
RANGE = SpecifierSet(f">={_LOW},<{_HIGH}")


def _pip_runs_python_option():
    """pip >= 22.3 runs in another environment with --python."""
    from pip import __version__
    return tuple(int(p) for p in __version__.split(".")[:2]) >= (22, 3)


pytestmark = pytest.mark.skipif(
    not _pip_runs_python_option() or importlib.util.find_spec("setuptools") is None,
    reason="needs pip >= 22.3 and setuptools in this interpreter")


def _dist_info(name, version):
    return f"{name.replace('-', '_')}-{version}.dist-info"


def _metadata(name, version):
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"


def _wheel(folder, name, version):
    info = _dist_info(name, version)
    path = os.path.join(folder, f"{name.replace('-', '_')}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(f"{info}/METADATA", _metadata(name, version))
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\n"
                                      "Root-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", f"{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")


def _env(tmp_path, name, installed):
    """A venv holding stand-ins of `installed` ({distribution: version}) and of
    the other requirements, setuptools reachable through a .pth file; its python."""
    home = tmp_path / name
    venv.EnvBuilder(symlinks=os.name != "nt", with_pip=False).create(home)
    python = str(home / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    others = {re.match(r"[A-Za-z0-9._-]+", r)[0]: (re.findall(r"(?:>=|==)([\d.]+)", r) + ["1.0"])[0]
              for r in REQUIREMENTS if not r.startswith("tensorflow")}
    for dist, version in {**others, **installed}.items():
        os.makedirs(os.path.join(site, _dist_info(dist, version)))
        with open(os.path.join(site, _dist_info(dist, version), "METADATA"), "w") as f:
            f.write(_metadata(dist, version))
    tools = tmp_path / f"{name}-tools"
    tools.mkdir()
    for module in ("setuptools", "pkg_resources", "_distutils_hack", "wheel"):
        spec = importlib.util.find_spec(module)
        if spec is not None:
            folder = os.path.dirname(spec.origin)
            # with the .dist-info folder: setuptools' commands are its entry points
            for path in [folder] + glob.glob(os.path.join(folder + "-*.dist-info")):
                os.symlink(path, tools / os.path.basename(path))
    with open(os.path.join(site, "tools.pth"), "w") as f:
        f.write(f"{tools}\n")
    return python


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the files setup.py reads, and a folder of stand-in wheels:
    tensorflow and tensorflow-cpu in range and past it."""
    root = tmp_path_factory.mktemp("project")
    for name in SETUP_FILES:
        shutil.copy(os.path.join(ROOT, name), root / name)
    wheels = tmp_path_factory.mktemp("wheels")
    for dist in ("tensorflow", "tensorflow-cpu"):
        for version in (OLDEST, NEWER, TOO_NEW):
            _wheel(wheels, dist, version)
    return root, wheels


def _clean_environ():
    """No pip configuration, index or PYTHONPATH of this machine or session."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _pip_would_install(python, project):
    """pip's dry-run report for `pip install -e .[gpu]` in that venv:
    ({distribution: version} it would install besides mrcnn, mrcnn's requirements)."""
    root, wheels = project
    report = os.path.join(os.path.dirname(python), "report.json")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--dry-run", "--quiet",
         "--no-index", "--find-links", str(wheels), "--no-build-isolation",
         "--report", report, "-e", f"{root}[gpu]"],
        capture_output=True, text=True, timeout=120, env=_clean_environ(), cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(report) as f:
        items = json.load(f)["install"]
    mrcnn = next(item for item in items if item["metadata"]["name"] == "mrcnn")
    return ({item["metadata"]["name"]: item["metadata"]["version"]
             for item in items if item is not mrcnn},
            mrcnn["metadata"].get("requires_dist", []))


def _tensorflow_requirements(requires):
    """(distribution[extras], versions, marker) of each TensorFlow requirement."""
    found = [Requirement(r) for r in requires if re.match(r"t(ensor)?f", r)]
    return sorted(((r.name + "".join(f"[{e}]" for e in sorted(r.extras)), r.specifier,
                    str(r.marker or "")) for r in found), key=str)


def test_a_venv_with_tensorflow_in_range_keeps_it_and_gets_no_tensorflow_cpu(tmp_path, project):
    """The done-when of issue 17: a GPU build (`tensorflow`) already installed."""
    python = _env(tmp_path, "gpu", {"tensorflow": OLDEST})
    installs, requires = _pip_would_install(python, project)
    assert installs == {}
    # [gpu] asks for TensorFlow's CUDA libraries, on the same distribution
    assert _tensorflow_requirements(requires) == [
        ("tensorflow", RANGE, ""), ("tensorflow[and-cuda]", RANGE, 'extra == "gpu"')]


def test_a_venv_with_tensorflow_cpu_gets_no_tensorflow_even_with_the_gpu_extra(tmp_path, project):
    """This machine's and CI's case: no 600 MB download of a second TensorFlow."""
    python = _env(tmp_path, "cpu", {"tensorflow-cpu": NEWER})
    installs, requires = _pip_would_install(python, project)
    assert installs == {}
    assert _tensorflow_requirements(requires) == [("tensorflow-cpu", RANGE, "")]


def test_a_venv_without_tensorflow_gets_tensorflow_in_range(tmp_path, project):
    python = _env(tmp_path, "none", {})
    installs, requires = _pip_would_install(python, project)
    assert installs == {"tensorflow": NEWER}
    assert _tensorflow_requirements(requires) == [
        ("tensorflow", RANGE, ""), ("tensorflow[and-cuda]", RANGE, 'extra == "gpu"')]


def test_a_tensorflow_older_than_the_range_is_upgraded_not_joined(tmp_path, project):
    """The range holds for the distribution found, as for any requirement."""
    python = _env(tmp_path, "old", {"tensorflow": TOO_OLD})
    installs, _ = _pip_would_install(python, project)
    assert installs == {"tensorflow": NEWER}


def test_the_environment_is_found_when_the_build_cannot_see_it(tmp_path, project):
    """pip's isolated builds (PEP 517/660, newer pips) run setup.py with the
    environment's interpreter but without its site-packages on sys.path; here
    -S plays that part."""
    root, _ = project
    python = _env(tmp_path, "isolated", {"tensorflow-cpu": OLDEST})
    tools = str(tmp_path / "isolated-tools")
    egg_base = tmp_path / "egg-base"
    egg_base.mkdir()
    script = ("import importlib.metadata as m, sys\n"
              f"sys.path.append({tools!r})\n"
              "assert next(m.distributions(name='tensorflow-cpu'), None) is None\n"
              f"sys.argv = ['setup.py', '-q', 'egg_info', '--egg-base', {str(egg_base)!r}]\n"
              "exec(compile(open('setup.py').read(), 'setup.py', 'exec'),\n"
              f"     {{'__file__': {str(root / 'setup.py')!r}, '__name__': '__main__'}})\n")
    done = subprocess.run([python, "-S", "-c", script], cwd=root, capture_output=True, text=True,
                          timeout=120, env=_clean_environ())
    assert done.returncode == 0, done.stderr[-3000:]
    requires = (egg_base / "mrcnn.egg-info" / "requires.txt").read_text().split("\n[")[0]
    assert _tensorflow_requirements(requires.split()) == [("tensorflow-cpu", RANGE, "")]
