"""``python tests/torchrun_toy.py ARGS``: the real ``srbench`` command line with the toy
method registered (not collected by pytest).

torchrun starts this file in each process of a multi-process test run; it adds the toy
trainer and model of :mod:`tests.training_toy` to the plugin manager, then runs
``srbench ARGS`` exactly as ``python -m srbench ARGS`` would.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srbench.cli import main  # noqa: E402
from srbench.plugins import PluginInfo, Registered, get_plugin_manager  # noqa: E402
from tests.training_toy import TOY_MODEL, ToyTrainer  # noqa: E402


def register_toy() -> None:
    """Register the toy trainer and model in the process-wide plugin manager."""
    pm = get_plugin_manager()
    info = PluginInfo(name="toy", distribution="srbench-test-toy", version="0")
    pm.registries["trainer"]["toy"] = Registered(obj=ToyTrainer(), plugin=info)
    pm.registries["model"]["toy"] = Registered(obj=TOY_MODEL, plugin=info)


if __name__ == "__main__":
    register_toy()
    main(sys.argv[1:])
