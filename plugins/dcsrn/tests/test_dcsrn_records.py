"""The records of each preset (its deviation strings, written into every run's config.json)
agree with the preset's fields."""

from __future__ import annotations

import pytest

from srbench.testing.records import unexplained_numbers
from srbench.training.config import config_to_dict, resolve_config
from srbench_dcsrn.trainer import TRAINER

#: the DCSRN paper's values the strings compare against (its L2 loss, ISBI 2018)
PAPER_CONSTANTS = (2, 2018)


def _config(preset: str):
    return resolve_config(TRAINER, preset=preset, overrides={})


@pytest.mark.parametrize("preset", ["paper", "cpu"])
def test_every_number_in_the_deviations_comes_from_the_preset(preset):
    config = _config(preset)
    derived = (config.patch_size // 2,)
    assert unexplained_numbers(config.deviations, config=config, derived=derived, constants=PAPER_CONSTANTS) == []


def test_cpu_strings_state_patch_budget_and_foreground():
    config = _config("cpu")
    text = "\n".join(config.deviations)
    assert f"{config.patch_size}³ HR patches ({config.patch_size // 2}³ LR), {config.iterations:,} iterations" in text
    assert f"less than {config.min_foreground:.0%} foreground" in text
    assert config.loss == "l1" and "L1 loss instead of L2" in text


def test_paper_preset_keeps_every_window_and_runs_record_the_reading():
    paper = _config("paper")
    assert paper.min_foreground == 0.0
    assert any(f"{paper.iterations:,} iterations of batch {paper.batch_size}" in d for d in paper.deviations)
    assert any(r.startswith("dcsrn-isbi-l2") for r in config_to_dict(paper)["readings"])
