"""Wall time per evaluation stage, so the slowest stage of a run is visible.

Stages: ``load`` (read the HR NIfTI), ``degrade`` (make the LR input), ``predict`` (the
method, planning included), ``intensity convention`` (scaling SR and HR for the metrics),
``metric NAME`` (one per metric plugin), ``store`` (write the rows), ``save`` (keep the
figure subject's volumes).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping


class StageTimes:
    """Accumulated wall seconds per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block and add it to ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + float(seconds)

    def merge(self, others: Iterable[Mapping[str, float]]) -> StageTimes:
        """Add every mapping of ``others`` (e.g. the outcomes' ``seconds``); returns self."""
        for other in others:
            for name, seconds in other.items():
                self.add(name, seconds)
        return self

    def summary(self) -> str:
        """One line, slowest stage first: ``predict 81.2 s (63%), metric lpips 30.1 s (23%), ...``."""
        total = sum(self.seconds.values()) or 1.0
        ranked = sorted(self.seconds.items(), key=lambda item: -item[1])
        return ", ".join(f"{name} {seconds:.1f} s ({100 * seconds / total:.0f}%)" for name, seconds in ranked)
