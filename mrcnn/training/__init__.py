"""Training machinery: layer selection, optimizer, callbacks, resume."""
