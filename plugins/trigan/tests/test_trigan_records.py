"""The records of each preset (deviations and readings, written into every run's config.json)
agree with the preset's fields and with the order the algorithm runs."""

from __future__ import annotations

import pytest

from srbench.testing.records import unexplained_numbers
from srbench.training.config import config_to_dict, resolve_config
from srbench.training.patches import grid_locations
from srbench_trigan.trainer import TRAINER

#: the paper's values the strings compare against (its 60,000 iterations, RaGAN weights)
PAPER_CONSTANTS = (60000, 1, 0.01, 0.005, 64)


def _config(preset: str):
    return resolve_config(TRAINER, preset=preset, overrides={})


@pytest.mark.parametrize("preset", ["paper", "authors-code", "cpu"])
def test_every_number_in_the_deviations_comes_from_the_preset(preset):
    config = _config(preset)
    derived = (config.warmup_iterations, config.iterations - config.warmup_iterations, config.patch_size // 2,
               len(config.d_channels))
    assert unexplained_numbers(config.deviations, config=config, derived=derived, constants=PAPER_CONSTANTS) == []


def test_cpu_strings_state_the_phase_split_the_code_runs():
    config = _config("cpu")
    text = "\n".join(config.deviations)
    warmup = config.warmup_iterations
    assert f"({warmup} of {config.iterations})" in text
    assert f"are the last {config.iterations - warmup}" in text
    assert f"at least {config.min_foreground:.0%} foreground" in text


def test_patch_grid_reading_states_what_the_grid_gives():
    config = _config("paper")
    windows = len(grid_locations((208, 300, 320), patch_size=config.patch_size, stride=config.patch_stride))
    readings = config_to_dict(config)["readings"]
    assert any(r.startswith("patch-grid-") and f"= {windows:,} windows" in r for r in readings)
    assert config.min_foreground == 0.0
    assert any(r.startswith("fe-step-before-g-step") for r in readings)
    assert any(r.startswith("fe-joint-hr-sr-batch") for r in readings)
