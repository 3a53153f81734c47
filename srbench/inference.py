"""Full-volume inference of fixed-scale networks: planned tiles, or fixed overlapping patches.

By default :class:`NetworkPredictor` tiles the volume as :mod:`srbench.tiling` plans it from
the network's receptive field (probed once, :mod:`srbench.receptive_field`) and its
activation memory (:mod:`srbench.activation_memory`). The fixed scheme below runs when
``InferenceSettings.patch_size``/``overlap`` are given.

On a per-axis scale such as (2, 2, 1), :func:`predict_on_path` and :func:`apply_adapter`
carry out the path :mod:`srbench.scale_path` chooses for any predictor: its native
prediction, or the harness adapter (isotropic prediction, then :func:`average_phases`).

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
from srbench.errors import InputError, ScaleNotSupported, escape_controls
from srbench.interfaces import ContextNeed, InferenceSettings, Predictor, Scale, Volume
from srbench.nn.memory_format import memory_format_for
from srbench.receptive_field import probe_context
from srbench.scale_path import ScalePath, adapter_for, choose_path
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

    A ×m output averaged over its ``factor = m / s`` sub-voxel phases along an axis lies on
    the ×s grid of that axis (the centre of the sub-voxels is the ×s voxel's centre): the
    harness adapter of :mod:`srbench.scale_path`, which runs a ×2 isotropic prediction as
    an in-plane ×2 one (e.g. the knee track's scale (2, 2, 1)). Each size along ``axes``
    must be a multiple of ``factor``.
    """
    for axis in axes:
        shape = list(volume.shape)
        shape[axis : axis + 1] = [shape[axis] // factor, factor]
        volume = volume.reshape(shape).mean(dim=axis + 1)
    return volume


def apply_adapter(sr: Volume, *, lr: Volume, path: ScalePath) -> Volume:
    """The harness adapter's second step: ``sr`` (predicted at ``path.predict_scale``) with
    its sub-voxel phases averaged as ``path.phase_average`` says, on the SR grid of
    ``path.scale`` (shape :func:`srbench.grid.sr_shape`, affine :func:`srbench.grid.sr_affine`).
    ``sr`` itself on the native path."""
    if not path.phase_average:
        return sr
    data = sr.data
    for axis, phases in path.phase_average:
        data = average_phases(data, axes=(axis,), factor=phases)
    axes = ", ".join(str(axis) for axis, _ in path.phase_average)
    return Volume(data=data.contiguous(), affine=grid.sr_affine(lr.affine, grid.effective_scale(lr.shape, path.scale)),
                  source=f"{sr.source}, sub-voxel phases averaged along axis {axes}")


def predict_on_path(predictor: Predictor, lr: Volume, *, scale: Scale, settings: InferenceSettings) -> Volume:
    """``predictor`` on ``lr`` at ``scale`` by the path :func:`srbench.scale_path.choose_path`
    picks: ``predict()`` at the track's scale (native) or at the isotropic scale followed by
    :func:`apply_adapter`. Unchecked; evaluation goes through
    :func:`srbench.models.predict_checked`, which takes the same path."""
    path = choose_path(predictor, scale)
    return apply_adapter(predictor.predict(lr, scale=path.predict_scale, settings=settings), lr=lr, path=path)


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

    @property
    def native_scales(self) -> tuple[Scale, ...]:
        """The declared capability (:mod:`srbench.scale_path`): the network's own scale only.
        A per-axis scale other than a per-axis ``native_scale`` takes the harness adapter."""
        return (tuple(float(n) for n in self.native_scale),)  # type: ignore[return-value]

    def _native(self, scale: Scale) -> bool:
        return tuple(float(s) for s in scale) == tuple(float(n) for n in self.native_scale)

    def supports(self, scale: Scale) -> bool:
        """True when ``scale`` is the native scale, or a per-axis scale whose harness adapter
        (:func:`srbench.scale_path.adapter_for`) predicts at the native scale, e.g. (2, 2, 1)
        for a (2, 2, 2) network."""
        adapter = adapter_for(scale)
        return self._native(scale) or (adapter is not None and self._native(adapter[0]))

    def _check_scale(self, scale: Scale) -> None:
        if not self.supports(scale):
            raise ScaleNotSupported(
                f"scale {tuple(scale)} is not supported (native scale {self.native_scale}; "
                "per-axis scales whose factors divide the native isotropic one go through the harness adapter)"
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
                reason = escape_controls(f"{type(exc).__name__}: {exc}")[:200]
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
        """Super-resolve ``lr`` onto the HR grid (see :class:`~srbench.interfaces.Predictor`).

        At a scale other than the native one (e.g. (2, 2, 1) for a ×2 network) this is the
        harness adapter, :func:`predict_on_path`: the native prediction with sub-voxel
        phases averaged, the same path evaluation takes.
        """
        self._check_scale(scale)
        if not self._native(scale):
            path = choose_path(self, scale)
            if not self._native(path.predict_scale):  # e.g. a subclass declaring more than it runs
                raise ScaleNotSupported(f"scale {tuple(scale)}: {path.describe()}, but the network runs only at {self.native_scale}")
            return apply_adapter(self.predict(lr, scale=path.predict_scale, settings=settings), lr=lr, path=path)
        lo, hi = normalisation_range(lr.data)
        x = normalise(lr.data.to(torch.float32), lo, hi)
        fn = self._function(settings)
        plan = self.inference_plan(lr.shape, scale=scale, settings=settings)
        if plan is None:
            out = run_patch_inference(x, fn, out_scale=self.native_scale, settings=dataclasses.replace(settings, device=str(self.device)))
        else:
            with torch.inference_mode():
                out = run_tiled(x[None, None].to(self.device), fn, plan=plan, out_scale=self.native_scale)[0, 0].to("cpu")
        sr = denormalise(out, lo, hi).contiguous()
        return Volume(data=sr, affine=grid.sr_affine(lr.affine, scale), source=f"SR of {lr.source}")
