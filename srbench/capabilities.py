"""Every optional capability of a plugin object, with its default, read in one place.

The protocols in :mod:`srbench.interfaces` name what each plugin object must have. What it
*may* declare is listed in :data:`OPTIONAL`, together with what srbench assumes when it is
absent, and the harness reads an optional attribute only through the functions below. That
list is the whole contract beyond the protocols; docs/plugins.md renders it ("Optional
capabilities"). A default of "none" means the method is absent: its function returns None
and the harness does what the meaning column says it does without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: (object, attribute, default, meaning) of every optional capability
OPTIONAL: tuple[tuple[str, str, str, str], ...] = (
    ("model (SRModel)", "`needs_checkpoint`", "False", "`load` needs trained weights"),
    ("model", "`patch_inference`", "True", "inference options (tiles, precision) apply to it"),
    ("predictor", "`native_scales`", "None", "per-axis scales `predict` gets as they are"),
    ("predictor", "`context_need()`", "none", "its receptive field (a `ContextNeed`)"),
    ("predictor", "`inference_plan()`", "none", "how `predict` tiles a volume (a `TilePlan`)"),
    ("metric", "`masked`", "False", "takes `mask=` and scores inside it"),
    ("metric", "`display`", "`{}`", "column → `ColumnDisplay`"),
    ("any plugin object", "`description`", "`\"\"`", "one line for listings and boards"),
    ("degradation", "`uses_seed`", "True", "draws noise, so a seed changes its output"),
    ("degradation", "`with_options()`", "none", "takes options (`degradation_options`)"),
    ("dataset reader", "`options`", "`()`", "the extra keys of its dataset tables"),
    ("dataset reader", "`validate_table()`", "none", "checks its own keys (else: strings only)"),
    ("trainer", "`default_preset`", "None", "the preset `srbench train` uses by default"),
    ("trainer", "`prepare()`", "none", "an earlier training stage (resources for build)"),
    ("trainer config", "`validate()`", "none", "checks its values beyond their types"),
    ("plugin module", "`register_commands`", "none", "a hook adding `srbench` subcommands"),
    ("plugin module", "`SRBENCH_API_VERSIONS`", "None", "the hook API versions it was written for"),
)


def _method(obj: Any, name: str) -> Callable[..., Any] | None:
    value = getattr(obj, name, None)
    return value if callable(value) else None


def needs_checkpoint(model: Any) -> bool:
    """Whether ``model.load`` needs trained weights (default False)."""
    return bool(getattr(model, "needs_checkpoint", False))


def patch_inference(model: Any) -> bool:
    """Whether inference options (tiles, batch, precision) apply to ``model`` (default True)."""
    return bool(getattr(model, "patch_inference", True))


def native_scales(predictor: Any) -> Any:
    """The predictor's declared ``native_scales`` as it is (None when it declares none); its
    meaning and checks are :func:`srbench.scale_path.declares_native`."""
    return getattr(predictor, "native_scales", None)


def context_need_method(predictor: Any) -> Callable[[], Any] | None:
    """The predictor's ``context_need()`` (None when it declares no receptive field)."""
    return _method(predictor, "context_need")


def inference_plan_method(predictor: Any) -> Callable[..., Any] | None:
    """The predictor's ``inference_plan(shape, *, scale, settings)`` (None when it plans no tiles)."""
    return _method(predictor, "inference_plan")


def masked(metric: Any) -> bool:
    """Whether ``metric`` takes the evaluation mask as ``mask=`` (default False: it gets the
    prediction with the reference's background instead)."""
    return bool(getattr(metric, "masked", False))


def metric_display(metric: Any) -> dict[str, Any]:
    """Column → how boards show it, as ``metric.display`` declares it (default ``{}``)."""
    return dict(getattr(metric, "display", None) or {})


def description(obj: Any) -> str:
    """The object's one-line ``description`` ('' when it has none)."""
    return str(getattr(obj, "description", "") or "")


def name(obj: Any) -> str:
    """The object's ``name`` ('' when it has none, which registration refuses)."""
    value = getattr(obj, "name", None)
    return value if isinstance(value, str) else ""


def uses_seed(degradation: Any) -> bool:
    """Whether ``degradation`` draws noise (default True: an undeclared one is assumed to)."""
    return bool(getattr(degradation, "uses_seed", True))


def with_options_method(degradation: Any) -> Callable[[dict[str, Any]], Any] | None:
    """The degradation's ``with_options(options)`` (None: it takes no options)."""
    return _method(degradation, "with_options")


def reader_options(reader: Any) -> tuple[str, ...]:
    """The extra keys a dataset reader's tables may hold (default none)."""
    return tuple(getattr(reader, "options", ()) or ())


def validate_table_method(reader: Any) -> Callable[[Any], Any] | None:
    """The reader's ``validate_table(table)`` (None: its keys must be strings or lists of strings)."""
    return _method(reader, "validate_table")


def default_preset(trainer: Any) -> str | None:
    """The trainer's declared ``default_preset`` (None when it declares none)."""
    preset = getattr(trainer, "default_preset", None)
    return str(preset) if preset else None


def prepare_method(trainer: Any) -> Callable[..., Any] | None:
    """The trainer's ``prepare(config, *, volumes, degradation, run_dir, resume, device, progress)``
    (None: a single-stage method)."""
    return _method(trainer, "prepare")


def config_validate_method(config: Any) -> Callable[[], Any] | None:
    """A training configuration's ``validate()`` (None: only its field types are checked)."""
    return _method(config, "validate")


def supported_api_versions(module: Any) -> Any:
    """A plugin module's ``SRBENCH_API_VERSIONS`` as declared (None: it declares none, and
    is loaded as written for the running version); :mod:`srbench.plugins` checks it."""
    return getattr(module, "SRBENCH_API_VERSIONS", None)


def register_commands_hook(module: Any) -> Callable[..., Any] | None:
    """A plugin module's ``register_commands`` hook implementation (None when it adds no command)."""
    impl = getattr(module, "register_commands", None)
    return impl if impl is not None and hasattr(impl, "srbench_impl") else None
