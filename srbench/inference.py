"""Full-volume inference of fixed-scale networks: planned tiles, or fixed overlapping patches.

By default :class:`NetworkPredictor` tiles the volume as :mod:`srbench.tiling` plans it from
the network's receptive field (probed once, :mod:`srbench.receptive_field`) and its
activation memory (:mod:`srbench.activation_memory`). The fixed scheme below runs when
``InferenceSettings.patch_size``/``overlap`` are given.

Patch locations on the LR grid come from :class:`torchio.GridSampler` (patch size and
overlap in LR voxels). TorchIO's ``GridAggregator`` can only write outputs on the input
grid (or an integer down-sampled one), so the aggregation onto the finer SR grid is done
here: each SR patch is accumulated with a separable Hann (or flat) weight window into
an output buffer and a weight buffer, then divided. Memory: two float32 buffers of the
SR size plus one batch of patches, independent of the number of patches.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable

import numpy as np
import torch
import torchio as tio

from srbench import grid
from srbench.activation_memory import activation_memory
from srbench.data.intensity import denormalise, normalisation_range, normalise
from srbench.errors import InputError, ScaleNotSupported, one_line
from srbench.interfaces import ContextNeed, InferenceSettings, Scale, Volume
from srbench.nn.memory_format import memory_format_for
from srbench.receptive_field import probe_context
from srbench.tiling import TilePlan, plan_for_settings, run_tiled

PatchFunction = Callable[[torch.Tensor], torch.Tensor]


def _window(size: int, *, blend: str) -> torch.Tensor:
    """1D blending weights of length ``size`` (strictly positive)."""
    if blend == "average" or size <= 2:
        return torch.ones(size)
    # Hann window shifted so the edges keep a small positive weight.
    n = torch.arange(size, dtype=torch.float64)
    w = 0.5 - 0.5 * torch.cos(2 * math.pi * (n + 0.5) / size)
    return w.clamp_min(1e-3).to(torch.float32)


def _patch_locations(shape: tuple[int, int, int], *, patch: tuple[int, int, int], overlap: tuple[int, int, int]) -> np.ndarray:
    """``(N, 6)`` int array of [i0, j0, k0, i1, j1, k1] LR patch boxes covering the volume."""
    subject = tio.Subject(image=tio.ScalarImage(tensor=torch.zeros((1, *shape), dtype=torch.uint8)))
    sampler = tio.GridSampler(subject, patch_size=patch, patch_overlap=overlap, padding_mode=None)
    return np.asarray(sampler.locations, dtype=np.int64)


def plan_patches(shape: tuple[int, int, int], settings: InferenceSettings) -> tuple[tuple[int, int, int], np.ndarray]:
    """The LR patch size (clipped to the volume) and the ``(N, 6)`` patch boxes for ``shape``."""
    size, overlap_size = settings.patch_geometry()
    patch = tuple(min(size, n) for n in shape)
    overlap = tuple(min(overlap_size, p - 1) // 2 * 2 if p > 1 else 0 for p in patch)
    return patch, _patch_locations(shape, patch=patch, overlap=overlap)  # type: ignore[arg-type,return-value]


def run_patch_inference(
    lr: torch.Tensor,
    fn: PatchFunction,
    *,
    out_scale: tuple[int, int, int],
    settings: InferenceSettings,
) -> torch.Tensor:
    """Apply ``fn`` patch-wise to a whole LR volume.

    Args:
        lr: ``(W, H, D)`` float32 normalised LR volume.
        fn: maps a ``(B, 1, w, h, d)`` batch to ``(B, 1, w·sx, h·sy, d·sz)``.
        out_scale: integer per-axis factor between ``fn``'s input and output.
        settings: patch size, overlap (LR voxels), batch size, device, blending.

    Returns:
        ``(W·sx, H·sy, D·sz)`` float32 tensor on the CPU.
    """
    shape = tuple(int(n) for n in lr.shape)
    patch, locations = plan_patches(shape, settings)  # type: ignore[arg-type]
    out_shape = tuple(n * s for n, s in zip(shape, out_scale, strict=True))
    output = torch.zeros(out_shape, dtype=torch.float32)
    weight = torch.zeros(out_shape, dtype=torch.float32)
    sr_patch = [p * s for p, s in zip(patch, out_scale, strict=True)]
    wx, wy, wz = (_window(n, blend=settings.blend) for n in sr_patch)
    window = wx[:, None, None] * wy[None, :, None] * wz[None, None, :]
    device = torch.device(settings.device)
    with torch.inference_mode():
        for start in range(0, len(locations), settings.batch_size):
            boxes = locations[start : start + settings.batch_size]
            batch = torch.stack([lr[b[0] : b[3], b[1] : b[4], b[2] : b[5]] for b in boxes])[:, None]
            result = fn(batch.to(device)).to("cpu", torch.float32)
            expected = (len(boxes), 1, *sr_patch)
            if tuple(result.shape) != expected:
                raise RuntimeError(f"model returned patches of shape {tuple(result.shape)}, expected {expected}")
            for box, values in zip(boxes, result[:, 0], strict=True):
                sl = tuple(slice(int(b) * s, int(e) * s) for b, e, s in zip(box[:3], box[3:], out_scale, strict=True))
                output[sl] += values * window
                weight[sl] += window
    return output / weight


def average_phases(volume: torch.Tensor, *, axes: tuple[int, ...], factor: int = 2) -> torch.Tensor:
    """Average groups of ``factor`` neighbouring voxels along ``axes`` of a ``(W, H, D)`` volume.

    A ×2 output averaged over its two sub-voxel phases along an axis lies on the LR grid
    of that axis (the centre of the two sub-voxels is the LR voxel centre), which turns a
    ×2 isotropic network into an in-plane ×2 one (e.g. the knee track's scale (2, 2, 1)).
    """
    for axis in axes:
        shape = list(volume.shape)
        shape[axis : axis + 1] = [shape[axis] // factor, factor]
        volume = volume.reshape(shape).mean(dim=axis + 1)
    return volume


PRECISIONS = ("float32", "bfloat16")


def network_function(network: torch.nn.Module, *, settings: InferenceSettings) -> PatchFunction:
    """Wrap ``network`` (already on ``settings.device``) into the patch function that
    :func:`run_patch_inference` calls, honouring ``settings.memory_format`` and
    ``settings.precision``.

    Channels-last converts the network's 5D weights to ``torch.channels_last_3d`` (in
    place) and feeds it channels-last batches, so oneDNN runs its convolutions without
    re-ordering every activation; the result is returned contiguous, ``(B, 1, ...)``
    float32. ``"auto"`` picks channels-last on the CPU only (measured there: about 10%
    faster, outputs equal to float32 rounding; not measured on GPUs).
    """
    if settings.precision not in PRECISIONS:
        raise InputError(f"inference setting precision: {settings.precision!r} is not one of {', '.join(PRECISIONS)}")
    device = torch.device(settings.device)
    layout = memory_format_for(settings.memory_format, device=device, setting="inference setting memory_format")
    network.to(memory_format=layout)
    bf16 = settings.precision == "bfloat16"

    def fn(batch: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = network(batch.contiguous(memory_format=layout))
        return out.to(torch.float32).contiguous()

    return fn


class NetworkPredictor:
    """A :class:`~srbench.interfaces.Predictor` around a fixed-scale network.

    Args:
        network: maps a normalised LR batch ``(B, 1, w, h, d)`` to ``(B, 1, w·sx, h·sy, d·sz)``
            for its ``native_scale``.
        native_scale: the network's integer per-axis factor, e.g. ``(2, 2, 2)``.
        device: where the network runs.
        context: the network's receptive field; ``None`` = measured on first use by
            :func:`srbench.receptive_field.probe_context` (a function the probe cannot
            differentiate or run is then treated as needing the whole volume, with a 4-voxel
            halo when it does not fit).
    """

    def __init__(
        self,
        network: torch.nn.Module | PatchFunction,
        *,
        native_scale: tuple[int, int, int] = (2, 2, 2),
        device: str = "cpu",
        context: ContextNeed | None = None,
    ) -> None:
        self.network = network
        self.native_scale = tuple(int(s) for s in native_scale)
        self.device = device
        self._context = context
        self._memory: dict[tuple[str, str], tuple[float, float]] = {}
        if isinstance(network, torch.nn.Module):
            network.to(device).eval()

    def supports(self, scale: Scale) -> bool:
        """True when ``scale`` equals the native scale, or 1 on axes where native is 2."""
        return all(float(s) == n or (float(s) == 1.0 and n == 2) for s, n in zip(scale, self.native_scale, strict=True))

    def _check_scale(self, scale: Scale) -> None:
        if not self.supports(scale):
            raise ScaleNotSupported(
                f"scale {tuple(scale)} is not supported (native scale {self.native_scale}; "
                "axes with factor 1 are allowed where native is 2)"
            )

    def _function(self, settings: InferenceSettings) -> PatchFunction:
        # The network lives on self.device: patches go there whatever settings.device says.
        settings = dataclasses.replace(settings, device=str(self.device))
        return network_function(self.network, settings=settings) if isinstance(self.network, torch.nn.Module) else self.network

    def context_need(self) -> ContextNeed:
        """The network's receptive field (declared, or probed once and kept)."""
        if self._context is None:
            try:
                self._context = probe_context(self.network, out_scale=self.native_scale)
            except (TypeError, RuntimeError) as exc:  # not differentiable, in-place on its input, no shape fits
                reason = one_line(f"{type(exc).__name__}: {exc}")[:200]
                self._context = ContextNeed(radius=(4, 4, 4), whole_volume=True, unmeasured=reason)
                print(f"warning: the receptive field of {self.network.__class__.__name__} could not be measured "
                      f"({reason}): each volume is inferred whole when it fits the memory budget, otherwise in "
                      "approximate tiles with a 4-voxel halo; plans and boards say so", file=sys.stderr)
        return self._context

    def inference_plan(self, shape: tuple[int, int, int], *, scale: Scale, settings: InferenceSettings) -> TilePlan | None:
        """How :meth:`predict` tiles an LR volume of ``shape`` (None: the fixed patch scheme).

        Raises:
            ScaleNotSupported: ``scale`` is one :meth:`predict` refuses (checked first, so
                no plan is ever made or reported for it).
        """
        self._check_scale(scale)
        if settings.fixed_patches:
            return None
        key = (settings.memory_format, settings.precision)
        if key not in self._memory:
            self._memory[key] = activation_memory(self._function(settings), device=str(self.device))
        voxel_bytes, fixed_bytes = self._memory[key]
        return plan_for_settings(shape, context=self.context_need(), voxel_bytes=voxel_bytes, fixed_bytes=fixed_bytes,
                                 settings=settings, device=str(self.device))

    def predict(self, lr: Volume, *, scale: Scale, settings: InferenceSettings) -> Volume:
        """Super-resolve ``lr`` onto the HR grid (see :class:`~srbench.interfaces.Predictor`)."""
        self._check_scale(scale)
        lo, hi = normalisation_range(lr.data)
        x = normalise(lr.data.to(torch.float32), lo, hi)
        fn = self._function(settings)
        plan = self.inference_plan(lr.shape, scale=scale, settings=settings)
        if plan is None:
            out = run_patch_inference(x, fn, out_scale=self.native_scale, settings=dataclasses.replace(settings, device=str(self.device)))
        else:
            with torch.inference_mode():
                out = run_tiled(x[None, None].to(self.device), fn, plan=plan, out_scale=self.native_scale)[0, 0].to("cpu")
        averaged = tuple(axis for axis, s in enumerate(scale) if float(s) == 1.0 and self.native_scale[axis] == 2)
        if averaged:
            out = average_phases(out, axes=averaged)
        sr = denormalise(out, lo, hi).contiguous()
        return Volume(data=sr, affine=grid.sr_affine(lr.affine, scale), source=f"SR of {lr.source}")
