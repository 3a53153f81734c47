"""The records of each preset (its deviation strings, written into every run's config.json)
agree with what the code does with the preset's fields."""

from __future__ import annotations

import pytest

from srbench.testing.records import unexplained_numbers
from srbench.training.config import config_to_dict, resolve_config
from srbench_esrgan3d import schedule
from srbench_esrgan3d.config import Esrgan3dConfig
from srbench_esrgan3d.trainer import Esrgan3dTrainer

#: numbers of ESRGAN and the three-player GAN paper that the strings compare against
PAPER_CONSTANTS = (23, 3, 19, 100, 2e-4, 1e-4, 0.25, 15, 2, 0.01)


def _config(preset: str) -> Esrgan3dConfig:
    return resolve_config(Esrgan3dTrainer(), preset=preset, overrides={})


def _phases(config: Esrgan3dConfig) -> tuple[int, int]:
    """(warm-up, GAN) iterations as the schedule actually splits the run."""
    warmup = sum(schedule.in_warmup(i, config=config) for i in range(config.iterations))
    return warmup, config.iterations - warmup


@pytest.mark.parametrize("preset", ["paper", "cpu"])
def test_every_number_in_the_deviations_comes_from_the_preset(preset):
    config = _config(preset)
    warmup, gan = _phases(config)
    assert unexplained_numbers(config.deviations, config=config, derived=(warmup, gan), constants=PAPER_CONSTANTS) == []


def test_paper_budget_string_states_the_schedule_the_code_runs():
    config = _config("paper")
    warmup, gan = _phases(config)
    assert (warmup, gan) == (15000, 45000)
    assert any(f"{warmup:,} L1 warm-up + {gan:,} GAN iterations" in d for d in config.deviations)
    assert any(f"{config.blocks} RRDBs instead of ESRGAN's 23" in d for d in config.deviations)


def test_cpu_strings_state_the_stage_lengths_widths_and_learning_rates():
    config = _config("cpu")
    warmup, gan = _phases(config)
    text = "\n".join(config.deviations)
    assert f"{config.vgg_iterations} VGG + {warmup} warm-up + {gan} GAN iterations" in text
    assert f"{config.blocks} RRDBs, {config.channels} channels, growth {config.growth}" in text
    assert f"hidden linear width of {config.d_hidden}" in text
    assert "VGG stage 1e-3" in text and config.vgg_lr == 1e-3
    assert "L1 warm-up 1e-3" in text and config.warmup_lr == 1e-3
    assert f"at least {config.min_foreground:.0%} foreground" in text
    assert f"row label '{config.row_label}'" in text and f"the {gan}-step GAN phase" in text


def test_cpu_generator_trunk_matches_the_three_player_gans():
    """The two GAN rows of a board compare training recipes on the same generator trunk."""
    from srbench_trigan.config import PRESETS as TRIGAN_PRESETS

    config, trigan = _config("cpu"), TRIGAN_PRESETS["cpu"]
    assert (config.blocks, config.channels, config.growth, config.global_residual) == (
        trigan["n_rrdb"], trigan["nf"], trigan["gc"], trigan["global_residual"])


def test_paper_preset_keeps_every_window_and_runs_record_the_readings():
    assert _config("paper").min_foreground == 0.0
    stored = config_to_dict(_config("cpu"))
    assert any(r.startswith("ragan-summed") for r in stored["readings"])
    assert stored["deviations"] == list(_config("cpu").deviations)
