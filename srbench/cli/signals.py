"""SIGINT and SIGTERM give one line and exit status 130 or 143, at any moment of any command.

Two phases:

- while the command line is being imported (torch, the plugins...) nothing has been
  written yet, so :func:`exit_quietly_while_starting` makes both signals print one line
  and leave at once (no traceback from the middle of an import);
- once a command runs, :func:`raise_while_running` turns both into an exception
  (:class:`Interrupted`, :class:`Terminated`), so every ``finally`` and every atomic
  writer removes its temporary file before :func:`srbench.cli.main` prints its one line
  and exits.
"""

from __future__ import annotations

import os
import signal
import sys

#: exit status of a command stopped by a signal: 128 + the signal number
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM


class Stopped(BaseException):
    """A signal stopped the command. Not a ``KeyboardInterrupt`` (click would turn that into
    "Aborted!" after an empty line) and not an ``Exception`` (nothing swallows it): every
    ``finally`` and ``except BaseException`` cleanup still runs on the way out."""

    exit_code = EXIT_INTERRUPTED
    word = "interrupted"


class Interrupted(Stopped):
    """SIGINT (Ctrl-C) while a command runs."""


class Terminated(Stopped):
    """SIGTERM while a command runs."""

    exit_code = EXIT_TERMINATED
    word = "terminated"


def _leave(signum: int, frame: object) -> None:
    name, code = ("interrupted", EXIT_INTERRUPTED) if signum == signal.SIGINT else ("terminated", EXIT_TERMINATED)
    try:
        os.write(2, f"{name}\n".encode())
    finally:
        os._exit(code)


def started_as_command() -> bool:
    """True in the ``srbench`` script or ``python -m srbench`` (not when a notebook or a test
    imports the package, whose own SIGINT handling must stay as it is)."""
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return program == "srbench" or (program == "__main__.py" and os.path.basename(os.path.dirname(sys.argv[0])) == "srbench")


def exit_quietly_while_starting() -> None:
    """Before anything is written: a signal prints one line and exits at once."""
    if sys.platform != "win32":
        signal.signal(signal.SIGINT, _leave)
        signal.signal(signal.SIGTERM, _leave)


def _stop(signum: int, frame: object) -> None:
    raise Interrupted if signum == signal.SIGINT else Terminated


def raise_while_running() -> None:
    """While a command runs: SIGINT raises :class:`Interrupted` and SIGTERM :class:`Terminated`
    (a command may install its own handler meanwhile, as training does for a graceful stop)."""
    signal.signal(signal.SIGINT, _stop)
    if sys.platform != "win32":
        signal.signal(signal.SIGTERM, _stop)
