"""How a conformance check reports: it passes by returning, fails with :class:`CheckFailed`
(a readable one-paragraph message for the plugin author) or is skipped with
:class:`CheckSkipped` (the reason it does not apply)."""

from __future__ import annotations


class CheckFailed(AssertionError):
    """The plugin does not meet the contract; the message says what was expected and what came back."""


class CheckSkipped(Exception):
    """The check does not apply to this object (e.g. a checkpoint check for a model without weights)."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)
