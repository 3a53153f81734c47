"""Training configurations: the shared fields, presets and command-line overrides.

A method's configuration is a dataclass subclassing :class:`TrainingConfig` that adds its
own fields (channel widths, learning rates, loss weights...). :func:`resolve_config`
builds one from the class defaults, then a named preset of the trainer, then overrides
given on the command line as strings, coerced to each field's declared type.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from srbench.errors import InputError, unknown_name
from srbench.io.typed_config import (  # noqa: F401 - this module's names since API 1.0
    MAX_STORED_INTEGER,
    apply_options,
    coerce_value,
    config_from_dict,
    config_to_dict,
    field_types,
)
from srbench.nn.memory_format import memory_format_for

#: fields that may differ between a checkpoint's configuration and the one resuming it
RESUMABLE_FIELDS = frozenset({"iterations", "checkpoint_every", "log_every"})


@dataclasses.dataclass
class TrainingConfig:
    """Fields every training run has. Sizes are in HR voxels unless stated.

    The table of these fields in ``docs/plugins.md`` (type, default, unit, meaning) is
    generated from this docstring and :data:`srbench.testing.docgen.CONFIG_UNITS`.

    Attributes:
        method: the trainer's name (filled in by :func:`resolve_config`).
        preset: the preset the run started from (``paper``, ``cpu``...).
        track: the benchmark track whose training dataset is used.
        iterations: number of optimisation steps.
        batch_size: patches per step, summed over all processes (the global batch).
        patch_size: edge of the cubic HR patch, in HR voxels (divisible by the scale).
        patch_stride: step between neighbouring HR patch locations, in HR voxels (the
            paper uses 16); a multiple of the scale, and ``patch_size - patch_stride``
            must be even.
        min_foreground: keep a patch only when at least this fraction of its voxels lies
            above 5% of the volume's normalised intensity range.
        scale: integer per-axis up-sampling factor (set from the track).
        seed: seed of every random choice (initialisation, patch order, degradation noise).
        checkpoint_every: write a resumable checkpoint every this many iterations.
        log_every: write a row of losses.csv every this many iterations.
        deviations: named deviations from the paper, shown in config.json and the README.
        tuned_on: the data this preset's values were chosen while looking at (a
            development split, or the test heads that were looked at before one existed);
            recorded in config.json so a reader can tell a tuned preset from a blind one.
        row_label: what a leaderboard row of this run is called after the method's name,
            ``method (row_label)``, when the name alone would overstate what the preset
            trains (for example a GAN whose GAN phase is too short to change the model);
            empty: the method's name alone.
        memory_format: layout of the networks' 5D weights and activations during training:
            ``"auto"`` (channels-last 3D on the CPU, contiguous on GPUs),
            ``"channels-last"`` or ``"contiguous"``; see :mod:`srbench.nn.memory_format`.
        fold: the cross-validation fold this run trains (1-based; its held-out subject is
            never read), 0 for a run on a track without folds (see :mod:`srbench.folds`).
    """

    method: str = ""
    preset: str = ""
    track: str = "insample"
    iterations: int = 1000
    batch_size: int = 4
    patch_size: int = 64
    patch_stride: int = 16
    min_foreground: float = 0.1
    scale: tuple[int, int, int] = (2, 2, 2)
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 1
    deviations: tuple[str, ...] = ()
    row_label: str = ""
    tuned_on: str = ""
    memory_format: str = "auto"
    fold: int = 0

    def validate(self) -> None:
        """Raise an InputError naming the first option whose value cannot work.

        A method's configuration extends it: ``super().validate()``, then its own checks
        (:meth:`require_positive` for its sizes and counts).
        """
        self.require_positive("iterations", "batch_size", "patch_size", "patch_stride", "checkpoint_every", "log_every")
        memory_format_for(self.memory_format, device="cpu")  # an InputError for an unknown layout
        if int(self.fold) < 0:
            raise InputError(f"option fold: must be 0 (no cross-validation) or a fold number >= 1, got {self.fold!r}")
        if not 0.0 <= float(self.min_foreground) <= 1.0:
            raise InputError(f"option min_foreground: must be a fraction in [0, 1], got {self.min_foreground!r}")
        if len(self.scale) != 3 or any(int(s) < 1 for s in self.scale):
            raise InputError(f"option scale: expected three integer factors >= 1, got {self.scale!r}")
        for s in self.scale:
            if self.patch_size % int(s):
                raise InputError(
                    f"option patch_size: {self.patch_size} is not divisible by the scale {tuple(self.scale)}"
                )
            if self.patch_stride % int(s):
                raise InputError(
                    f"option patch_stride: {self.patch_stride} is not a multiple of the scale {tuple(self.scale)} "
                    "(patches must start on LR voxel boundaries)"
                )

    def require_positive(self, *names: str) -> None:
        """Raise an InputError naming the first field of ``names`` that is not an integer >= 1."""
        for name in names:
            value = getattr(self, name)
            if int(value) < 1:
                raise InputError(f"option {name}: must be a positive integer, got {value!r}")


def resolve_config(
    trainer: Any,
    *,
    preset: str,
    overrides: Mapping[str, Any] | None = None,
    track: str | None = None,
) -> TrainingConfig:
    """The configuration of a run: class defaults, then ``trainer.presets[preset]``, then overrides.

    Args:
        trainer: a :class:`~srbench.interfaces.Trainer`.
        preset: name of one of ``trainer.presets``.
        overrides: option name → value (strings from the command line are coerced to the
            field's type); unknown names raise an InputError with a suggestion.
        track: the track the run trains on (stored in the configuration).

    Returns:
        An instance of ``trainer.config_class`` with ``method``, ``preset`` (and ``track``)
        filled in, validated.
    """
    presets = trainer.presets
    if preset not in presets:
        raise unknown_name(f"preset of method '{trainer.name}'", preset, presets)
    config_class = trainer.config_class
    values: dict[str, Any] = {}
    apply_options(config_class, values, presets[preset], source=f"preset '{preset}' of method '{trainer.name}'")
    apply_options(config_class, values, dict(overrides or {}), source=f"method '{trainer.name}'")
    values["method"] = trainer.name
    values["preset"] = preset
    if track is not None:
        values["track"] = track
    config = config_class(**values)
    config.validate()
    return config


def resume_conflicts(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The fields (outside :data:`RESUMABLE_FIELDS`) whose values differ, as ``name (a → b)``."""
    conflicts = []
    for key in sorted(set(stored) | set(current)):
        if key in RESUMABLE_FIELDS:
            continue
        if stored.get(key) != current.get(key):
            conflicts.append(f"{key} (checkpoint {stored.get(key)!r}, now {current.get(key)!r})")
    return conflicts
