"""Overlap reading files with the model: decode the next images in threads
while the current one is detected, and write results in a thread while the
next one is.

Decoding (Pillow), PNG and JPEG encoding and TensorFlow's kernels release
the GIL, so threads run them beside the model. Used by `mrcnn predict`
(mrcnn/commands/predict.py) and MaskRCNN.evaluate (mrcnn/evaluation.py).
"""
import collections
import concurrent.futures

# Images decoded ahead of the model, and drawings waiting to be written
# (`mrcnn predict --read-ahead`).
DEPTH = 4


def read_ahead(load, keys, depth=DEPTH, workers=2):
    """Yields (key, value, error) for each of `keys` in order, where value
    is load(key), computed up to `depth` keys ahead by `workers` threads.

    error: the exception load(key) raised (value None then); the caller
    decides what a failed read means. At most depth + 1 values are held.
    depth 0: no thread, each key loaded when its turn comes.
    """
    if depth <= 0:
        for key in keys:
            try:
                yield key, load(key), None
            except Exception as e:  # handed to the caller, as below
                yield key, None, e
        return
    keys = iter(keys)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                               thread_name_prefix="read-ahead") as pool:
        pending = collections.deque()

        def submit_next():
            for key in keys:
                pending.append((key, pool.submit(load, key)))
                return

        for _ in range(max(1, depth)):
            submit_next()
        try:
            while pending:
                key, future = pending.popleft()
                submit_next()
                try:
                    value = future.result()
                except Exception as e:  # handed to the caller, which names the file
                    yield key, None, e
                else:
                    yield key, value, None
        finally:
            for _, future in pending:
                future.cancel()


class BackgroundWriter:
    """Runs write functions one after another in a thread, at most `depth`
    waiting, so that drawing and encoding overlap the next detection.

    submit(fn, *args) queues fn(*args); an exception it raised is raised
    again by the next submit() or by close(). Use as a context manager:
    leaving it waits for every write. depth 0: each write runs in submit().
    """

    def __init__(self, depth=DEPTH):
        self.depth = depth
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                           thread_name_prefix="writer")
        self._pending = collections.deque()

    def submit(self, fn, *args):
        if self.depth <= 0:
            fn(*args)
            return
        while len(self._pending) >= self.depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(fn, *args))

    def close(self):
        """Wait for every write; raise the first that failed."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._stop()

    def _stop(self):
        """Drop the writes not started; wait for those running."""
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            # The original error is the one to report.
            self._stop()
        return False
