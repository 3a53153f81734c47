"""Progress on stderr: a rich bar on a terminal, one flushed line per step in a log.

When stderr is a terminal, :func:`progress_bar` draws a rich bar (count, elapsed time,
ETA). When it is not (a batch job's log file, a pipe), a bar would be written only once,
at the end, so each step prints one line instead, flushed at once::

    insample: 3/10 trilinear on s2 ok (12.4 s elapsed, ETA 28.9 s)

so a log read while the job runs, or after it was killed, shows what finished and when.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

stderr_console = Console(stderr=True)

#: ``advance(text)``: one step done; ``text`` says which (shown in log lines)
Advance = Callable[..., None]


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


@contextlib.contextmanager
def progress_lines(label: str, *, total: int | None) -> Iterator[Advance]:
    """One flushed stderr line per step: count, what finished, elapsed time and ETA."""
    started = time.monotonic()
    done = 0
    print(f"{label}: started", file=sys.stderr, flush=True)

    def advance(text: str = "") -> None:
        nonlocal done
        done += 1
        elapsed = time.monotonic() - started
        count = f"{done}/{total}" if total else str(done)
        eta = f", ETA {_seconds(elapsed / done * (total - done))}" if total and done < total else ""
        print(f"{label}: {count}{f' {text}' if text else ''} ({_seconds(elapsed)} elapsed{eta})",
              file=sys.stderr, flush=True)

    yield advance


@contextlib.contextmanager
def progress_bar(label: str, *, total: int | None) -> Iterator[Advance]:
    """Progress on stderr; yields ``advance(text="")``, called once per finished step.

    A rich bar on a terminal, else :func:`progress_lines` (a log gets one line per step).
    """
    if not stderr_console.is_terminal:
        with progress_lines(label, total=total) as advance:
            yield advance
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr_console, transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda text="": progress.advance(task)
