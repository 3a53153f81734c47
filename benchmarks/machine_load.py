"""How busy other processes kept the CPU while a measurement ran (Linux ``/proc/stat``).

On a shared machine a timing is only meaningful next to the load it ran under.
:class:`ForeignLoad` reads the machine's busy CPU time before and after a block and
subtracts what this process and its finished children used, giving the average number
of cores other processes kept busy. Small-kernel workloads (narrow networks, many
short OpenMP parallel regions) slow down far more than that number suggests, because
every parallel region waits for its slowest thread.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

_STAT = Path("/proc/stat")


def _busy_seconds() -> float | None:
    """Busy CPU seconds of the whole machine since boot (all cores), or None off Linux."""
    try:
        fields = _STAT.read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class ForeignLoad:
    """``with ForeignLoad() as load: ...`` then ``load.cores``: mean cores used by others (None off Linux)."""

    def __enter__(self) -> ForeignLoad:
        self.cores: float | None = None
        self._start = (_busy_seconds(), _own_seconds(), time.perf_counter())
        return self

    def __exit__(self, *exc: object) -> None:
        busy0, own0, t0 = self._start
        busy1 = _busy_seconds()
        elapsed = time.perf_counter() - t0
        if busy0 is None or busy1 is None or elapsed <= 0:
            return
        self.cores = max(0.0, (busy1 - busy0) - (_own_seconds() - own0)) / elapsed


def format_cores(value: float | None) -> str:
    """``load.cores`` for a table cell: one decimal, or ``n/a`` off Linux."""
    return "n/a" if value is None else f"{value:.1f}"
