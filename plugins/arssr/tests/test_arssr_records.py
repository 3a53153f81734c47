"""The records of each preset (its deviation strings, written into every run's config.json)
agree with the preset's fields."""

from __future__ import annotations

import pytest

from srbench.testing.records import unexplained_numbers
from srbench.training.config import config_to_dict, resolve_config
from srbench_arssr.trainer import TRAINER

#: the authors' values the strings compare against (2,500 epochs, halving every 200, ResCNN groups of 6 convs)
PAPER_CONSTANTS = (2500, 200, 6, 3)


def _config(preset: str):
    return resolve_config(TRAINER, preset=preset, overrides={})


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
    assert any(f"{paper.iterations:,} iterations of batch {paper.batch_size} on every {paper.patch_size}^3 window" in d
               and f"is used (batch {paper.batch_size} as in the authors' code)" in d for d in paper.deviations)
    assert any(r.startswith("cell-centred-coordinates") for r in config_to_dict(paper)["readings"])


def test_per_axis_sampling_is_off_in_both_presets_and_named_when_a_preset_turns_it_on():
    from srbench_arssr.config import _CPU, _cpu_deviations

    for preset in ("paper", "cpu"):
        config = _config(preset)
        assert config.per_axis_probability == 0 and config.unit_axis_probability == 0  # the paper's isotropic sampling
        assert not any("per-axis" in d for d in config.deviations)
    values = {**_CPU, "per_axis_probability": 0.5, "unit_axis_probability": 0.25}
    strings = _cpu_deviations(values)
    named = [d for d in strings if d.startswith("per-axis training scales")]
    assert len(named) == 1 and "probability 50%" in named[0] and "probability 25%" in named[0]
    config = resolve_config(TRAINER, preset="cpu", overrides={"per_axis_probability": "0.5", "unit_axis_probability": "0.25"})
    assert unexplained_numbers(strings, config=config, constants=(*PAPER_CONSTANTS, 1)) == []  # 1: the [2, 2, 1] track
