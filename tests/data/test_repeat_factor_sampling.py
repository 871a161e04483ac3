"""Repeat-factor sampling (mrcnn.data.sampling) in DataGenerator's epoch order:
the rare class's share of sampled images, the order without it, resume."""
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core"))
from tiny import DiscsAndBars, TinyConfig  # noqa: E402  tests/core/tiny.py

from mrcnn.config import ConfigError  # noqa: E402
from mrcnn.data import sampling  # noqa: E402
from mrcnn.data.dataset import Dataset  # noqa: E402
from mrcnn.data.pipeline import DataGenerator  # noqa: E402

IMAGES, RARE_IMAGES = 200, 10  # the rare class in 5% of the images
RARE_FACTOR = 3.5  # not whole: the stochastic rounding is exercised
THRESHOLD = RARE_FACTOR ** 2 * RARE_IMAGES / IMAGES  # r = sqrt(t / f) = 3.5


class RecordsOnly(Dataset):
    """Images with reader-style instance records and no masks: every image
    holds "common" (source id 7), every 20th also "rare" (source id 9)."""

    def __init__(self):
        super().__init__()
        self.add_class("rec", 7, "common")
        self.add_class("rec", 9, "rare")
        for i in range(IMAGES):
            records = [{"class_id": 7}] + ([{"class_id": 9}] if i % 20 == 3 else [])
            self.add_image("rec", i, None, instances=records, height=8, width=8)
        self.prepare()

    def load_mask(self, image_id):
        raise AssertionError("the class table must come from the records")


class Config(TinyConfig):
    IMAGES_PER_GPU = 2
    STEPS_PER_EPOCH = 50  # 100 images an epoch, fewer than a pass (~225)


def generator(dataset, threshold=None, seed=11, initial_epoch=0, shuffle=True):
    return DataGenerator(dataset, Config(), shuffle=shuffle, seed=seed, workers=1,
                         initial_epoch=initial_epoch, repeat_factor_threshold=threshold)


def test_factors_follow_the_formula():
    dataset = RecordsOnly()
    table = sampling.image_class_table(dataset)
    rare = dataset.class_names.index("rare")
    assert sum(rare in ids for ids in table) == RARE_IMAGES
    per_class = sampling.class_repeat_factors(table, THRESHOLD, dataset.num_classes)
    # common is in every image: f = 1 > t, so max(1, sqrt(t)) = 1.
    np.testing.assert_allclose(per_class, [1.0, 1.0, RARE_FACTOR])
    factors = sampling.image_repeat_factors(table, THRESHOLD, dataset.num_classes)
    np.testing.assert_allclose(factors, [RARE_FACTOR if i % 20 == 3 else 1.0 for i in range(IMAGES)])
    # A class in 1% of the images at t = 0.001 (LVIS' value) is not repeated;
    # at t = 0.04 it repeats sqrt(4) = 2 times.
    table = [np.array([1])] + [np.array([2])] * 99
    np.testing.assert_allclose(sampling.class_repeat_factors(table, 0.001), [1, 1, 1])
    np.testing.assert_allclose(sampling.class_repeat_factors(table, 0.04), [1, 2, 1])
    with pytest.raises(ValueError):
        sampling.class_repeat_factors(table, 0)


def test_rounding_keeps_the_mean():
    rng = np.random.default_rng(0)
    counts = np.stack([sampling.repeat_counts(np.array([1.0, 2.25, 3.5]), rng) for _ in range(4000)])
    assert set(np.unique(counts[:, 0])) == {1}
    assert set(np.unique(counts[:, 1])) == {2, 3}
    assert set(np.unique(counts[:, 2])) == {3, 4}
    # Binomial means: standard errors sqrt(p(1-p)/4000) = 0.0068 and 0.0079.
    np.testing.assert_allclose(counts.mean(axis=0), [1.0, 2.25, 3.5], atol=0.035)


def test_rare_share_matches_the_expectation():
    dataset = RecordsOnly()
    gen = generator(dataset, THRESHOLD)
    rare_ids = {int(i) for i in dataset.image_ids if i % 20 == 3}
    epochs, per_epoch = 400, Config.STEPS_PER_EPOCH * Config.IMAGES_PER_GPU
    shares = [np.isin(gen._epoch_order(e), list(rare_ids)).mean() for e in range(epochs)]
    # Every rare image repeats 3 or 4 times per pass, the others once.
    expected = RARE_IMAGES * RARE_FACTOR / (RARE_IMAGES * RARE_FACTOR + IMAGES - RARE_IMAGES)
    assert expected == pytest.approx(sampling.expected_share(gen._repeat_factors, [
        i in rare_ids for i in dataset.image_ids]))
    # Tolerance: an epoch takes 100 of a pass of N ~ 225 without replacement
    # (hypergeometric), and N itself varies with the rounding (10 Bernoulli
    # halves: sd 1.58 images); the mean of 400 epochs has this sd:
    pool = IMAGES - RARE_IMAGES + RARE_IMAGES * RARE_FACTOR
    sd_draw = math.sqrt(expected * (1 - expected) / per_epoch * (pool - per_epoch) / (pool - 1))
    sd_pool = math.sqrt(RARE_IMAGES * 0.25) * (IMAGES - RARE_IMAGES) / pool ** 2
    sd_mean = math.hypot(sd_draw, sd_pool) / math.sqrt(epochs)
    # 4 sd, plus the ratio's bias E[R/(R+C)] - E[R]/(E[R]+C) <= var(R) / (R+C)^2.
    tolerance = 4 * sd_mean + RARE_IMAGES * 0.25 / pool ** 2
    assert tolerance < 0.01
    assert np.mean(shares) == pytest.approx(expected, abs=tolerance)
    # Without the sampling the share is the dataset's 5%, far outside that.
    plain = generator(dataset)
    plain_share = np.mean([np.isin(plain._epoch_order(e), list(rare_ids)).mean() for e in range(epochs)])
    assert plain_share == pytest.approx(RARE_IMAGES / IMAGES, abs=0.01)


