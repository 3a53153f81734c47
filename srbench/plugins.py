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
import re
import sys
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from srbench import capabilities
from srbench import hookspecs
from srbench.errors import InputError, PluginError, collapse_whitespace, did_you_mean, quoted, unknown_name
from srbench.io.paths import is_safe_name

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
    #: True when the user skipped it (``--disable-plugin``, allow list): not an error
    disabled_by_user: bool = False

    @property
    def status(self) -> str:
        """``ok``, ``disabled`` (skipped on request) or ``error`` (skipped because broken)."""
        if self.problem is None:
            return "ok"
        return "disabled" if self.disabled_by_user else "error"


@dataclasses.dataclass
class Registered:
    """An object registered by a plugin, remembering who registered it."""

    obj: Any
    plugin: PluginInfo


def canonical_name(name: str) -> str:
    """A plugin or distribution name compared the way pip does (PEP 503): ``Foo_Bar`` == ``foo-bar``."""
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def _env_list(name: str) -> set[str]:
    return {canonical_name(item) for item in os.environ.get(name, "").split(",") if item.strip()}


def _short_repr(obj: Any, limit: int = 80) -> str:
    text = collapse_whitespace(repr(obj))
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        self.disabled = _env_list("SRBENCH_DISABLE_PLUGINS") | {canonical_name(d) for d in disabled}
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
        message = collapse_whitespace(message)
        info.problem = message
        text = f"plugin '{info.name}' from distribution '{info.distribution}' skipped: {message}"
        if self.strict:
            raise PluginError(text + " (SRBENCH_STRICT_PLUGINS is set)")
        _warn(text)

    def _load(self, ep: EntryPoint) -> None:
        distribution = _distribution_name(ep)
        info = PluginInfo(name=ep.name, distribution=distribution, version=_distribution_version(ep))
        self.plugins.append(info)
        names = {canonical_name(ep.name), canonical_name(distribution)}
        if names & self.disabled:
            info.problem, info.disabled_by_user = "disabled", True
            return
        if self.allowed and distribution != CORE_DISTRIBUTION and not names & self.allowed:
            info.problem, info.disabled_by_user = "not in SRBENCH_PLUGINS_ALLOW", True
            return
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure of a plugin is reported
            self._problem(info, f"import failed: {type(exc).__name__}: {exc}")
            return
        version_problem = _api_version_problem(module, distribution)
        if version_problem:
            self._problem(info, version_problem)
            return
        try:
            self.hooks.register(module, name=f"{distribution}:{ep.name}")
        except Exception as exc:  # noqa: BLE001 - malformed hookimpls
            self._problem(info, f"invalid hook implementation: {exc}")
            return
        unknown = sorted(caller.name for caller in self.hooks.get_hookcallers(module) or [] if caller.spec is None)
        if unknown:
            self.hooks.unregister(module)
            self._problem(info, f"unknown hook '{unknown[0]}'{did_you_mean(unknown[0], hook_names())}")
            return
        info.module = module
        staged = self._call_registration_hooks(info, module)
        if staged is None:
            self.hooks.unregister(module)
            info.module = None
            return
        for kind, objects in staged.items():
            registry = self.registries[kind]
            for obj in objects:
                if not is_safe_name(obj.name):
                    self.hooks.unregister(module)
                    info.module = None
                    self._problem(
                        info,
                        f"registers a {kind} named {obj.name!r}, which cannot be used in file names "
                        "(letters, digits, '.', '_', '+', '-'; starting with a letter or digit)",
                    )
                    return
                if obj.name in registry:
                    other = registry[obj.name].plugin
                    raise PluginError(
                        f"{kind} name '{obj.name}' is registered twice: by plugin '{other.name}' "
                        f"(distribution '{other.distribution}') and by plugin '{info.name}' "
                        f"(distribution '{info.distribution}'); uninstall or disable one "
                        f"(--disable-plugin / SRBENCH_DISABLE_PLUGINS)"
                    )
        for kind, objects in staged.items():
            for obj in objects:
                self.registries[kind][obj.name] = Registered(obj=obj, plugin=info)
                info.registers.setdefault(kind, []).append(obj.name)

    def _call_registration_hooks(self, info: PluginInfo, module: Any) -> dict[str, list[Any]] | None:
        """Call the plugin's ``register_*`` hooks and validate what they return.

        Returns kind → objects, or None after reporting the first problem.
        """
        staged: dict[str, list[Any]] = {}
        for hook_name, (kind, required) in REGISTRATION_HOOKS.items():
            try:
                results = self._caller(hook_name, module)()
            except Exception as exc:  # noqa: BLE001 - a hook that raises is reported
                self._problem(info, f"hook {hook_name} raised {type(exc).__name__}: {exc}")
                return None
            if not results:
                continue
            objects: list[Any] = []
            for result in results:
                if result is None:
                    continue
                if not isinstance(result, (list, tuple)):
                    self._problem(info, f"hook {hook_name} returned {type(result).__name__}, expected a list of {kind} objects")
                    return None
                objects.extend(result)
            seen: set[str] = set()
            for obj in objects:
                missing = [attr for attr in required if not hasattr(obj, attr)]
                name = capabilities.name(obj)
                if missing or not name.strip():
                    self._problem(
                        info,
                        f"hook {hook_name} returned a malformed {kind} {_short_repr(obj)} "
                        f"(missing: {', '.join(missing) or 'a non-empty string name'})",
                    )
                    return None
                if name in seen:
                    self._problem(info, f"hook {hook_name} returned two {kind} objects named '{name}'")
                    return None
                seen.add(name)
            staged[kind] = objects
        return staged

    def _caller(self, hook_name: str, module: Any) -> Any:
        """The hook ``hook_name`` restricted to ``module``'s implementations: one plugin's
        failure is reported against that plugin alone, and the call still goes through
        pluggy (``self.hooks.trace``, ``add_hookcall_monitoring``)."""
        others = [plugin for plugin in self.hooks.get_plugins() if plugin is not module]
        return self.hooks.subset_hook_caller(hook_name, remove_plugins=others)

    # -- lookup ----------------------------------------------------------------------
    def check_disabled(self, names: Iterable[str], *, source: str = "--disable-plugin") -> None:
        """Raise an InputError for a name in ``names`` that matches no installed plugin
        (entry-point or distribution name), with a did-you-mean; ``source`` names where it came from."""
        known = {canonical_name(n) for info in self.plugins for n in (info.name, info.distribution)}
        for name in names:
            if canonical_name(name) not in known:
                raise InputError(
                    f"{source} {quoted(name.strip())}: no installed plugin or distribution has that name"
                    f"{did_you_mean(canonical_name(name), known)}"
                )

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
        by_module = {id(info.module): info for info in self.plugins if info.module is not None and info.problem is None}
        for impl in self.hooks.hook.register_commands.get_hookimpls():
            info = by_module.get(id(impl.plugin))
            if info is None:
                continue
            try:
                self._caller("register_commands", impl.plugin)(cli=cli)
            except Exception as exc:  # noqa: BLE001
                self._problem(info, f"hook register_commands raised {type(exc).__name__}: {exc}")

    def versions(self) -> dict[str, str]:
        """Distribution → version of every loaded plugin (for run records)."""
        return {p.distribution: p.version for p in self.plugins if p.problem is None}


