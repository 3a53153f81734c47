"""Conformance checks of dataset readers and degradations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from srbench.errors import InputError
from srbench.interfaces import DatasetReader, Degradation
from srbench.testing.context import CheckContext
from srbench.testing.failures import CheckFailed, require
from srbench.testing.registration import check_name, check_one_line, check_protocol
from srbench.testing.synthetic import smooth_volume

#: HR batch sizes ``(B, C, W, H, D)`` and the scales applied to them
DEGRADE_CASES: tuple[tuple[tuple[int, ...], tuple[int, int, int]], ...] = (
    ((2, 1, 8, 12, 6), (2, 2, 2)),
    ((1, 1, 10, 6, 14), (2, 2, 2)),
    ((2, 1, 8, 8, 7), (2, 2, 1)),
)


def reader_registration(reader: Any, ctx: CheckContext) -> None:
    """A lowercase name, a datasets.toml ``key`` and a sequence of option names."""
    check_name(reader, "dataset reader")
    check_protocol(reader, "dataset reader", DatasetReader)
    require(isinstance(reader.key, str) and reader.key.isidentifier(),
            f"dataset reader '{reader.name}': key must be a datasets.toml key (an identifier), got {reader.key!r}")
    require(isinstance(reader.options, Sequence) and not isinstance(reader.options, str)
            and all(isinstance(o, str) for o in reader.options),
            f"dataset reader '{reader.name}': options must be a sequence of key names, got {reader.options!r}")


def reader_missing_data(reader: Any, ctx: CheckContext) -> None:
    """A dataset whose files do not exist raises an InputError naming them (never another error)."""
    base = ctx.scratch("datasets", reader.name)
    table = {reader.key: "missing-folder/*.nii.gz"}  # a folder that does not exist, as a root or a glob
    try:
        found = reader.subjects(table, base=base, dataset="conformance")
    except InputError as exc:
        require("missing-folder" in str(exc),
                f"dataset reader '{reader.name}': the error for missing files does not name them: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - any other exception type is the failure reported
        raise CheckFailed(
            f"dataset reader '{reader.name}' raised {type(exc).__name__}: {exc} for missing files; "
            "raise srbench.errors.InputError naming the path instead"
        ) from None
    raise CheckFailed(f"dataset reader '{reader.name}' returned {len(found)} subjects for a folder that does not exist")


def degradation_registration(degradation: Any, ctx: CheckContext) -> None:
    """A lowercase name and a one-line description."""
    check_name(degradation, "degradation")
    check_protocol(degradation, "degradation", Degradation)
    check_one_line(degradation, "degradation")


def _hr(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    volumes = [smooth_volume(shape[2:], seed=seed + i) for i in range(shape[0] * shape[1])]
    return torch.stack(volumes).reshape(shape)


def degrade_shapes(degradation: Any, ctx: CheckContext) -> None:
    """(B, C, W, H, D) HR → (B, C, W/sx, H/sy, D/sz) LR, float32, finite, input unchanged."""
    for shape, scale in DEGRADE_CASES:
        hr = _hr(shape, seed=0)
        original = hr.clone()
        lr = degradation.degrade(hr, scale=scale, generator=torch.Generator().manual_seed(0))
        expected = (*shape[:2], *(n // s for n, s in zip(shape[2:], scale, strict=True)))
        require(isinstance(lr, torch.Tensor) and tuple(lr.shape) == expected,
                f"degradation '{degradation.name}': HR {shape} at scale {scale} gave "
                f"{tuple(lr.shape) if isinstance(lr, torch.Tensor) else type(lr).__name__}, expected {expected}")
        require(lr.dtype == torch.float32, f"degradation '{degradation.name}': output dtype {lr.dtype}, expected float32")
        require(bool(torch.isfinite(lr).all()), f"degradation '{degradation.name}': output has NaN/Inf values")
        require(torch.equal(hr, original), f"degradation '{degradation.name}': degrade modified its HR input in place")


def degrade_determinism(degradation: Any, ctx: CheckContext) -> None:
    """The same generator seed gives the same LR; all randomness comes from ``generator``."""
    shape, scale = DEGRADE_CASES[0]
    hr = _hr(shape, seed=1)
    outputs = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)  # a different global state must not matter
        outputs.append(degradation.degrade(hr, scale=scale, generator=torch.Generator().manual_seed(7)))
    require(torch.equal(outputs[0], outputs[1]),
            f"degradation '{degradation.name}': the same generator seed gave different outputs; draw random numbers "
            "from the generator argument, not the global torch RNG")