def test_off_by_default_is_todays_order():
    dataset = RecordsOnly()
    assert Config().REPEAT_FACTOR_THRESHOLD is None
    gen = generator(dataset)
    assert gen._repeat_factors is None
    ids = np.asarray(dataset.image_ids)
    for epoch in (0, 1, 5):
        rng = np.random.default_rng([11, epoch])
        today = np.concatenate([rng.permutation(ids) for _ in range(1)])[:100]
        np.testing.assert_array_equal(gen._epoch_order(epoch), today)
    # The setting alone does not change a generator that is not given it
    # (validation batches keep their order); unshuffled order ignores it.
    config = Config()
    config.REPEAT_FACTOR_THRESHOLD = THRESHOLD
    np.testing.assert_array_equal(
        DataGenerator(dataset, config, seed=11, workers=1)._epoch_order(3), gen._epoch_order(3))
    np.testing.assert_array_equal(generator(dataset, THRESHOLD, shuffle=False)._epoch_order(2),
                                  ids[:100])


def test_resume_draws_the_same_epoch():
    dataset = RecordsOnly()
    first = generator(dataset, THRESHOLD)
    orders = []
    for _ in range(4):
        orders.append(first._order.copy())
        first.on_epoch_end()
    resumed = generator(dataset, THRESHOLD, initial_epoch=3)
    np.testing.assert_array_equal(resumed._order, orders[3])
    assert not np.array_equal(orders[2], orders[3])
    other_seed = generator(dataset, THRESHOLD, seed=12, initial_epoch=3)
    assert not np.array_equal(other_seed._order, orders[3])


def test_epoch_longer_than_a_pass():
    """An epoch of more images than a pass holds takes several passes, each
    with every image at least floor(r) times."""
    dataset = RecordsOnly()

    class Long(Config):
        STEPS_PER_EPOCH = 300  # 600 images, ~2.7 passes

    order = DataGenerator(dataset, Long(), seed=1, workers=1,
                          repeat_factor_threshold=THRESHOLD)._epoch_order(0)
    assert len(order) == 600
    # A pass holds 220 to 230 images: 600 take two whole passes and part of a third.
    counts = np.bincount(order, minlength=IMAGES)
    rare = np.arange(IMAGES) % 20 == 3
    assert counts[~rare].min() >= 2 and counts[~rare].max() <= 3
    assert counts[rare].min() >= 6 and counts[rare].max() <= 12


def test_table_from_load_mask_once_when_no_records(caplog):
    dataset = DiscsAndBars()
    dataset.load(12, size=32, seed=0)
    dataset.prepare()
    calls = []
    original = dataset.load_mask

    def counted(image_id):
        calls.append(image_id)
        return original(image_id)

    dataset.load_mask = counted
    with caplog.at_level("INFO", logger="mrcnn.sampling"):
        table = sampling.image_class_table(dataset)
    assert sorted(calls) == list(dataset.image_ids)
    assert "load_mask" in caplog.text
    expected = [sorted({o[0] for o in dataset.image_info[i]["objects"]}) for i in dataset.image_ids]
    assert [ids.tolist() for ids in table] == expected


@pytest.mark.parametrize("value", [0, -0.1, 1.5, "often"])
def test_config_refuses_bad_thresholds(value):
    config = Config()
    config.REPEAT_FACTOR_THRESHOLD = value
    with pytest.raises(ConfigError, match="REPEAT_FACTOR_THRESHOLD"):
        config.validate()
    config.REPEAT_FACTOR_THRESHOLD = 0.001
    config.validate()


def test_train_flag_sets_the_setting(tmp_path):
    from mrcnn import cli
    from mrcnn.commands.project import Project, build_config

    project = Project()
    parser = cli.build_parser(project)
    args = parser.parse_args(["train", "--dataset", "x", "--logs", str(tmp_path),
                              "--repeat-factor-threshold", "0.02"])
    cli._prepare_model_command(args, project)
    assert build_config(project, args, "training").REPEAT_FACTOR_THRESHOLD == 0.02
    args = parser.parse_args(["train", "--dataset", "x", "--logs", str(tmp_path)])
    cli._prepare_model_command(args, project)
    assert build_config(project, args, "training").REPEAT_FACTOR_THRESHOLD is None
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--dataset", "x", "--repeat-factor-threshold", "2"])


def test_the_generator_says_what_it_repeats(caplog):
    with caplog.at_level("INFO", logger="mrcnn.sampling"):
        generator(RecordsOnly(), THRESHOLD)
    assert ("repeat-factor sampling (t=0.6125): 10 of 200 images repeated (factor up to 3.50); "
            "a pass over the data holds 225 images on average instead of 200") in caplog.text
