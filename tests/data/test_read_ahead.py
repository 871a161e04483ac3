"""mrcnn.data.read_ahead: images decode ahead of the model in threads, in
order, a bad file is reported at its place, and writes finish before the
command says it is done."""
import threading
import time

import pytest

from mrcnn.data.read_ahead import BackgroundWriter, read_ahead


def test_values_come_in_order_while_later_ones_load_beside():
    started = []
    lock = threading.Lock()

    def load(key):
        with lock:
            started.append(key)
        # Earlier keys take longer: a pool that yields as loads finish
        # would reorder them.
        time.sleep(0.02 * (5 - key))
        return key * 10

    seen = []
    for key, value, error in read_ahead(load, range(5), depth=2):
        assert error is None
        seen.append((key, value))
        if key == 0:
            # While the first value was consumed, at most depth + 1 loads
            # had started: memory stays bounded on a big folder.
            assert len(started) <= 3
    assert seen == [(k, k * 10) for k in range(5)]


def test_a_failed_load_is_reported_at_its_place_and_the_rest_continue():
    def load(key):
        if key == "bad.jpg":
            raise OSError("truncated file bad.jpg")
        return key.upper()

    out = list(read_ahead(load, ["a.jpg", "bad.jpg", "c.jpg"]))
    assert [(k, v) for k, v, _ in out] == [("a.jpg", "A.JPG"), ("bad.jpg", None),
                                          ("c.jpg", "C.JPG")]
    assert isinstance(out[1][2], OSError) and "bad.jpg" in str(out[1][2])


def test_leaving_early_stops_the_remaining_loads():
    loaded = []

    def load(key):
        loaded.append(key)
        return key

    for key, _, _ in read_ahead(load, range(100), depth=3):
        if key == 1:
            break
    assert len(loaded) <= 6


def test_writes_run_in_order_and_all_finish_before_the_block_ends():
    written = []

    def write(k):
        time.sleep(0.01)
        written.append(k)

    with BackgroundWriter(depth=2) as writer:
        for k in range(6):
            writer.submit(write, k)
    assert written == list(range(6))


def test_a_failed_write_is_raised_not_lost():
    def write(k):
        if k == 2:
            raise OSError("disk full writing 2.png")

    with pytest.raises(OSError, match="2.png"):
        with BackgroundWriter(depth=8) as writer:
            for k in range(4):
                writer.submit(write, k)


def test_depth_zero_runs_everything_in_the_caller():
    threads = set()

    def load(key):
        threads.add(threading.current_thread().name)
        if key == 1:
            raise OSError("unreadable 1.png")
        return key

    out = list(read_ahead(load, range(3), depth=0))
    assert [(k, v) for k, v, _ in out] == [(0, 0), (1, None), (2, 2)]
    with BackgroundWriter(depth=0) as writer:
        writer.submit(lambda: threads.add(threading.current_thread().name))
    assert threads == {threading.current_thread().name}
