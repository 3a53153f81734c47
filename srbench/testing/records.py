"""Check that a preset's written records (its ``deviations`` strings) agree with its fields.

A deviation string such as ``"60 VGG + 240 warm-up + 60 GAN iterations"`` states numbers
that the configuration also holds. :func:`unexplained_numbers` lists every number written
in the strings that is neither a value of the resolved configuration nor one of the
values the caller derives from it (a schedule's phase lengths...) or names as a constant
of the paper being compared against; a test asserts the list is empty, so a changed field
whose string was not updated fails.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from typing import Any

# digits with optional thousands commas, decimals, an exponent and a percent sign; a digit
# after "^" is a power ("64^3"), and one
# glued to a letter on its left ("conv5_4", "VGG19") is a name, not a number
_NUMBER = re.compile(r"(?<![A-Za-z_\d.^])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(e-?\d+)?(%)?")


def numbers_in(text: str) -> list[float]:
    """The numbers written in ``text`` (``"2,720"`` → 2720, ``"30%"`` → 0.3, ``"1e-3"`` → 0.001)."""
    found = []
    for integer, decimals, exponent, percent in _NUMBER.findall(text):
        value = float(integer.replace(",", "") + (decimals or "") + (exponent or ""))
        found.append(value / 100 if percent else value)
    return found


def config_numbers(config: Any) -> set[float]:
    """Every number held by the fields of a configuration dataclass (tuples flattened)."""
    values: set[float] = set()

    def add(value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            values.add(float(value))
        elif isinstance(value, (tuple, list)):
            for item in value:
                add(item)

    for field in dataclasses.fields(config):
        add(getattr(config, field.name))
    return values


def unexplained_numbers(strings: Iterable[str], *, config: Any, derived: Iterable[float] = (),
                        constants: Iterable[float] = ()) -> list[tuple[str, float]]:
    """``(string, number)`` for each number in ``strings`` that nothing explains.

    Args:
        strings: the preset's deviation strings.
        config: the resolved configuration of the preset.
        derived: values computed from the configuration by the code that uses them (for
            example the length of each training phase).
        constants: values of the paper or of the original method that a string compares
            against (ESRGAN's 23 RRDBs...).
    """
    allowed = config_numbers(config) | {float(v) for v in derived} | {float(v) for v in constants}
    missing = []
    for text in strings:
        for number in numbers_in(text):
            if not any(math.isclose(number, a, rel_tol=1e-9, abs_tol=1e-12) for a in allowed):
                missing.append((text, number))
    return missing
