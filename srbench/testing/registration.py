"""Checks every registered object shares: a usable name and the attributes of its contract."""

from __future__ import annotations

import re
from typing import Any

from srbench import capabilities
from srbench.testing.failures import CheckFailed, require

#: names are typed on the command line and stored in results: lowercase, no spaces
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")


def check_name(obj: Any, kind: str) -> None:
    """The name is a lowercase command-line word (``[a-z0-9][a-z0-9._+-]*``)."""
    name = getattr(obj, "name", None)
    require(isinstance(name, str) and bool(NAME_RE.match(name)),
            f"{kind} name {name!r} must be a lowercase word of letters, digits, '.', '_', '+' or '-' "
            "(it is typed on the command line and stored in results)")


def check_protocol(obj: Any, kind: str, protocol: type) -> None:
    """``obj`` has every attribute and method of ``protocol`` (a runtime-checkable Protocol)."""
    if not isinstance(obj, protocol):
        members = sorted(
            name for name in dir(protocol)
            if not name.startswith("_") and name not in {"register"} and not hasattr(obj, name)
        )
        annotations = sorted(name for name in getattr(protocol, "__annotations__", {}) if not hasattr(obj, name))
        missing = sorted(set(members) | set(annotations))
        raise CheckFailed(
            f"{kind} '{getattr(obj, 'name', obj)}' does not implement srbench.interfaces.{protocol.__name__} "
            f"(missing: {', '.join(missing) or 'see the protocol'})"
        )


def check_one_line(obj: Any, kind: str, attribute: str = "description") -> None:
    """``obj.<attribute>`` is a non-empty single line (shown in tables)."""
    text = getattr(obj, attribute, None)
    require(isinstance(text, str) and text.strip() != "" and "\n" not in text,
            f"{kind} '{obj.name}': {attribute} must be a non-empty single line, got {text!r}")


def plugin_loads(info: Any, ctx: Any) -> None:
    """The plugin imported and registered without problems."""
    if info.status == "disabled":
        from srbench.testing.failures import CheckSkipped

        raise CheckSkipped(f"plugin '{info.name}' is disabled ({info.problem})")
    require(info.problem is None, f"plugin '{info.name}' from distribution '{info.distribution}' failed to load: {info.problem}")
    require(bool(info.registers) or _registers_commands(info),
            f"plugin '{info.name}' loaded but registers nothing (no register_* hook returned an object)")


def _registers_commands(info: Any) -> bool:
    return capabilities.register_commands_hook(info.module) is not None
