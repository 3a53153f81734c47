"""User-facing exception types.

The command line turns each of these into one line on stderr and an exit status:
:class:`InputError` (bad usage or input: a file, a config, a name) exits 2,
:class:`SrbenchRuntimeError` (a failure while doing valid work) exits 1.
Code deep in the library raises them with a message that names the file (or the
option) and the problem, so nothing above needs to add context.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class SrbenchError(Exception):
    """Base class of every error srbench reports to a user.

    Its message is always one line: line breaks and control characters that reach it
    (a name or value from a file, a plugin's exception text) are escaped by :func:`escape_controls`.
    """

    exit_code = 1

    def __init__(self, *args: object) -> None:
        super().__init__(*(escape_controls(arg) if isinstance(arg, str) else arg for arg in args))


class InputError(SrbenchError):
    """A file, a configuration value, an option or a name given by the user is wrong."""

    exit_code = 2


class InvalidSetting(InputError):
    """An inference setting out of range: ``setting`` names the field, ``reason`` says why."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"inference setting {setting}: {reason}")
        self.setting = setting
        self.reason = reason


class SrbenchRuntimeError(SrbenchError):
    """Valid work that failed while running (a plugin crashed, a run diverged...)."""

    exit_code = 1


class PluginError(SrbenchError):
    """A plugin is broken or two plugins disagree (for example a name clash)."""

    exit_code = 2


class ScaleNotSupported(SrbenchError):
    """A model cannot super-resolve at the requested per-axis scale.

    Evaluation records the method as "not applicable" on that track instead of failing.
    """

    exit_code = 2


def show(value: object) -> str:
    """``value`` for a one-line message: a path or name as it is when printable, else
    quoted with its control characters escaped (``'a\\nb'``), so a message stays one line."""
    text = str(value)
    if text.isprintable() and text.strip() == text and text:
        return text
    return repr(text)


def escape_controls(message: str) -> str:
    """``message`` with every line break and control character escaped (``\\n``), so a
    message that quotes user input stays one line and shows what the input held."""
    if message.isprintable():
        return message
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


def collapse_whitespace(text: str) -> str:
    """``text`` with every run of whitespace, line breaks included, made one space."""
    return " ".join(str(text).split())


def exception_line(exc: BaseException, *, limit: int = 160) -> str:
    """The first non-empty line of ``exc``'s message (its type name when it has none), cut
    to ``limit`` characters: a library's exception quoted inside a one-line error."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]


def file_error(path: str | Path, problem: str) -> InputError:
    """An :class:`InputError` whose message reads ``PATH: problem`` (path escaped by :func:`show`)."""
    return InputError(f"{show(path)}: {problem}")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ``" (did you mean 'x'?)"`` suffix for the closest choice, or the list of choices."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if close:
        return f" (did you mean '{close[0]}'?)"
    if choices:
        return f" (choose from: {', '.join(choices)})"
    return " (none are available)"


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> InputError:
    """The standard error for an unknown method, track, preset, metric... name."""
    return InputError(f"unknown {kind} {quoted(name)}{did_you_mean(str(name), choices)}")


def quoted(value: object) -> str:
    """``'value'`` with control characters escaped, for names inside messages."""
    return repr(str(value)) if not str(value).isprintable() else f"'{value}'"
