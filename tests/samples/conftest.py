"""Sample tests import the samples from their files (samples/ is not a
package) and share tests/cli's data writers."""
import importlib.util
import os
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(TESTS, "cli") not in sys.path:
    sys.path.insert(0, os.path.join(TESTS, "cli"))

REPO = os.path.dirname(TESTS)
SAMPLES = ("balloon", "gns", "pumpkins", "simpsons", "shapes", "coco")


def import_sample(name):
    """The module samples/<name>/<name>.py (imported once)."""
    module_name = f"sample_{name}"
    if module_name not in sys.modules:
        path = os.path.join(REPO, "samples", name, f"{name}.py")
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


@pytest.fixture
def sample():
    return import_sample
