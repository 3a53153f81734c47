"""The records of each preset (its deviation strings, written into every run's config.json)
agree with the preset's fields."""

from __future__ import annotations

import pytest

from srbench.testing.records import unexplained_numbers
from srbench.training.config import config_to_dict, resolve_config
from srbench_arssr.trainer import ArSSRTrainer

#: the authors' values the strings compare against (2,500 epochs, halving every 200, ResCNN groups of 6 convs)
PAPER_CONSTANTS = (2500, 200, 6, 3)


def _config(preset: str):
    return resolve_config(ArSSRTrainer(), preset=preset, overrides={})


@pytest.mark.parametrize("preset", ["paper", "cpu"])
def test_every_number_in_the_deviations_comes_from_the_preset(preset):
    config = _config(preset)
    assert unexplained_numbers(config.deviations, config=config, constants=PAPER_CONSTANTS) == []


def test_cpu_strings_state_sizes_budget_and_foreground():
    config = _config("cpu")
    text = "\n".join(config.deviations)
    assert f"({config.encoder_channels} channels, {config.encoder_depth} groups of 6 convolutions)" in text
    assert f"batch {config.batch_size}, {config.samples:,} samples per patch, {config.iterations:,} iterations" in text
    assert "learning rate 5e-4" in text and config.learning_rate == 5e-4
    assert f"less than {config.min_foreground:.0%} foreground" in text


def test_paper_preset_keeps_every_window_and_runs_record_the_readings():
    paper = _config("paper")
    assert paper.min_foreground == 0.0
    assert any(f"{paper.iterations:,} iterations are used (batch {paper.batch_size}" in d for d in paper.deviations)
    assert any(r.startswith("cell-centred-coordinates") for r in config_to_dict(paper)["readings"])
