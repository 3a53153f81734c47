"""Per-subject outcomes on stdout, as ``evaluate`` and ``score`` print them."""

from __future__ import annotations

import csv
import json
import sys

import click

from srbench.errors import escape_controls
from srbench.io.json_numbers import json_number


class RowPrinter:
    """Prints per-subject outcomes on stdout as a table, JSON lines or CSV."""

    def __init__(self, *, output_format: str, columns: list[str]) -> None:
        self.output_format = output_format
        self.columns = columns
        self.rows: list[dict] = []
        self.writer = None
        if output_format == "csv":
            self.writer = csv.DictWriter(sys.stdout, fieldnames=["method", "track", "subject", "status", *columns], extrasaction="ignore")
            self.writer.writeheader()

    def add(self, outcome) -> None:
        row = {key: escape_controls(value) if isinstance(value, str) else value for key, value in outcome.as_row().items()}
        if self.output_format == "json":
            click.echo(json.dumps({k: json_number(v) for k, v in row.items()}))
        elif self.output_format == "csv":
            self.writer.writerow(row)
            sys.stdout.flush()
        else:
            self.rows.append(row)

    def finish(self) -> None:
        if self.output_format != "table" or not self.rows:
            return
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        frame = frame[[c for c in ["method", "track", "subject", "status", *self.columns] if c in frame.columns]]
        click.echo(frame.to_markdown(index=False, floatfmt=".4f"))
