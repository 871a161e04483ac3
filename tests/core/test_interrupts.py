"""Ctrl-C stops training even when Python swallows its KeyboardInterrupt."""
import os
import signal

import keras
import numpy as np
import pytest

from mrcnn.training.interrupts import InterruptGuard


class Finalized:
    """An object whose finalizer receives the SIGINT: the KeyboardInterrupt
    raised inside __del__ is printed as "Exception ignored" and lost."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))  # bytecode after the signal: the handler runs here


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, batch):
        super().__init__()
        self.batch, self.ends = batch, []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(batch)
        if batch == self.batch:
            Finalized()


def fit(callbacks):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((8, 1), np.float32)
    model.fit(x, x, batch_size=1, epochs=1, callbacks=callbacks, verbose=0)


# The interrupt lost in __del__ is what pytest reports as unraisable.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_swallowed_interrupt_stops_fit_at_the_next_batch():
    previous = signal.getsignal(signal.SIGINT)
    # Without the callback, the swallowed interrupt leaves training running.
    probe = InterruptAt(2)
    with InterruptGuard() as guard:
        fit([probe])
    assert guard.requested and probe.ends == list(range(8))
    # With it, training stops at the batch the interrupt came in.
    probe = InterruptAt(2)
    with InterruptGuard() as guard, pytest.raises(KeyboardInterrupt):
        fit([probe, guard])
    assert probe.ends == [0, 1, 2]
    assert signal.getsignal(signal.SIGINT) is previous
