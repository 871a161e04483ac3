"""Ctrl-C that always stops training.

Python raises KeyboardInterrupt wherever the main thread is when SIGINT
arrives. When that is a finalizer (the __del__ of an HDF5 or TensorFlow
object, run by the garbage collector in the middle of a step), Python prints
"Exception ignored in ..." and the program goes on: training would continue
as if Ctrl-C had not been pressed. So the handler also records the
interrupt, and a callback raises it again at the next batch or epoch end.
"""
import signal
import threading

import keras


class InterruptGuard(keras.callbacks.Callback):
    """A context manager that handles SIGINT while it is entered (in the
    main thread; elsewhere it does nothing), and the fit() callback that
    raises KeyboardInterrupt at the first batch or epoch end after one,
    should the handler's own have been swallowed."""

    def __init__(self):
        super().__init__()
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _handle(self, signum, frame):
        self.requested = True
        raise KeyboardInterrupt

    def _raise_if_requested(self, *args, **kwargs):
        if self.requested:
            raise KeyboardInterrupt

    on_train_batch_end = _raise_if_requested
    on_test_batch_end = _raise_if_requested
    on_epoch_end = _raise_if_requested
