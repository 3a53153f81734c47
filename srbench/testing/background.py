"""Background post-processes decided from the LR input alone: probes of the evaluation mask.

A method could game whole-volume metrics without touching tissue: on a skull-stripped
reference most voxels are exactly 0, so zeroing whatever the LR says is dark lifts every
score. The harness scores inside a mask derived from the HR reference
(:mod:`srbench.metrics.mask`); these wrappers build the method that tries anyway, so a
test or a benchmark can measure what the post-process still changes.

:class:`LRBackgroundZeroed` wraps any registered model: its predictor runs the wrapped
model, then sets to 0 every SR voxel where trilinear(LR) is below ``fraction`` × the LR
input's 99.9th percentile (the audit's rule, ``fraction = 0.1``). The decision uses the
LR input alone: nothing in it sees the HR reference or the method's own output.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srbench import capabilities
from srbench.interfaces import InferenceSettings, Scale, Volume


def lr_background(lr: Volume, *, scale: Scale, fraction: float = 0.1) -> torch.Tensor:
    """The background an LR input suggests on the SR grid: ``(W, H, D)`` bool, True where
    trilinear(``lr``) is below ``fraction`` × the 99.9th percentile of ``lr``."""
    from srbench.builtins.trilinear import TrilinearPredictor

    upsampled = TrilinearPredictor().predict(lr, scale=scale, settings=InferenceSettings()).data
    threshold = fraction * float(np.percentile(lr.data.detach().cpu().numpy(), 99.9))
    return upsampled < threshold


def zero_lr_background(sr: torch.Tensor, lr: Volume, *, scale: Scale, fraction: float = 0.1) -> torch.Tensor:
    """A copy of ``sr`` (``(W, H, D)``) with the voxels of :func:`lr_background` set to 0."""
    return torch.where(lr_background(lr, scale=scale, fraction=fraction), torch.zeros((), dtype=sr.dtype), sr)


@dataclasses.dataclass
class _ZeroedPredictor:
    inner: Any
    fraction: float

    def predict(self, lr: Volume, *, scale: Scale, settings: InferenceSettings) -> Volume:
        sr = self.inner.predict(lr, scale=scale, settings=settings)
        return sr.with_data(zero_lr_background(sr.data, lr, scale=scale, fraction=self.fraction))

    def __getattr__(self, name: str) -> Any:  # plans, context needs: the wrapped predictor's
        return getattr(self.inner, name)


@dataclasses.dataclass(frozen=True)
class LRBackgroundZeroed:
    """An :class:`~srbench.interfaces.SRModel` named ``name``: ``base`` followed by
    :func:`zero_lr_background`."""

    base: Any
    name: str
    fraction: float = 0.1

    @property
    def description(self) -> str:
        return f"{self.base.name}, then SR set to 0 where trilinear(LR) < {self.fraction:g} × the LR 99.9th percentile"

    @property
    def needs_checkpoint(self) -> bool:
        return capabilities.needs_checkpoint(self.base)

    def load(self, *, checkpoint: Path | None = None, device: str = "cpu") -> _ZeroedPredictor:
        return _ZeroedPredictor(self.base.load(checkpoint=checkpoint, device=device), self.fraction)
