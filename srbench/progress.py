"""Progress display on stderr (rich): bars with counts, elapsed time and ETA."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

stderr_console = Console(stderr=True)


@contextlib.contextmanager
def progress_bar(label: str, *, total: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr; yields a function advancing it by one step."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr_console, transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)
