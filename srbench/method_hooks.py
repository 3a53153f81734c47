"""The hook implementations of a plugin whose objects are learned methods (models and trainers).

A method plugin's ``plugin.py`` is then one line beside its API versions::

    SRBENCH_API_VERSIONS = ("1",)

    register_models, register_trainers = method_hooks(models=[MODEL], trainers=[TRAINER])

A plugin that also registers datasets, metrics, degradations or commands writes those hooks
as ``@srbench.hookimpl`` functions (see :mod:`srbench.hookspecs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from srbench.hookspecs import hookimpl
from srbench.interfaces import SRModel, Trainer


def method_hooks(
    *, models: Sequence[SRModel], trainers: Sequence[Trainer] = ()
) -> tuple[Callable[[], list[SRModel]], Callable[[], list[Trainer]]]:
    """``register_models`` and ``register_trainers`` implementations returning ``models`` and
    ``trainers`` (bind them to those two names in the plugin module)."""

    @hookimpl
    def register_models() -> list[SRModel]:
        return list(models)

    @hookimpl
    def register_trainers() -> list[Trainer]:
        return list(trainers)

    return register_models, register_trainers