def hook_names() -> list[str]:
    """Names of every hook in :mod:`srbench.hookspecs`, in definition order."""
    return [name for name, value in vars(hookspecs).items() if hasattr(value, "srbench_spec")]


def _api_version_problem(module: Any, distribution: str) -> str | None:
    """Why ``module``'s ``SRBENCH_API_VERSIONS`` excludes this srbench, or None when it fits."""
    supported = capabilities.supported_api_versions(module)
    if supported is None:
        return None
    if isinstance(supported, (str, int, float)):
        supported = (supported,)
    try:
        declared = [str(v) for v in supported]
    except TypeError:
        return f"SRBENCH_API_VERSIONS must be a tuple of version strings such as (\"1\",), got {supported!r}"
    major = hookspecs.API_VERSION.split(".")[0]
    if major in {v.split(".")[0] for v in declared}:
        return None
    wanted = ", ".join(declared) or "none"
    newer = any(v.split(".")[0].isdigit() and int(v.split(".")[0]) > int(major) for v in declared)
    fix = (
        f"upgrade srbench-mri to a release with hook API {wanted}"
        if newer
        else f"upgrade '{distribution}' to a release that supports hook API {major}"
    )
    return f"it supports srbench hook API {wanted} but this srbench has API {hookspecs.API_VERSION}; {fix}"


def _distribution_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else "unknown"


def _distribution_version(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else "unknown"


_MANAGER: PluginManager | None = None


def get_plugin_manager(*, disabled: Iterable[str] = (), reload: bool = False) -> PluginManager:
    """The process-wide plugin manager (built on first use; rebuilt when ``reload`` is set
    or when ``disabled`` names a plugin the current one does not skip)."""
    global _MANAGER
    wanted = {canonical_name(name) for name in disabled}
    if _MANAGER is None or reload or not wanted <= _MANAGER.disabled:
        _MANAGER = PluginManager(disabled=disabled)
    return _MANAGER
