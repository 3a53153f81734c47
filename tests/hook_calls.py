"""Which srbench hooks the test session calls (checked by tests/test_hook_docs.py).

While the session runs, every srbench plugin manager built in the pytest process reports
its hook calls through pluggy's call monitoring (``add_hookcall_monitoring``); a call
counts when at least one plugin implements the hook. Commands run in a subprocess are
not seen: a hook must be called by an in-process test.

tests/conftest.py installs the recording (:func:`install`), and moves the test that reads
it to the end of the session (:data:`FINAL_TEST`). That test only judges a run of the
whole default suite (:func:`whole_default_suite`): a subset may well call fewer hooks.
"""

from __future__ import annotations

from typing import Any

import pluggy
import pytest

#: names of the srbench hooks called so far in this session
CALLED: set[str] = set()

#: the test reading :data:`CALLED`, run after every other test
FINAL_TEST = "tests/test_hook_docs.py::test_every_hook_is_called_by_the_suite"

#: ``-m`` expressions that still select every test that calls a hook
WHOLE_SUITE_MARKERS = ("", "not slow")

_ORIGINAL = pluggy.PluginManager


def _before(hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
    if hook_impls:
        CALLED.add(hook_name)


def _after(outcome: Any, hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
    return None


class RecordingPluginManager(_ORIGINAL):
    """A pluggy plugin manager that records the hook calls of project ``srbench``."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        if project_name == "srbench":
            self.add_hookcall_monitoring(_before, _after)


def install() -> None:
    """Make every pluggy plugin manager built from now on a :class:`RecordingPluginManager`."""
    pluggy.PluginManager = RecordingPluginManager


def uninstall() -> None:
    pluggy.PluginManager = _ORIGINAL


def whole_default_suite(config: pytest.Config) -> bool:
    """True when the session runs the default test paths, unfiltered but for ``-m "not slow"``."""
    option = config.option
    return (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not option.keyword
        and not getattr(option, "deselect", None)
        and not getattr(option, "lf", False)
        and not getattr(option, "stepwise", False)
        and (option.markexpr or "").strip() in WHOLE_SUITE_MARKERS
    )
