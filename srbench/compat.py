"""Adapters that keep plugins written against earlier versions of hook API 1 working.

Hook API 1.0 as documented before 2026-11-30 built a learned method's model with
``srbench.training.checkpoint.CheckpointModel(name=, description=, build_network=,
module_key=, native_scale=, needs_checkpoint=, config_class=None)``, whose
``build_network`` received the stored configuration as a dict. Since then the helper is
:class:`srbench.models.CheckpointModel`, ``config_class`` is required and ``build_network``
receives an instance of it. :func:`api1_checkpoint_model` (still importable under the old
name from the old module) builds the current helper from the old arguments: the
configuration is rebuilt as ``config_class`` when one is given and checked as today,
then handed to ``build_network`` as a dict; without ``config_class`` the stored
configuration is passed as it is, as API 1.0 did. Its first use in a process prints one
line on stderr saying how to upgrade (docs/plugins.md, "Migrating from hook API 1.0").
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

_NOTICED: set[str] = set()

#: the line printed once per process for each method that still uses the API 1.0 helper
DEPRECATION = (
    "note: method '{name}' uses srbench.training.checkpoint.CheckpointModel (hook API 1.0): it works through an "
    "adapter; import CheckpointModel from srbench.models, pass config_class= and let build_network take the config "
    "object (docs/plugins.md, 'Migrating from hook API 1.0')"
)


def _as_dict(config: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return dict(config)


def api1_checkpoint_model(*, name: str, description: str, build_network: Callable[[dict[str, Any]], Any],
                          module_key: str = "generator", native_scale: tuple[int, int, int] | None = None,
                          needs_checkpoint: bool = True, config_class: type | None = None) -> Any:
    """The current :class:`srbench.models.CheckpointModel` for the arguments of API 1.0's helper."""
    from srbench.models import CheckpointModel, StoredConfiguration

    if name not in _NOTICED:
        _NOTICED.add(name)
        print(DEPRECATION.format(name=name), file=sys.stderr)
    return CheckpointModel(
        name=name, description=description, config_class=config_class or StoredConfiguration,
        build_network=lambda config: build_network(_as_dict(config)), module_key=module_key,
        native_scale=native_scale, needs_checkpoint=needs_checkpoint,
    )
