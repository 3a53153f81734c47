"""Training logs: losses.csv, a progress display on stderr and optional TensorBoard.

``losses.csv`` has one row per logged iteration: ``iteration`` (0-based), ``elapsed_s``
(training wall time since the run started, resumes included), ``step_s`` (seconds of
this iteration's optimisation step), ``data_wait_s`` (seconds the step waited for its
batch), then the scalars the algorithm's step returned. Rows are appended and flushed as
training goes; when a run resumes, the file is first rewritten atomically with only the
rows before the resumed iteration, so it never holds rows of iterations that are trained
again (nor a line cut short by a crash).
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from srbench.io.atomic import write_text_atomic

BASE_COLUMNS = ("iteration", "elapsed_s", "step_s", "data_wait_s")


def _format(value: float) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.6g}"


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.exists():
        return [], []
    text = path.read_text(encoding="utf-8", errors="replace")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # drop a line cut short by a crash
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return [], []
    return rows[0], rows[1:]


class LossLog:
    """Appends loss rows to ``losses.csv`` (see the module docstring).

    Args:
        path: the CSV file.
        start_iteration: the first iteration this session trains; rows at or after it
            are removed from an existing file.
    """

    def __init__(self, path: str | Path, *, start_iteration: int) -> None:
        self.path = Path(path)
        header, rows = _read_rows(self.path)
        kept = [row for row in rows if len(row) == len(header) and row[0].isdigit() and int(row[0]) < start_iteration]
        self.header: list[str] = header if kept else []
        self._write_all(self.header, kept)
        self._handle = open(self.path, "a", encoding="utf-8", newline="")
        self._writer = csv.writer(self._handle)

    def _write_all(self, header: list[str], rows: list[list[str]]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if header:
            writer.writerow(header)
            writer.writerows(rows)
        write_text_atomic(self.path, buffer.getvalue())

    def write(self, row: Mapping[str, float]) -> None:
        """Append one row; a column not seen before extends the header (file rewritten)."""
        keys = list(BASE_COLUMNS) + [k for k in row if k not in BASE_COLUMNS]
        if not self.header or any(k not in self.header for k in keys):
            self._handle.close()
            header, rows = _read_rows(self.path)
            new_header = list(header or BASE_COLUMNS) + [k for k in keys if k not in (header or BASE_COLUMNS)]
            padded = [r + [""] * (len(new_header) - len(r)) for r in rows if len(r) == len(header)]
            self._write_all(new_header, padded)
            self.header = new_header
            self._handle = open(self.path, "a", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
        values = []
        for key in self.header:
            value = row.get(key)
            if value is None:
                values.append("")
            elif key == "iteration":
                values.append(str(int(value)))
            else:
                values.append(_format(float(value)))
        self._writer.writerow(values)
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


class TensorBoardLog:
    """Scalars to TensorBoard under ``<run_dir>/tensorboard`` when tensorboard is installed."""

    def __init__(self, directory: Path) -> None:
        self.writer: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception:  # noqa: BLE001 - tensorboard is optional; any import failure means "off"
            return
        self.writer = SummaryWriter(log_dir=str(directory))

    @property
    def enabled(self) -> bool:
        return self.writer is not None

    def write(self, iteration: int, row: Mapping[str, float]) -> None:
        if self.writer is None:
            return
        for key, value in row.items():
            if key != "iteration":
                self.writer.add_scalar(key if key in BASE_COLUMNS else f"loss/{key}", float(value), iteration)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def format_losses(values: Mapping[str, float], *, limit: int = 8) -> str:
    """``"name 0.0123 other 1.5"`` for the first ``limit`` scalars."""
    return "  ".join(f"{k} {_format(float(v))}" for k, v in list(values.items())[:limit])


class ProgressDisplay:
    """A rich progress bar on stderr with ETA and the current losses.

    When stderr is not a terminal, prints one plain line about every 5% of the run.
    """

    def __init__(self, *, title: str, total: int, start: int, enabled: bool = True) -> None:
        self.total = total
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self._last_line = time.monotonic()
        self._every = max(1, (total - start) // 20)
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[losses]}"),
                console=self.console,
            )
            self._task = self._progress.add_task(title, total=total, completed=start, losses="")
            self._progress.start()
        else:
            self._title = title
            self._started = time.monotonic()
            self._start = start

    def update(self, completed: int, losses: Mapping[str, float]) -> None:
        """Show ``completed`` iterations done and the latest scalars."""
        if not self.enabled:
            return
        if self._progress is not None:
            self._progress.update(self._task, completed=completed, losses=format_losses(losses, limit=5))
            return
        if (completed - self._start) % self._every and completed != self.total:
            return
        elapsed = time.monotonic() - self._started
        done = completed - self._start
        eta = elapsed / done * (self.total - completed) if done else float("nan")
        print(
            f"{self._title}: {completed}/{self.total} elapsed {elapsed:.0f}s ETA {eta:.0f}s  {format_losses(losses, limit=5)}",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        """Stop the live display."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
