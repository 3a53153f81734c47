"""Configuration dataclasses to and from untrusted mappings (presets, command lines, JSON).

A configuration is a dataclass whose fields carry type annotations. :func:`coerce_value`
converts one value (often a command-line string) to its field's type, :func:`apply_options`
does it for a mapping with suggestions for unknown names, and :func:`config_from_dict`
rebuilds and validates a stored configuration, the way a checkpoint's is read. Training
(:mod:`srbench.training.config`) and model loading (:mod:`srbench.models`) both use them,
so neither depends on the other.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

from srbench import capabilities
from srbench.errors import InputError, did_you_mean, quoted

#: the largest integer a stored configuration may hold (sizes, counts, iterations, seeds)
MAX_STORED_INTEGER = 2**31 - 1


def field_types(config_class: type) -> dict[str, Any]:
    """Field name → resolved type annotation of a configuration dataclass."""
    hints = typing.get_type_hints(config_class)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_class)}


def coerce_value(name: str, value: Any, annotation: Any) -> Any:
    """Convert ``value`` (often a command-line string) to the field type ``annotation``.

    Supports ``int``, ``float``, ``bool``, ``str``, ``tuple[T, ...]``, ``tuple[T1, T2, T3]``
    (a comma-separated string; one value is repeated for a fixed-length tuple), ``X | None``
    and ``Literal[...]``. Raises an InputError naming the option.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in {"none", "null"}):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce_value(name, value, arg)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[0] if errors else f"option {name}: invalid value {value!r}")
    if origin is typing.Literal:
        for choice in args:
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        raise InputError(f"option {name}: invalid value {value!r}{did_you_mean(str(value), map(str, args))}")
    if origin is tuple:
        if isinstance(value, str):
            items: list[Any] = [p.strip() for p in value.split(",") if p.strip()] if value.strip() else []
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            items = [value]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce_value(name, item, args[0]) for item in items)
        if args:
            if len(items) == 1 and len(args) > 1 and len(set(args)) == 1:
                items = items * len(args)
            if len(items) != len(args):
                raise InputError(f"option {name}: expected {len(args)} comma-separated values, got {value!r}")
            return tuple(coerce_value(name, item, arg) for item, arg in zip(items, args, strict=True))
        return tuple(items)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise InputError(f"option {name}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise InputError(f"option {name}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip().replace("_", ""))
        except ValueError:
            raise InputError(f"option {name}: expected an integer, got {value!r}") from None
    if annotation is float:
        if isinstance(value, bool):
            raise InputError(f"option {name}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputError(f"option {name}: expected a number, got {value!r}") from None
    if annotation is str:
        return str(value)
    return value


def apply_options(config_class: type, values: dict[str, Any], changes: Mapping[str, Any], *, source: str) -> None:
    """Coerce each of ``changes`` (option name → value) to its field's type into ``values``;
    an unknown name is an InputError naming ``source`` and suggesting the closest field."""
    types_ = field_types(config_class)
    for key, value in changes.items():
        if key not in types_:
            hint = did_you_mean(key, types_)
            if "did you mean" not in hint:
                hint = f" (see `srbench train METHOD --help` or docs/plugins.md for the {len(types_)} options)"
            raise InputError(f"{source}: unknown option {quoted(key)}{hint}")
        values[key] = coerce_value(key, value, types_[key])


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a configuration dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(config_class: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a configuration from :func:`config_to_dict` output and validate it.

    Stored configurations (checkpoints) are untrusted: unknown keys, mistyped values and
    values ``validate()`` refuses are InputErrors.
    """
    if not isinstance(data, Mapping):
        raise InputError(f"stored configuration of {config_class.__name__} must be a JSON object, got {type(data).__name__}")
    values: dict[str, Any] = {}
    source = f"stored configuration of {config_class.__name__}"
    apply_options(config_class, values, data, source=source)
    for name, value in values.items():
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_STORED_INTEGER:
                raise InputError(f"{source}: option {name}: {item} is out of range (at most {MAX_STORED_INTEGER:,})")
    config = config_class(**values)
    validate = capabilities.config_validate_method(config)
    if validate is not None:
        validate()
    return config
