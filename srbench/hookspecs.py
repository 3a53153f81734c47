"""Every hook srbench calls. Each hook is implemented by plugins with ``@srbench.hookimpl``.

Plugins are modules (or objects) named by an entry point in the ``srbench`` group::

    [project.entry-points.srbench]
    mymethod = "srbench_mymethod.plugin"

The ``register_*`` hooks are called once, when the plugin manager is built, and each
returns a list of objects implementing a contract from :mod:`srbench.interfaces`.
Names are unique across all plugins; a clash is an error naming both distributions.
"""

from __future__ import annotations

from typing import Any

import pluggy

#: Version of this hook API. A plugin module may declare the API major versions it
#: supports with a module attribute ``SRBENCH_API_VERSIONS = ("1",)``; a plugin that
#: does not list the running major version is skipped with a message saying what to upgrade.
#: Every change is listed in CHANGELOG.md; see docs/plugins.md, "Versions and migration".
API_VERSION = "1.2"

hookspec = pluggy.HookspecMarker("srbench")
hookimpl = pluggy.HookimplMarker("srbench")


@hookspec
def register_models() -> list[Any]:
    """Return the :class:`~srbench.interfaces.SRModel` objects this plugin provides.

    Called once when srbench starts. Each model's ``name`` is what users type in
    ``srbench predict NAME`` and ``srbench evaluate --method NAME``.
    """


@hookspec
def register_trainers() -> list[Any]:
    """Return the :class:`~srbench.interfaces.Trainer` objects this plugin provides.

    Called once when srbench starts. A trainer's ``name`` must equal the name of the
    model it trains; ``srbench train NAME`` builds its algorithm and runs the core loop.
    """


@hookspec
def register_datasets() -> list[Any]:
    """Return the :class:`~srbench.interfaces.DatasetReader` objects this plugin provides.

    Called once when srbench starts. datasets.toml picks a reader per dataset with
    ``reader = "NAME"`` or implicitly by the reader's ``key`` (``paths``, ``bids``).
    """


@hookspec
def register_metrics() -> list[Any]:
    """Return the :class:`~srbench.interfaces.Metric` objects this plugin provides.

    Called once when srbench starts. ``srbench evaluate`` computes every registered
    metric for every subject; each output column becomes a leaderboard column, ranked by
    its declared direction, or shown signed and unranked when the metric declares it a
    diagnostic (direction None).
    """


@hookspec
def register_degradations() -> list[Any]:
    """Return the :class:`~srbench.interfaces.Degradation` objects this plugin provides.

    Called once when srbench starts. A track picks one with ``degradation = "NAME"``;
    the default is ``paper-linear``.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``srbench`` command group ``cli``.

    Called once when the command line is built, after the built-in commands exist
    (``cli.add_command(...)`` or the ``@cli.command()`` decorator).
    """
