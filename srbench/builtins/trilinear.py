"""Built-in plugin: the trilinear interpolation baseline (the reference of the grid convention)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from srbench import grid, hookimpl
from srbench.interfaces import ContextNeed, InferenceSettings, Scale, Volume
from srbench.scale_path import ANY_SCALE
from srbench.tiling import TilePlan


class TrilinearPredictor:
    """Trilinear up-sampling with ``align_corners=False``: SR voxel centres sit on the HR grid.

    Works for any per-axis scale (integer or not). The volume is processed whole
    (memory: the output plus one float32 copy of the input).

    Declares every scale native (``native_scales = "any"``): interpolation is defined at
    each per-axis scale without training, so on (2, 2, 1) the LR slices are kept exactly
    instead of going through the harness adapter (:mod:`srbench.scale_path`).
    """

    native_scales = ANY_SCALE

    def context_need(self) -> ContextNeed:
        """An SR voxel interpolates the two LR voxels around its centre along each axis."""
        return ContextNeed(radius=(1, 1, 1))

    def inference_plan(self, shape: tuple[int, int, int], *, scale: Scale, settings: InferenceSettings) -> TilePlan:
        """One tile: the whole volume (memory: a float32 copy of the input and the output)."""
        voxel_bytes = 4.0 * (1 + math.prod(grid.effective_scale(shape, scale)))
        return TilePlan(shape=tuple(int(n) for n in shape), grid=(1, 1, 1), halo=(0, 0, 0), context=self.context_need(),  # type: ignore[arg-type]
                        voxel_bytes=voxel_bytes, fixed_bytes=0.0, budget=int(voxel_bytes * math.prod(shape)))

    def predict(self, lr: Volume, *, scale: Scale, settings: InferenceSettings) -> Volume:
        out_shape = grid.sr_shape(lr.shape, scale)
        eff = grid.effective_scale(lr.shape, scale)
        with torch.inference_mode():
            sr = F.interpolate(lr.data[None, None].to(torch.float32), size=out_shape, mode="trilinear", align_corners=False)[0, 0]
        return Volume(data=sr.contiguous(), affine=grid.sr_affine(lr.affine, eff), source=f"trilinear of {lr.source}")


@dataclasses.dataclass(frozen=True)
class Trilinear:
    """The trilinear baseline as an :class:`~srbench.interfaces.SRModel`."""

    name: str = "trilinear"
    description: str = "trilinear interpolation (no training; reference of the grid convention)"
    needs_checkpoint: bool = False
    #: whole-volume interpolation: --patch-size, --overlap and --batch-size do not apply
    patch_inference: bool = False

    def load(self, *, checkpoint: Path | None = None, device: str = "cpu") -> TrilinearPredictor:
        return TrilinearPredictor()


@hookimpl
def register_models():
    return [Trilinear()]
