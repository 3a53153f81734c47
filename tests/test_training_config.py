"""Training configurations: presets, command-line overrides and resume compatibility."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest

from srbench.errors import InputError
from srbench.training.config import (
    TrainingConfig,
    coerce_value,
    config_from_dict,
    config_to_dict,
    resolve_config,
    resume_conflicts,
)
from tests.training_toy import ToyConfig, ToyTrainer


def test_defaults_then_preset_then_overrides():
    config = resolve_config(ToyTrainer(), preset="cpu", overrides={"iterations": "9", "lr": "2e-3"}, track="t1")
    assert isinstance(config, ToyConfig)
    assert (config.method, config.preset, config.track) == ("toy", "cpu", "t1")
    assert config.iterations == 9  # override beats the preset's 6
    assert config.patch_size == 8  # from the preset
    assert config.channels == 4  # class default
    assert config.lr == pytest.approx(2e-3)
    assert config.deviations == ("tiny network for tests",)


@pytest.mark.parametrize(
    ("value", "annotation", "expected"),
    [
        ("12", int, 12),
        (7, int, 7),
        ("1e-4", float, 1e-4),
        ("yes", bool, True),
        ("off", bool, False),
        ("2", tuple[int, int, int], (2, 2, 2)),
        ("2,2,1", tuple[int, int, int], (2, 2, 1)),
        ([2, 2, 1], tuple[int, int, int], (2, 2, 1)),
        ("a,b", tuple[str, ...], ("a", "b")),
        ("", tuple[str, ...], ()),
        ("none", int | None, None),
        ("3", int | None, 3),
        ("rdn", Literal["rdn", "rescnn"], "rdn"),
    ],
)
def test_coercion_by_field_type(value, annotation, expected):
    assert coerce_value("x", value, annotation) == expected


@pytest.mark.parametrize(
    ("value", "annotation", "message"),
    [
        ("ten", int, "option x: expected an integer, got 'ten'"),
        ("maybe", bool, "option x: expected true or false"),
        ("1,2", tuple[int, int, int], "expected 3 comma-separated values"),
        ("rdm", Literal["rdn", "rescnn"], "did you mean 'rdn'"),
    ],
)
def test_bad_values_name_the_option(value, annotation, message):
    with pytest.raises(InputError, match=message):
        coerce_value("x", value, annotation)


def test_unknown_key_suggests_the_closest_key():
    with pytest.raises(InputError) as info:
        resolve_config(ToyTrainer(), preset="cpu", overrides={"chanels": "8"})
    message = str(info.value)
    assert "unknown option 'chanels'" in message
    assert "did you mean 'channels'" in message
    assert "\n" not in message and len(message) < 200  # a suggestion, not the whole option list


def test_unknown_preset_suggests():
    with pytest.raises(InputError, match="unknown preset of method 'toy' 'cpv' \\(did you mean 'cpu'\\?\\)"):
        resolve_config(ToyTrainer(), preset="cpv", overrides={})


def test_validation_rejects_unworkable_values():
    with pytest.raises(InputError, match="option patch_size: 9 is not divisible by the scale"):
        resolve_config(ToyTrainer(), preset="cpu", overrides={"patch_size": "9"})
    with pytest.raises(InputError, match="option iterations: must be a positive integer"):
        resolve_config(ToyTrainer(), preset="cpu", overrides={"iterations": "0"})
    with pytest.raises(InputError, match="min_foreground"):
        resolve_config(ToyTrainer(), preset="cpu", overrides={"min_foreground": "1.5"})


def test_dict_round_trip_and_resume_conflicts():
    config = resolve_config(ToyTrainer(), preset="cpu", overrides={"scale": (2, 2, 1)})
    data = config_to_dict(config)
    assert data["scale"] == [2, 2, 1]
    assert config_from_dict(ToyConfig, data) == config
    longer = config_to_dict(dataclasses.replace(config, iterations=100, checkpoint_every=7))
    assert resume_conflicts(data, longer) == []
    wider = config_to_dict(dataclasses.replace(config, channels=8))
    assert resume_conflicts(data, wider) == ["channels (checkpoint 4, now 8)"]


def test_base_class_is_a_plain_dataclass_that_methods_extend():
    names = [f.name for f in dataclasses.fields(TrainingConfig)]
    assert names[:3] == ["method", "preset", "track"]
    assert {"patch_stride", "min_foreground", "deviations", "checkpoint_every"} <= set(names)
