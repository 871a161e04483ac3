"""What TensorBoard would show of a run: the summaries in its event files.
(tests/ is on sys.path through tests/conftest.py.)"""
import glob
import os


def tensorboard_events(log_dir, subdir):
    """{tag: [(step, value)]} from the event files in log_dir/subdir
    ("train" or "validation"), values as numpy arrays."""
    import tensorflow as tf

    out = {}
    for path in sorted(glob.glob(os.path.join(log_dir, subdir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                out.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor)))
    return out


def tag_steps(log_dir, subdir, tag):
    """The sorted steps at which log_dir/subdir holds summaries of `tag`."""
    return sorted(step for step, _ in tensorboard_events(log_dir, subdir).get(tag, []))
