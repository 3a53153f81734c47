"""Tiny plugin distributions installed the way pip does it, minus pip: a ``*.dist-info``
folder with ``METADATA`` and ``entry_points.txt`` next to the plugin modules in a folder
put on ``sys.path`` (in-process) or ``PYTHONPATH`` (subprocesses). ``importlib.metadata``
finds them exactly like installed distributions, so srbench's real entry-point discovery
is what is exercised.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

#: every fake plugin module starts with this, so tests can forget them afterwards
MODULE_PREFIX = "srbench_pk_"


def make_distribution(site: Path, name: str, *, modules: dict[str, str], entry_points: dict[str, str],
                      version: str = "0.1.0") -> None:
    """Write distribution ``name`` into ``site``.

    Args:
        site: the folder that goes on ``sys.path``.
        name: distribution name, e.g. ``srbench-mri-broken``.
        modules: module name → source (dedented), written as ``<site>/<module>.py``.
        entry_points: entry-point name → module, in the ``srbench`` group.
    """
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        assert module.startswith(MODULE_PREFIX), module
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{ep} = {module}\n" for ep, module in entry_points.items())
    (info / "entry_points.txt").write_text(f"[srbench]\n{lines}")


def forget_fake_modules() -> None:
    """Drop the fake plugin modules from ``sys.modules`` (another test may reuse a name)."""
    for module in [m for m in sys.modules if m.startswith(MODULE_PREFIX)]:
        del sys.modules[module]


def subprocess_env(site: Path, **extra: str) -> dict[str, str]:
    """The environment for ``srbench`` in a subprocess that sees the distributions in ``site``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRBENCH_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra)
    return env


def run_srbench(site: Path, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """``python -m srbench ARGS`` in a subprocess that sees the distributions in ``site``
    (entry points are read when a process starts, hence a real process)."""
    return subprocess.run([sys.executable, "-m", "srbench", *args], capture_output=True, text=True, cwd=cwd,
                          env=subprocess_env(site, **env), timeout=600)


GOOD_MODEL = '''
    import dataclasses
    from srbench import hookimpl
    from srbench.builtins.trilinear import TrilinearPredictor

    @dataclasses.dataclass(frozen=True)
    class Model:
        name: str = "{model}"
        description: str = "test model"
        needs_checkpoint: bool = False

        def load(self, *, checkpoint=None, device="cpu"):
            return TrilinearPredictor()

    @hookimpl
    def register_models():
        return [Model()]
'''


def good_model_source(model: str) -> str:
    """Source of a working plugin module registering a trilinear model named ``model``."""
    return textwrap.dedent(GOOD_MODEL).replace("{model}", model)
