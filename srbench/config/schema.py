"""A small strict typed reader for TOML tables and stored JSON configurations.

Every value srbench takes from a configuration file goes through a :class:`Table`: each
accessor checks the type (and range) of one key, and a failure is one
:class:`~srbench.errors.InputError` line that names the file, the table and key, what
was expected and the value found::

    datasets.toml: [tracks.knee] scale: expected a number >= 1 or a list of 3 of them, got "a" (a string)

Why our own and not pydantic or msgspec: the documents are small and flat, the messages
must follow srbench's one-line ``FILE: problem`` form, and TOML already gives typed
values, so a few checked accessors replace a dependency and a translation layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from srbench.errors import InputError, did_you_mean, file_error, quoted

_TYPE_WORDS = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a table",
}


def describe(value: Any) -> str:
    """``value`` and its type for a message: ``"a" (a string)``, ``5 (an integer)``."""
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    word = _TYPE_WORDS.get(type(value), f"a {type(value).__name__}")
    return f"{shown} ({word})"


class Table:
    """One table of a configuration document, read key by key with type checks.

    Args:
        data: the table as parsed (must be a dict; anything else is an InputError).
        source: the file it comes from (named first in every message).
        where: the table's name in messages, e.g. ``[tracks.knee]``.
    """

    def __init__(self, data: Any, *, source: str | Path, where: str) -> None:
        self.source = source
        self.where = where
        if not isinstance(data, dict):
            raise self.error_here(f"must be a table, got {describe(data)}")
        self.data: dict[str, Any] = data

    # -- errors ------------------------------------------------------------------------
    def error_here(self, problem: str) -> InputError:
        return file_error(self.source, f"{self.where} {problem}" if self.where else problem)

    def error(self, key: str, problem: str) -> InputError:
        return file_error(self.source, f"{self.where} {key}: {problem}" if self.where else f"{key}: {problem}")

    def expected(self, key: str, what: str, value: Any) -> InputError:
        return self.error(key, f"expected {what}, got {describe(value)}")

    # -- structure ---------------------------------------------------------------------
    def __contains__(self, key: str) -> bool:
        return key in self.data

    def only(self, allowed: Iterable[str]) -> None:
        """Refuse keys outside ``allowed`` (with a did-you-mean)."""
        allowed = tuple(allowed)
        for key in self.data:
            if key not in allowed:
                raise self.error_here(f"has an unknown key {quoted(key)}{did_you_mean(str(key), allowed)}")

    def require(self, key: str, what: str) -> None:
        if key not in self.data:
            raise self.error_here(f"is missing {quoted(key)} ({what})")

    def table(self, key: str, *, default: Mapping[str, Any] | None = None) -> Table:
        """A sub-table (an empty one when absent and ``default`` is None)."""
        if key not in self.data:
            return Table(dict(default or {}), source=self.source, where=f"[{key}]")
        value = self.data[key]
        if not isinstance(value, dict):
            raise self.expected(key, "a table", value)
        prefix = self.where[1:-1] + "." if self.where.startswith("[") else ""
        return Table(value, source=self.source, where=f"[{prefix}{key}]")

    # -- scalars -----------------------------------------------------------------------
    def string(self, key: str, *, default: str | None = None, choices: Iterable[str] | None = None) -> str | None:
        """A string value (``default`` when absent); ``choices`` restricts it."""
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, str):
            raise self.expected(key, "a string", value)
        self._printable(key, value)
        if choices is not None:
            choices = tuple(choices)
            if value not in choices:
                raise self.error(key, f"expected one of {', '.join(choices)}, got {quoted(value)}{did_you_mean(value, choices)}")
        return value

    def integer(self, key: str, *, default: int | None = None, minimum: int | None = None) -> int | None:
        """An integer value (booleans are not integers)."""
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.expected(key, "an integer", value)
        if minimum is not None and value < minimum:
            raise self.error(key, f"expected an integer >= {minimum}, got {value}")
        return value

    def number(self, key: str, *, default: float | None = None, positive: bool = False) -> float | None:
        """A finite number (an integer is accepted)."""
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.expected(key, "a finite number", value)
        if positive and not value > 0:
            raise self.error(key, f"expected a positive number, got {value}")
        return float(value)

    def strings(self, key: str, *, default: list[str] | None = None, allow_single: bool = True) -> list[str] | None:
        """A non-empty list of strings (a single string counts as a list of one)."""
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, str) and allow_single:
            self._printable(key, value)
            return [value]
        if not isinstance(value, list) or not value:
            raise self.expected(key, "a non-empty list of strings", value)
        for item in value:
            if not isinstance(item, str):
                raise self.error(key, f"expected a list of strings, got the item {describe(item)}")
            self._printable(key, item)
        return list(value)

    def _printable(self, key: str, value: str) -> None:
        if "\x00" in value or any(ch in value for ch in "\r\n"):
            raise self.error(key, f"expected a single-line string without NUL characters, got {describe(value)}")

    def scalars(self, key: str) -> dict[str, Any]:
        """A table whose values are scalars (string, integer, number, boolean)."""
        sub = self.table(key)
        for name, value in sub.data.items():
            if not isinstance(value, (str, int, float, bool)) or (isinstance(value, float) and not math.isfinite(value)):
                raise sub.expected(name, "a string, a finite number or a boolean", value)
        return dict(sub.data)


def check_top_level(data: Any, *, source: str | Path, allowed: Iterable[str]) -> Table:
    """The document itself as a :class:`Table` whose keys are restricted to ``allowed``."""
    table = Table(data, source=source, where="")
    allowed = tuple(allowed)
    for key in table.data:
        if key not in allowed:
            raise file_error(source, f"unknown top-level key {quoted(key)}{did_you_mean(str(key), allowed)}")
    return table
