"""Install mrcnn: Mask R-CNN for Keras 3 on TensorFlow."""
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_requirements():
    with open(os.path.join(HERE, "requirements.txt")) as f:
        lines = (line.split("#")[0].strip() for line in f)
        return [line for line in lines if line]


REQUIREMENTS = read_requirements()

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
        "test": ["pytest>=7", "pytest-timeout", "nbclient", "nbformat", "ipykernel",
                 # mrcnn serve: HTTP client and the browser test (Debian's chromium)
                 "requests>=2.31", "selenium>=4.20"],
        # The GPU build replaces the CPU wheel; install with --no-deps on
        # tensorflow-cpu if both end up present.
        "gpu": ["tensorflow[and-cuda]==2.21.0"],
        "imgaug": ["imgaug==0.4.0"],
    },
    entry_points={"console_scripts": ["mrcnn=mrcnn.cli:main"]},
    license="MIT",
)
