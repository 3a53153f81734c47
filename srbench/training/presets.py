"""What methods' presets share: the reference training schedule and how deviations print numbers.

A preset is a mapping of configuration fields (see :func:`srbench.training.config.resolve_config`);
its ``deviations`` name every departure from the method's paper, rendered from the preset's
own fields so that the text and the values cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

#: the training schedule of srbench's reference paper: 60,000 iterations of batch 4 on every
#: 64³ HR window of a stride-16 grid (none dropped), a checkpoint every 1,000 iterations; the
#: ``paper`` preset of a method whose own paper states no schedule starts from it
REFERENCE_SCHEDULE: Mapping[str, Any] = MappingProxyType({
    "iterations": 60000,
    "batch_size": 4,
    "patch_size": 64,
    "patch_stride": 16,
    "min_foreground": 0.0,
    "checkpoint_every": 1000,
})


def dropped_patches_text(values: Mapping[str, Any]) -> str:
    """The deviation of a preset that drops mostly-background patches (``min_foreground`` > 0)."""
    return f"patches with less than {float(values['min_foreground']):.0%} foreground are dropped (the paper preset keeps every window)"


def rate_text(value: float) -> str:
    """A learning rate as deviations write it: ``1e-4``, ``5e-4``, ``1e-3``."""
    return f"{float(value):.0e}".replace("e-0", "e-").replace("e+0", "e")


def schedule_text(values: Mapping[str, Any]) -> str:
    """The reference schedule a preset follows: ``60,000 iterations of batch 4 on every 64^3
    window of the stride-16 grid``."""
    return (f"{int(values['iterations']):,} iterations of batch {values['batch_size']} on every "
            f"{values['patch_size']}^3 window of the stride-{values['patch_stride']} grid")


def rendered_presets(
    presets: Mapping[str, tuple[Mapping[str, Any], Callable[[Mapping[str, Any]], tuple[str, ...]]]],
) -> dict[str, Mapping[str, Any]]:
    """Preset name → its fields plus ``deviations`` rendered from them, from
    ``{name: (fields, render)}``; the text cannot drift from the values."""
    return {name: {**fields, "deviations": render(fields)} for name, (fields, render) in presets.items()}
