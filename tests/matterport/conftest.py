"""The matterport session tests build their weight file with tests/core/tiny.py."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "core"))
