"""The plugin manager: entry-point discovery, guarded loading, registries and listing.

Every feature of srbench, the built-ins included, arrives through the ``srbench``
entry-point group. Loading is guarded: a plugin that fails to import, raises in a hook,
returns a malformed registration or targets another hook API version is skipped with a
one-line warning that names its distribution. Environment controls:

- ``SRBENCH_STRICT_PLUGINS=1``: any plugin problem is fatal (for CI).
- ``SRBENCH_DISABLE_PLUGINS=a,b``: skip these plugins (entry-point or distribution names).
- ``SRBENCH_PLUGINS_ALLOW=a,b``: load only these plugins (built-ins are always loaded).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from srbench import hookspecs
from srbench.errors import PluginError, unknown_name

ENTRY_POINT_GROUP = "srbench"
CORE_DISTRIBUTION = "srbench-mri"

#: hook name → (registry kind, attributes every registered object must have)
REGISTRATION_HOOKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "register_models": ("model", ("name", "load")),
    "register_trainers": ("trainer", ("name", "build", "presets", "config_class")),
    "register_datasets": ("dataset reader", ("name", "key", "subjects")),
    "register_metrics": ("metric", ("name", "outputs", "compute")),
    "register_degradations": ("degradation", ("name", "degrade")),
}


@dataclasses.dataclass
class PluginInfo:
    """One loaded (or skipped) plugin, as shown by ``srbench plugins``."""

    name: str
    distribution: str
    version: str
    module: Any = None
    registers: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    problem: str | None = None


@dataclasses.dataclass
class Registered:
    """An object registered by a plugin, remembering who registered it."""

    obj: Any
    plugin: PluginInfo


def _env_list(name: str) -> set[str]:
    return {item.strip() for item in os.environ.get(name, "").split(",") if item.strip()}


def strict_mode() -> bool:
    """True when ``SRBENCH_STRICT_PLUGINS`` asks for plugin problems to be fatal."""
    return os.environ.get("SRBENCH_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class PluginManager:
    """Loads plugins and holds the registries of models, trainers, metrics, ...

    Args:
        disabled: plugin or distribution names to skip (added to ``SRBENCH_DISABLE_PLUGINS``).
        strict: make every plugin problem an error (default: ``SRBENCH_STRICT_PLUGINS``).
        entry_points_override: entry points to load instead of the installed ones (tests).
    """

    def __init__(
        self,
        *,
        disabled: Iterable[str] = (),
        strict: bool | None = None,
        entry_points_override: Iterable[EntryPoint] | None = None,
    ) -> None:
        self.strict = strict_mode() if strict is None else strict
        self.disabled = _env_list("SRBENCH_DISABLE_PLUGINS") | set(disabled)
        self.allowed = _env_list("SRBENCH_PLUGINS_ALLOW")
        self.hooks = pluggy.PluginManager("srbench")
        self.hooks.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.registries: dict[str, dict[str, Registered]] = {kind: {} for kind, _ in REGISTRATION_HOOKS.values()}
        eps = entry_points(group=ENTRY_POINT_GROUP) if entry_points_override is None else entry_points_override
        for ep in sorted(eps, key=lambda e: (_distribution_name(e) != CORE_DISTRIBUTION, e.name)):
            self._load(ep)

    # -- loading ---------------------------------------------------------------------
    def _problem(self, info: PluginInfo, message: str) -> None:
        info.problem = message
        text = f"plugin '{info.name}' from distribution '{info.distribution}' skipped: {message}"
        if self.strict:
            raise PluginError(text + " (SRBENCH_STRICT_PLUGINS is set)")
        _warn(text)

    def _load(self, ep: EntryPoint) -> None:
        distribution = _distribution_name(ep)
        info = PluginInfo(name=ep.name, distribution=distribution, version=_distribution_version(ep))
        if ep.name in self.disabled or distribution in self.disabled:
            info.problem = "disabled"
            self.plugins.append(info)
            return
        if self.allowed and distribution != CORE_DISTRIBUTION and not (
            ep.name in self.allowed or distribution in self.allowed
        ):
            info.problem = "not in SRBENCH_PLUGINS_ALLOW"
            self.plugins.append(info)
            return
        self.plugins.append(info)
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure of a plugin is reported
            self._problem(info, f"import failed: {type(exc).__name__}: {exc}")
            return
        supported = getattr(module, "SRBENCH_API_VERSIONS", None)
        major = hookspecs.API_VERSION.split(".")[0]
        if supported is not None and major not in {str(v).split(".")[0] for v in supported}:
            self._problem(
                info,
                f"it supports srbench hook API {', '.join(map(str, supported))} but this srbench has "
                f"API {hookspecs.API_VERSION}; upgrade '{distribution}' (or install an srbench-mri "
                f"release with API {', '.join(map(str, supported))})",
            )
            return
        info.module = module
        try:
            self.hooks.register(module, name=f"{distribution}:{ep.name}")
        except Exception as exc:  # noqa: BLE001 - malformed hookimpls
            self._problem(info, f"invalid hook implementation: {exc}")
            return
        staged: dict[str, list[Any]] = {}
        for hook_name, (kind, required) in REGISTRATION_HOOKS.items():
            impl = getattr(module, hook_name, None)
            if impl is None or not hasattr(impl, "srbench_impl"):
                continue
            try:
                result = impl()
            except Exception as exc:  # noqa: BLE001 - a hook that raises is reported
                self.hooks.unregister(module)
                self._problem(info, f"hook {hook_name} raised {type(exc).__name__}: {exc}")
                return
            objects = list(result or [])
            for obj in objects:
                missing = [attr for attr in required if not hasattr(obj, attr)]
                if missing or not isinstance(getattr(obj, "name", None), str):
                    self.hooks.unregister(module)
                    self._problem(
                        info,
                        f"hook {hook_name} returned a malformed {kind} {obj!r} "
                        f"(missing: {', '.join(missing) or 'a string name'})",
                    )
                    return
            staged[kind] = objects
        for kind, objects in staged.items():
            registry = self.registries[kind]
            for obj in objects:
                if obj.name in registry:
                    other = registry[obj.name].plugin
                    raise PluginError(
                        f"{kind} name '{obj.name}' is registered twice: by plugin '{other.name}' "
                        f"(distribution '{other.distribution}') and by plugin '{info.name}' "
                        f"(distribution '{info.distribution}'); uninstall or disable one "
                        f"(--disable-plugin / SRBENCH_DISABLE_PLUGINS)"
                    )
                registry[obj.name] = Registered(obj=obj, plugin=info)
                info.registers.setdefault(kind, []).append(obj.name)

    # -- lookup ----------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        """Sorted names registered under ``kind`` (``model``, ``trainer``, ``metric``...)."""
        return sorted(self.registries[kind])

    def get(self, kind: str, name: str) -> Any:
        """The object registered as ``name``; unknown names raise an InputError with a suggestion."""
        registry = self.registries[kind]
        if name not in registry:
            raise unknown_name(kind, name, registry)
        return registry[name].obj

    def owner(self, kind: str, name: str) -> PluginInfo:
        """The plugin that registered ``name``."""
        self.get(kind, name)
        return self.registries[kind][name].plugin

    def all(self, kind: str) -> list[Any]:
        """Every object registered under ``kind``, sorted by name."""
        return [self.registries[kind][name].obj for name in self.names(kind)]

    def add_commands(self, cli: Any) -> None:
        """Call every plugin's ``register_commands`` hook with the click group, guarded."""
        for info in self.plugins:
            module = info.module
            impl = getattr(module, "register_commands", None) if module is not None else None
            if impl is None or not hasattr(impl, "srbench_impl") or info.problem:
                continue
            try:
                impl(cli=cli)
            except Exception as exc:  # noqa: BLE001
                self._problem(info, f"hook register_commands raised {type(exc).__name__}: {exc}")

    def versions(self) -> dict[str, str]:
        """Distribution → version of every loaded plugin (for run records)."""
        return {p.distribution: p.version for p in self.plugins if p.problem is None}


def _distribution_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else "unknown"


def _distribution_version(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else "unknown"


_MANAGER: PluginManager | None = None


def get_plugin_manager(*, disabled: Iterable[str] = (), reload: bool = False) -> PluginManager:
    """The process-wide plugin manager (built on first use)."""
    global _MANAGER
    if _MANAGER is None or reload or disabled:
        _MANAGER = PluginManager(disabled=disabled)
    return _MANAGER
