"""The pytest side of the conformance kit (imported by :mod:`srbench.testing`).

Two ways in, one battery (:mod:`srbench.testing.checks`):

- ``pytest -p srbench.testing [--srbench-distribution NAME]...`` (or ``pytest_plugins =
  ["srbench.testing"]`` in a top-level conftest) adds one test item per case to the
  session, with ids ``srbench-conformance::<distribution>::<kind>-<name>-<check>``. The
  distributions come from ``--srbench-distribution`` (repeatable; ``all`` = every
  installed plugin), else the ini option ``srbench_distributions``, else every installed
  plugin. When the command line names individual tests (``path::test``) and no
  ``--srbench-distribution`` is given, nothing is added.
- ``test_conformance = conformance_tests("srbench-mri-NAME")`` in a test module gives a
  parametrised test function; this works under any pytest invocation, including a
  monorepo run from its root.

``--srbench-quick`` keeps only the quick checks (those of ``srbench plugins --check``);
``-m srbench_conformance`` deselects everything but the battery.
The battery runs on the CPU in a temporary directory removed at exit.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from srbench.errors import SrbenchError
from srbench.testing.checks import Case, collect_cases, select_plugins
from srbench.testing.context import CheckContext
from srbench.testing.failures import CheckFailed, CheckSkipped

_CONTEXT: CheckContext | None = None


def shared_context() -> CheckContext:
    """The process-wide check context (plugin manager + scratch directory), built once."""
    global _CONTEXT
    if _CONTEXT is None:
        from srbench.plugins import get_plugin_manager

        workdir = Path(tempfile.mkdtemp(prefix="srbench-conformance-"))
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
        _CONTEXT = CheckContext(pm=get_plugin_manager(), workdir=workdir)
    return _CONTEXT


def run_check(case: Case, ctx: CheckContext) -> None:
    """Run ``case`` the pytest way: a skip is a skip, a failed check a short failure report,
    any other exception propagates with its traceback (the plugin crashed)."""
    failure = None
    try:
        case.check.function(case.subject(ctx.pm), ctx)
    except CheckSkipped as exc:
        pytest.skip(str(exc))
    except CheckFailed as exc:
        failure = f"{case.id}: {exc}"
    if failure is not None:
        pytest.fail(failure, pytrace=False)


def conformance_tests(*distributions: str, quick: bool = False) -> Callable[..., None]:
    """A test function parametrised over the battery of ``distributions`` (all when none).

    Assign it to a ``test_*`` name in a test module::

        test_conformance = conformance_tests("srbench-mri-mymethod")

    Raises:
        srbench.errors.InputError: a distribution is not installed (a collection error).
    """
    ctx = shared_context()
    cases = collect_cases(ctx.pm, select_plugins(ctx.pm, distributions), quick_only=quick)
    params = [pytest.param(case, id=case.id) for case in cases]

    @pytest.mark.parametrize("srbench_case", params)
    def test_conformance(srbench_case: Case) -> None:
        run_check(srbench_case, ctx)

    test_conformance.__doc__ = f"srbench conformance battery of {', '.join(distributions) or 'every installed plugin'}."
    return test_conformance


# -- the -p srbench.testing plugin -------------------------------------------------------
#: every conformance item carries this marker: ``-m srbench_conformance`` runs only the battery
MARKER = "srbench_conformance"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a case of the srbench plugin conformance battery")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("srbench", "srbench plugin conformance kit")
    group.addoption(
        "--srbench-distribution", action="append", default=[], metavar="NAME",
        help="check the plugins of this distribution (or plugin name); repeatable; 'all' = every installed plugin",
    )
    group.addoption("--srbench-quick", action="store_true", default=False,
                    help="only the quick conformance checks (those of `srbench plugins --check`)")
    parser.addini("srbench_distributions", type="args", default=[],
                  help="distributions whose plugins the srbench conformance kit checks (default: all installed)")


class ConformanceGroup(pytest.Collector):
    """The cases of the selected distributions (``names``), one item per case."""

    def __init__(self, *, names: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.names = names

    def collect(self) -> list[pytest.Item]:
        try:
            ctx = shared_context()
            plugins = select_plugins(ctx.pm, self.names)
        except SrbenchError as exc:
            raise self.CollectError(f"srbench conformance kit (--srbench-distribution): {exc}") from None
        cases = collect_cases(ctx.pm, plugins, quick_only=bool(self.config.getoption("srbench_quick")))
        items = []
        for case in cases:
            module = getattr(case.plugin.module, "__file__", None)
            extra = {"path": Path(module)} if module else {}
            items.append(ConformanceItem.from_parent(self, name=f"{case.plugin.distribution}::{case.id}", case=case, ctx=ctx, **extra))
        return items


class ConformanceItem(pytest.Item):
    """One conformance case as a pytest item."""

    def __init__(self, *, case: Case, ctx: CheckContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.ctx = ctx
        self.add_marker(MARKER)

    def runtest(self) -> None:
        run_check(self.case, self.ctx)

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, f"srbench conformance: {self.case.check.kind} '{self.case.target}' {self.case.check.name}"


def _requested(config: pytest.Config) -> list[str] | None:
    """The distributions to check, or None when the plugin should add nothing."""
    names = [n.strip() for value in config.getoption("srbench_distribution") for n in value.split(",") if n.strip()]
    if names:
        return names
    if any("::" in str(arg) for arg in config.args):
        return None
    return list(config.getini("srbench_distributions")) or ["all"]


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    """Add the battery next to the session's top-level collectors."""
    report = yield
    if isinstance(collector, pytest.Session) and report.passed:
        names = _requested(collector.config)
        if names is not None:
            group = ConformanceGroup.from_parent(collector, name="srbench-conformance", nodeid="srbench-conformance", names=names)
            report.result.append(group)
    return report


def pytest_unconfigure(config: pytest.Config) -> None:
    global _CONTEXT
    if _CONTEXT is not None:
        shutil.rmtree(_CONTEXT.workdir, ignore_errors=True)
        _CONTEXT = None
