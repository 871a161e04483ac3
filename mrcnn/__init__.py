"""mrcnn: Mask R-CNN instance segmentation for Keras 3 on TensorFlow."""
import os

# TensorFlow's C++ warnings (grappler cost-model notes on CropAndResize, CPU
# feature lines) are noise to a user; set before TensorFlow is imported.
# Export TF_CPP_MIN_LOG_LEVEL=0 to see them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
