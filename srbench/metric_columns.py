"""Metric columns: what the metric that computed a results column declares about it.

A metric declares each output column's direction in ``outputs`` and, optionally, how it
is shown in ``display`` (:class:`~srbench.interfaces.ColumnDisplay`) and what it
measures in ``description``. :class:`MetricColumn` is that declaration resolved (defaults
filled in) for one column; evaluation stores it with the results, and leaderboards read
it from the store first, then from the installed plugins, then take the defaults.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from srbench import capabilities
from srbench.errors import InputError
from srbench.interfaces import ColumnDisplay

if TYPE_CHECKING:
    from srbench.plugins import PluginManager


@dataclasses.dataclass(frozen=True)
class MetricColumn:
    """One results column as its metric declares it.

    Attributes:
        name: the column (``snr``, ``snr_axial``).
        metric: the metric that computes it ('' when unknown).
        direction: True (higher is better), False (lower is better) or None (a diagnostic).
        description: what the metric measures ('' when it says nothing).
        display: how leaderboards show it.
    """

    name: str
    metric: str = ""
    direction: bool | None = None
    description: str = ""
    display: ColumnDisplay = ColumnDisplay()

    @property
    def label(self) -> str:
        """The name shown in tables (``SNR axial``)."""
        return self.display.label or self.name.replace("_", " ")

    @property
    def headline(self) -> str:
        """The headline column of this column's group (itself for a headline)."""
        return self.display.group or self.name

    @property
    def is_headline(self) -> bool:
        return not self.display.group

    def sort_key(self) -> tuple[int, str, int, str]:
        """Columns sort by declared order, then group (a detail after its headline), then name."""
        return self.display.order, self.headline, 0 if self.is_headline else 1, self.name

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict (the store's and the export's form)."""
        record = dataclasses.asdict(self)
        setup = record["display"]["setup"]
        record["display"]["setup"] = None if setup is None else list(setup)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> MetricColumn:
        """The inverse of :meth:`to_record`; display fields it lacks take their defaults.

        Raises:
            InputError: the record is not a column declaration.
        """
        try:
            shown = dict(record.get("display") or {})
            known = {f.name for f in dataclasses.fields(ColumnDisplay)}
            if shown.get("setup") is not None:
                label, text = shown["setup"]
                shown["setup"] = (str(label), str(text))
            direction = record.get("direction")
            return cls(
                name=str(record["name"]), metric=str(record.get("metric") or ""),
                direction=None if direction is None else bool(direction),
                description=str(record.get("description") or ""),
                display=ColumnDisplay(**{k: v for k, v in shown.items() if k in known}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a metric column declaration: {dict(record)!r} ({exc})") from None


def metric_columns(metric: Any) -> list[MetricColumn]:
    """The columns one metric object declares (``outputs``, ``display``, ``description``)."""
    display = capabilities.metric_display(metric)
    description = capabilities.description(metric)
    return [
        MetricColumn(name=str(column), metric=capabilities.name(metric),
                     direction=None if direction is None else bool(direction), description=description,
                     display=display.get(column, ColumnDisplay()))
        for column, direction in dict(metric.outputs).items()
    ]


#: Columns the harness itself adds to every scored row (not a metric's): the evaluation
#: mask's voxel fraction (:func:`srbench.measurement.compute_metrics`). Boards show it in the
#: track's header, not as a method column: it is the same for every method.
HARNESS_COLUMNS = MappingProxyType({
    "mask_fraction": MetricColumn(
        name="mask_fraction", metric="srbench", direction=None,
        description="fraction of the HR volume's voxels inside the evaluation mask",
        display=ColumnDisplay(label="Mask", percent=True, order=5),
    ),
})


def declared_columns(pm: PluginManager) -> dict[str, MetricColumn]:
    """Column → its declaration, for every column of the metrics registered in ``pm`` and
    the harness's own columns."""
    return {column.name: column for metric in pm.all("metric") for column in metric_columns(metric)} | dict(HARNESS_COLUMNS)


def resolve_columns(names: Iterable[str], *sources: Mapping[str, MetricColumn]) -> dict[str, MetricColumn]:
    """Column name → its declaration from the first of ``sources`` that has it, in the
    order :meth:`MetricColumn.sort_key` gives.

    Raises:
        InputError: a column no source declares (its direction would be a guess).
    """
    found = {}
    for name in dict.fromkeys(names):
        column = next((source[name] for source in sources if name in source), None)
        if column is None:
            raise InputError(
                f"metric column '{name}' in the results store is not declared by any installed metric plugin; "
                "install the plugin that computed it"
            )
        found[name] = column
    return dict(sorted(found.items(), key=lambda item: item[1].sort_key()))
