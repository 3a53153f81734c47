"""Options and helpers shared by several commands."""

from __future__ import annotations

from pathlib import Path

import click

from srbench.plugins import PluginManager, get_plugin_manager

class PathParam(click.Path):
    """``click.Path`` returning a :class:`~pathlib.Path` that refuses an empty name
    (``Path("")`` would silently become the current folder)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("path_type", Path)
        super().__init__(**kwargs)

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("empty file name", param, ctx)
        return super().convert(value, param, ctx)


config_option = click.option(
    "--config",
    "config_path",
    type=PathParam(dir_okay=False),
    default=None,
    help="datasets.toml to use (default: $SRBENCH_CONFIG, else ./datasets.toml, else the shipped demo config).",
)

device_option = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to run networks; auto picks cuda when available.",
)


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without a usable GPU is an InputError."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        from srbench.errors import InputError

        raise InputError("--device cuda: torch sees no usable CUDA GPU here; use --device cpu or --device auto")
    return device


def plugin_manager(ctx: click.Context) -> PluginManager:
    """The plugin manager, honouring ``--disable-plugin`` given to the group."""
    root = ctx.find_root()
    disabled = tuple((root.obj or {}).get("disabled_plugins", ()))
    pm = get_plugin_manager(disabled=disabled)
    pm.check_disabled(disabled)
    return pm
