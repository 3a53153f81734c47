"""The conformance battery as plain functions, shared by the pytest plugin
(:mod:`srbench.testing`) and ``srbench plugins --check``.

A :class:`Check` is one property of one kind of registration (``model``, ``trainer``,
``metric``, ``dataset reader``, ``degradation``) or of a ``plugin`` as a whole; a
:class:`Case` applies a check to one registered object. :func:`collect_cases` lists the
cases of the plugins a caller selects, :func:`run_case` runs one and returns an
:class:`Outcome`. Checks marked ``quick=False`` (five one-iteration training runs that
compare seeds end to end) are left out of ``srbench plugins --check`` unless ``--full``
is given; the short two-iteration run with a resume is part of the quick set.
"""

from __future__ import annotations

import dataclasses
import re
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from srbench.errors import InputError, collapse_whitespace, did_you_mean
from srbench.plugins import PluginInfo, canonical_name
from srbench.testing import data_checks, metric_checks, model_checks, registration, trainer_checks
from srbench.testing.context import CheckContext
from srbench.testing.failures import CheckFailed, CheckSkipped

#: the kinds of registration, in report order (``plugin`` = the plugin as a whole)
KINDS = ("plugin", "model", "trainer", "metric", "dataset reader", "degradation")


@dataclasses.dataclass(frozen=True)
class Check:
    """One property every object of ``kind`` must have.

    Attributes:
        kind: one of :data:`KINDS`.
        name: short id (``predict-grid``), unique within the kind.
        function: ``function(obj, ctx)``; returns on success, raises
            :class:`~srbench.testing.failures.CheckFailed` or ``CheckSkipped``.
        quick: part of ``srbench plugins --check`` (seconds, not minutes).
    """

    kind: str
    name: str
    function: Callable[[Any, CheckContext], None]
    quick: bool = True

    @property
    def description(self) -> str:
        """The first paragraph of the check function's docstring, on one line."""
        doc = (self.function.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(doc.split())


CHECKS: tuple[Check, ...] = (
    Check("plugin", "loads", registration.plugin_loads),
    Check("model", "registration", model_checks.registration),
    Check("model", "predict-grid", model_checks.predict_grid),
    Check("model", "predict-output", model_checks.predict_output),
    Check("model", "lr-only", model_checks.lr_only),
    Check("model", "determinism", model_checks.determinism),
    Check("model", "input-dependence", model_checks.input_dependence),
    Check("model", "receptive-field", model_checks.receptive_field),
    Check("model", "checkpoint-roundtrip", model_checks.checkpoint_roundtrip),
    Check("model", "pickle-refusal", model_checks.pickle_refusal),
    Check("trainer", "registration", trainer_checks.registration),
    Check("trainer", "presets", trainer_checks.presets),
    Check("trainer", "step", trainer_checks.step),
    Check("trainer", "seed", trainer_checks.seed),
    Check("trainer", "state-roundtrip", trainer_checks.state_roundtrip),
    Check("trainer", "train-resume", trainer_checks.train_resume),
    Check("trainer", "train-seed", trainer_checks.train_seed, quick=False),
    Check("metric", "registration", metric_checks.registration),
    Check("metric", "columns", metric_checks.columns),
    Check("metric", "symmetry", metric_checks.symmetry),
    Check("metric", "identical-optimal", metric_checks.identical_optimal),
    Check("metric", "constant-volumes", metric_checks.constant_volumes),
    Check("metric", "background-ignored", metric_checks.background_ignored),
    Check("dataset reader", "registration", data_checks.reader_registration),
    Check("dataset reader", "missing-data", data_checks.reader_missing_data),
    Check("degradation", "registration", data_checks.degradation_registration),
    Check("degradation", "shapes", data_checks.degrade_shapes),
    Check("degradation", "determinism", data_checks.degrade_determinism),
)


@dataclasses.dataclass(frozen=True)
class Case:
    """A check applied to one registered object (or, for ``plugin`` checks, to a plugin)."""

    check: Check
    target: str
    plugin: PluginInfo

    @property
    def id(self) -> str:
        """``<kind>-<target>-<check>``, e.g. ``model-trilinear-predict-grid`` (a pytest id)."""
        return f"{self.check.kind.replace(' ', '-')}-{self.target}-{self.check.name}"

    def subject(self, pm: Any) -> Any:
        """The object the check receives."""
        if self.check.kind == "plugin":
            return self.plugin
        return pm.registries[self.check.kind][self.target].obj


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The result of one case: ``status`` is ``passed``, ``failed`` or ``skipped``."""

    case: Case
    status: str
    message: str = ""
    seconds: float = 0.0


def select_plugins(pm: Any, names: Iterable[str] = ()) -> list[PluginInfo]:
    """The plugins named by entry-point or distribution name (all of them for none or ``all``).

    Raises:
        InputError: a name matches no plugin (with a suggestion).
    """
    wanted = [n for n in names if n and n != "all"]
    if not wanted:
        return list(pm.plugins)
    chosen: list[PluginInfo] = []
    known = {canonical_name(p.name) for p in pm.plugins} | {canonical_name(p.distribution) for p in pm.plugins}
    for name in wanted:
        key = canonical_name(name)
        matches = [p for p in pm.plugins if key in {canonical_name(p.name), canonical_name(p.distribution)}]
        if not matches:
            raise InputError(f"no srbench plugin or distribution named '{name}' is installed{did_you_mean(key, known)}")
        chosen.extend(p for p in matches if p not in chosen)
    return chosen


def collect_cases(pm: Any, plugins: Sequence[PluginInfo], *, quick_only: bool = False,
                  targets: Iterable[str] = ()) -> list[Case]:
    """Every case of ``plugins``: the plugin checks, then each registered object's checks.

    Args:
        pm: the plugin manager holding the registrations.
        plugins: from :func:`select_plugins`.
        quick_only: leave out checks with ``quick=False``.
        targets: when given, only objects with these names (plugin checks still run).
    """
    only = set(targets)
    checks = [check for check in CHECKS if check.quick or not quick_only]
    cases: list[Case] = []
    for plugin in plugins:
        cases.extend(Case(check=check, target=plugin.name, plugin=plugin) for check in checks if check.kind == "plugin")
        for kind in KINDS[1:]:
            for name in plugin.registers.get(kind, []):
                if not only or name in only:
                    cases.extend(Case(check=check, target=name, plugin=plugin) for check in checks if check.kind == kind)
    return cases


def _one_line_error(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    location = f" (at {where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno})" if where else ""
    return f"raised {type(exc).__name__}: {collapse_whitespace(str(exc))}{location}"


def run_case(case: Case, ctx: CheckContext) -> Outcome:
    """Run one case; any exception is a failure whose message says where it came from."""
    start = time.perf_counter()
    try:
        case.check.function(case.subject(ctx.pm), ctx)
    except CheckSkipped as exc:
        return Outcome(case, "skipped", str(exc), time.perf_counter() - start)
    except CheckFailed as exc:
        return Outcome(case, "failed", str(exc), time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - a crash inside the plugin is a failed check
        return Outcome(case, "failed", _one_line_error(exc), time.perf_counter() - start)
    return Outcome(case, "passed", "", time.perf_counter() - start)


_STATUS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


def format_outcome(outcome: Outcome) -> str:
    """One report line (plus an indented message for failures and skips)."""
    case = outcome.case
    line = f"{_STATUS[outcome.status]}  {case.check.kind:<14} {case.target:<16} {case.check.name:<21} {outcome.seconds:6.2f} s"
    if outcome.message:
        message = re.sub(r"\s*\n\s*", "\n      ", outcome.message.strip())
        line += f"\n      {message}"
    return line


def summary(outcomes: Sequence[Outcome]) -> str:
    """``N passed, M failed, K skipped in S s``."""
    counts = {status: sum(o.status == status for o in outcomes) for status in _STATUS}
    seconds = sum(o.seconds for o in outcomes)
    return f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped in {seconds:.1f} s"
