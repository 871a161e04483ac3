"""Datasets: the base class, format readers, validation and the input pipeline."""
from mrcnn.data.dataset import Dataset  # noqa: F401
