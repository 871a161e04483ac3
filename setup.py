"""Install mrcnn: Mask R-CNN for Keras 3 on TensorFlow."""
import importlib.metadata
import os
import re
import subprocess
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.develop import develop

HERE = os.path.dirname(os.path.abspath(__file__))

# Puts mrcnn.imgaug_numpy2's import hook on sys.meta_path at interpreter start
# (imgaug 0.4.0 on NumPy 2, in any import order); it goes to the root of
# site-packages, which package_data cannot reach.
PTH_FILE = "mrcnn-imgaug-numpy2.pth"


def pth_source():
    path = os.path.join(HERE, PTH_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing; restore it from the mrcnn repository")
    return path


class BuildPyWithPth(build_py):
    """Regular wheels and `pip install .`: the .pth file goes into build_lib."""

    def run(self):
        super().run()
        self.copy_file(pth_source(), os.path.join(self.build_lib, PTH_FILE), preserve_mode=0)


class DevelopWithPth(develop):
    """`pip install -e .` by `setup.py develop` (pip without PEP 660 for a
    project with no pyproject.toml): the .pth file goes next to the egg-link."""

    def run(self):
        super().run()
        if not hasattr(self, "egg_link"):
            return  # setuptools >= 80 runs `pip install -e`: the editable wheel has the .pth
        target = os.path.join(self.install_dir, PTH_FILE)
        if self.uninstall:
            if os.path.exists(target):
                os.remove(target)
        else:
            self.copy_file(pth_source(), target, preserve_mode=0)


CMDCLASS = {"build_py": BuildPyWithPth, "develop": DevelopWithPth}

try:
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # setuptools < 64: no PEP 660 editable wheels
    pass
else:
    class EditableWheelWithPth(editable_wheel):
        """`pip install -e .` by PEP 660: the editable wheel's build_py output
        is not installed, so the .pth file is added to the wheel's root, where
        setuptools itself puts the .pth files of namespace packages."""

        def _install_namespaces(self, installation_dir, pth_prefix):
            super()._install_namespaces(installation_dir, pth_prefix)
            self.copy_file(pth_source(), os.path.join(installation_dir, PTH_FILE),
                           preserve_mode=0)

    CMDCLASS["editable_wheel"] = EditableWheelWithPth


# Distributions that install the `tensorflow` package; `tensorflow` first, as
# on Windows and macOS it can be installed with tensorflow-intel or -macos.
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel",
                            "tensorflow-macos", "tensorflow-rocm", "intel-tensorflow",
                            "tf-nightly", "tf-nightly-cpu")


def installed_tensorflow():
    """The name of the distribution that provides TensorFlow in the environment
    being installed into (e.g. "tensorflow-cpu", or "tensorflow" for a GPU build
    or Colab's), or None when there is none.

    pip matches requirements by distribution name: requiring `tensorflow` where
    tensorflow-cpu is installed would download the other wheel and install it
    over the same `tensorflow` folder. pip's isolated builds (PEP 517/660) run
    this file with the environment's interpreter but take its site-packages off
    sys.path (a sitecustomize on PYTHONPATH), so when this process sees none,
    the interpreter is asked again with -E (environment variables ignored)."""
    for name in TENSORFLOW_DISTRIBUTIONS:
        if next(importlib.metadata.distributions(name=name), None) is not None:
            return name
    probe = ("import importlib.metadata as m, sys\n"
             "print(next((n for n in sys.argv[1:] if next(m.distributions(name=n), 0)), ''))")
    done = subprocess.run([sys.executable, "-E", "-c", probe, *TENSORFLOW_DISTRIBUTIONS],
                          capture_output=True, text=True, timeout=120)
    found = done.stdout.split()[-1:]
    return found[0] if found and found[0] in TENSORFLOW_DISTRIBUTIONS else None


def read_requirements(tensorflow="tensorflow"):
    """requirements.txt's lines, the one of `tensorflow` naming the distribution
    `tensorflow` instead, with the same versions (a nightly with none: the
    range excludes its dev versions)."""
    with open(os.path.join(HERE, "requirements.txt")) as f:
        lines = [line.split("#")[0].strip() for line in f]
    requirements = [line for line in lines if line]
    for i, line in enumerate(requirements):
        if re.match(r"tensorflow\s*[<>=!~]", line):
            versions = "" if tensorflow.startswith("tf-") else line[len("tensorflow"):].strip()
            requirements[i] = tensorflow + versions
    return requirements


TENSORFLOW = installed_tensorflow() or "tensorflow"
REQUIREMENTS = read_requirements(TENSORFLOW)
# [gpu] adds TensorFlow's CUDA libraries (Linux) to the `tensorflow`
# distribution, the one that can use them; never a second distribution beside
# a CPU-only one (docs/install.md: uninstall tensorflow-cpu first).
GPU = [line for line in read_requirements("tensorflow[and-cuda]")
       if line.startswith("tensorflow[")] if TENSORFLOW == "tensorflow" else []

setup(
    name="mrcnn",
    version="0.1.0",
    description="Mask R-CNN instance segmentation for Keras 3 on TensorFlow",
    long_description=open(os.path.join(HERE, "README.md")).read()
    if os.path.exists(os.path.join(HERE, "README.md")) else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mrcnn", "mrcnn.*"]),
    package_data={"mrcnn.serving": ["static/*.html"]},
    python_requires=">=3.10",
    install_requires=REQUIREMENTS,
    extras_require={
        "test": ["pytest>=7", "pytest-timeout",
                 # the default run splits the test files over two processes
                 "pytest-xdist>=3", "nbclient", "nbformat", "ipykernel",
                 # mrcnn serve: HTTP client and the browser test (Debian's chromium)
                 "requests>=2.31", "selenium>=4.20",
                 # so that the imgaug tests run instead of skipping
                 "imgaug==0.4.0"],
        "gpu": GPU,
        # Optional: unmaintained since 2020, and it pulls in opencv-python
        # beside our opencv-python-headless (both provide cv2).
        "imgaug": ["imgaug==0.4.0"],
    },
    entry_points={"console_scripts": ["mrcnn=mrcnn.cli:main"]},
    cmdclass=CMDCLASS,
    license="MIT",
)
