"""Config.TRAINING_SCHEDULE as train() calls: cumulative epochs, learning
rates, --epochs caps, --layers, and the from-scratch rule."""
import pytest

from mrcnn.config import Config, ConfigError
from mrcnn.training.schedule import (Stage, check_schedule, describe, from_scratch_schedule,
                                     training_stages)

MATTERPORT = [{"layers": "heads", "epochs": 20},
              {"layers": "all", "epochs": 10, "learning_rate_factor": 0.1}]


def test_stages_are_cumulative_with_scaled_learning_rates():
    stages = training_stages(MATTERPORT, 0.002)
    assert stages == [Stage("heads", 20, 0.002), Stage("all", 30, pytest.approx(0.0002))]


def test_epochs_cut_the_schedule_or_extend_its_last_stage():
    assert training_stages(MATTERPORT, 0.001, epochs=5) == [Stage("heads", 5, 0.001)]
    assert [s.end_epoch for s in training_stages(MATTERPORT, 0.001, epochs=20)] == [20]
    assert [s.end_epoch for s in training_stages(MATTERPORT, 0.001, epochs=25)] == [20, 25]
    assert [s.end_epoch for s in training_stages(MATTERPORT, 0.001, epochs=45)] == [20, 45]


def test_layers_flag_replaces_the_schedule_with_one_stage():
    assert training_stages(MATTERPORT, 0.001, layers="4+") == [Stage("4+", 30, 0.001)]
    assert training_stages(MATTERPORT, 0.001, epochs=3, layers="all") == [Stage("all", 3, 0.001)]


def test_from_scratch_trains_all_layers_in_every_stage_and_keeps_the_rest():
    scratch = from_scratch_schedule(MATTERPORT)
    assert [s["layers"] for s in scratch] == ["all", "all"]
    assert [s["epochs"] for s in scratch] == [20, 10]
    assert scratch[1]["learning_rate_factor"] == 0.1
    # The Config class attribute is never edited in place.
    assert Config.TRAINING_SCHEDULE[0]["layers"] == "heads"


def test_the_default_config_schedule_is_valid():
    assert [s.layers for s in training_stages(Config.TRAINING_SCHEDULE, 0.001)] == ["heads", "all"]


@pytest.mark.parametrize("schedule, message", [
    ([], "non-empty list"),
    ([{"layers": "heads"}], "epochs is None"),
    ([{"layers": "heads", "epochs": 0}], "epochs is 0"),
    ([{"layers": "heads", "epochs": 2, "lr": 0.1}], "unknown key"),
    ([{"layers": "res(", "epochs": 2}], "regular expression"),
    ([{"layers": "all", "epochs": 2, "learning_rate_factor": -1}], "learning_rate_factor"),
    ("heads", "non-empty list"),
])
def test_bad_schedules_name_the_stage_and_the_problem(schedule, message):
    with pytest.raises(ConfigError, match="TRAINING_SCHEDULE") as error:
        check_schedule(schedule)
    assert message in str(error.value)


def test_describe_marks_finished_stages():
    lines = describe(training_stages(MATTERPORT, 0.001), start_epoch=20)
    assert lines == ["epochs 1-20: layers=heads at lr 0.001 (done)",
                     "epochs 21-30: layers=all at lr 0.0001"]
