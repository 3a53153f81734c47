"""`srbench train --help`: each option is listed once, and its examples work for every
installed trainer (the overrides they show resolve with each trainer's default preset)."""

from __future__ import annotations

import re

import pytest

from srbench.cli.train import default_preset, parse_assignments
from srbench.plugins import get_plugin_manager
from srbench.cli.runner import run_cli
from srbench.training.config import resolve_config


@pytest.fixture(scope="module")
def help_text():
    return run_cli("train", "--help", check=True).stdout


def test_every_option_is_listed_once(help_text):
    options = re.findall(r"^\s+(--[a-z][\w-]*)", help_text.split("Options:")[1], re.M)
    assert "--set" in options and "--iterations" in options
    assert len(options) == len(set(options)), options


def example_overrides(help_text: str) -> list[dict[str, object]]:
    """The overrides of each `srbench train METHOD ...` example line of the help."""
    examples = []
    for line in help_text.splitlines():
        words = line.split()
        if words[:3] != ["srbench", "train", "METHOD"]:
            continue
        overrides: dict[str, object] = {}
        sets = tuple(words[i + 1] for i, w in enumerate(words) if w == "--set")
        overrides.update(parse_assignments(sets))
        for flag, key in (("--iterations", "iterations"), ("--seed", "seed"), ("--patch-size", "patch_size"),
                          ("--batch-size", "batch_size")):
            if flag in words:
                overrides[key] = words[words.index(flag) + 1]
        examples.append(overrides)
    return examples


def test_examples_resolve_for_every_installed_trainer(help_text):
    examples = example_overrides(help_text)
    assert len(examples) >= 3 and any(examples)
    pm = get_plugin_manager()
    assert pm.names("trainer")
    for name in pm.names("trainer"):
        trainer = pm.get("trainer", name)
        for overrides in examples:
            config = resolve_config(trainer, preset=default_preset(trainer), overrides=overrides)
            for key, value in overrides.items():
                assert str(getattr(config, key)) == str(value) or float(getattr(config, key)) == float(value)
