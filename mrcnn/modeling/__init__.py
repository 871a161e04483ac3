"""The stages of the Mask R-CNN network, one module each."""
