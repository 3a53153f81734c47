"""Arbitrary-scale inference: tiled encoding of the LR volume, chunked queries on the SR grid."""

from __future__ import annotations

import itertools
import math

import torch

from srbench import grid
from srbench.activation_memory import activation_memory, peak_bytes
from srbench.data.intensity import denormalise, normalisation_range, normalise
from srbench.interfaces import ContextNeed, InferenceSettings, Scale, Volume
from srbench.receptive_field import probe_context
from srbench.tiling import TilePlan, plan_for_settings

from srbench_arssr.coordinates import lr_positions, owner_ranges
from srbench_arssr.network import ArSSRNetwork


class ArSSRPredictor:
    """A :class:`~srbench.interfaces.Predictor` for any per-axis scale ≥ 1 (e.g. 1.5, 2.5, (2, 2, 1)).

    The SR grid has shape :func:`srbench.grid.sr_shape` and affine
    :func:`srbench.grid.sr_affine` at the effective scale ``n_out / n_in``: SR voxel ``i``
    is queried at LR index ``(i + 0.5)/s − 0.5``, so the output lies exactly on the HR grid.

    Memory is bounded independently of the volume size. By default the LR volume is cut
    into the tiles :func:`srbench.tiling.plan_tiles` plans from the encoder's receptive
    field (probed once; the decoder's trilinear feature lookup adds one voxel) and the
    memory budget: each tile is encoded with its halo of context (clipped at the volume's
    border) and every SR voxel is decoded once, from the tile holding its nearest LR
    voxel, in chunks of ``query_chunk`` points; a halo covering the receptive field gives
    exactly the whole-volume result. With ``settings.patch_size``/``overlap`` the tiles
    are ``patch_size − overlap`` voxels with ``overlap / 2`` voxels of context instead.
    The network runs in eval mode, so the result is deterministic; ``settings.precision``
    ``"bfloat16"`` runs it under bf16 autocast.

    Per-axis scales: ``predict`` can query any of them, but the predictor declares none native
    (``native_scales`` is empty). Both presets train on isotropic scales only
    (``per_axis_probability`` and ``unit_axis_probability`` 0), so on a track such as
    ``[2, 2, 1]`` the harness runs it at ×2 isotropic and averages the sub-voxel phases
    along the scale-1 axis, as it does for the fixed-scale networks (:mod:`srbench.scale_path`).

    Args:
        network: a trained :class:`ArSSRNetwork`.
        device: where it runs.
        query_chunk: decoder points per forward pass.
    """

    #: no per-axis scale is declared native: the presets' training scales are isotropic
    native_scales: tuple[Scale, ...] = ()

    def __init__(self, network: ArSSRNetwork, *, device: str = "cpu", query_chunk: int = 32768) -> None:
        self.network = network.to(device).eval()
        self.device = torch.device(device)
        self.query_chunk = int(query_chunk)
        self._context: ContextNeed | None = None
        self._memory: tuple[float, float] | None = None

    def context_need(self) -> ContextNeed:
        """The encoder's receptive field plus the decoder's one-voxel trilinear lookup."""
        if self._context is None:
            probed = probe_context(self.network.encoder, out_scale=(1, 1, 1))
            self._context = ContextNeed(
                radius=tuple(r + 1 for r in probed.radius), whole_volume=probed.whole_volume,  # type: ignore[arg-type]
                effective=tuple(r + 1 for r in probed.fallback),  # type: ignore[arg-type]
            )
        return self._context

    def _query_bytes(self) -> int:
        """Peak bytes of decoding one chunk of query points."""
        block = torch.rand((1, 1, 4, 4, 4), device=self.device)
        with torch.inference_mode():
            features = self.network.encode(block)
        points = torch.rand((1, self.query_chunk, 3), device=self.device) * 3
        size = torch.full((3,), 4.0, device=self.device)
        offset = torch.zeros(3, device=self.device)
        return peak_bytes(lambda b: self.network.query(b, features, points, frame_offset=offset, frame_size=size), block)

    def inference_plan(self, shape: tuple[int, int, int], *, scale: Scale, settings: InferenceSettings) -> TilePlan | None:
        """How :meth:`predict` tiles an LR volume of ``shape`` (None: the fixed patch scheme)."""
        if settings.fixed_patches:
            return None
        if self._memory is None:
            voxel_bytes, fixed_bytes = activation_memory(self.network.encode, device=str(self.device))
            self._memory = (voxel_bytes, fixed_bytes + self._query_bytes())
        return plan_for_settings(shape, context=self.context_need(), voxel_bytes=self._memory[0], fixed_bytes=self._memory[1],
                                 settings=settings, device=str(self.device))

    def predict(self, lr: Volume, *, scale: Scale, settings: InferenceSettings) -> Volume:
        """Super-resolve ``lr`` by ``scale`` (see :class:`~srbench.interfaces.Predictor`)."""
        out_shape = grid.sr_shape(lr.shape, scale)
        effective = grid.effective_scale(lr.shape, scale)
        lo, hi = normalisation_range(lr.data)
        x = normalise(lr.data.to(torch.float32), lo, hi)
        plan = self.inference_plan(lr.shape, scale=scale, settings=settings)
        bf16 = settings.precision == "bfloat16"
        if plan is None:
            size, overlap = settings.patch_geometry()
            tile = max(1, size - overlap)
            cores = [[(a, min(n, a + tile)) for a in range(0, n, tile)] for n in lr.shape]
            margins = [max(0, overlap // 2)] * 3
        else:
            cores = [plan.cores(axis) for axis in range(3)]
            margins = list(plan.halo)
        axes = [owner_ranges(o, n, s, cores=c) for o, n, s, c in zip(out_shape, lr.shape, effective, cores, strict=True)]
        frame_size = torch.tensor(lr.shape, dtype=torch.float32, device=self.device)
        output = torch.empty(out_shape, dtype=torch.float32)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            for ranges in itertools.product(*axes):
                starts = [max(0, r[0] - m) for r, m in zip(ranges, margins, strict=True)]
                stops = [min(n, r[1] + m) for r, n, m in zip(ranges, lr.shape, margins, strict=True)]
                block = x[tuple(slice(a, b) for a, b in zip(starts, stops, strict=True))]
                block = block[None, None].to(self.device)
                features = self.network.encode(block)
                offset = torch.tensor(starts, dtype=torch.float32, device=self.device)
                per_axis = [
                    (lr_positions(o, s, start=r[2], stop=r[3]) - a).to(self.device)
                    for o, s, r, a in zip(out_shape, effective, ranges, starts, strict=True)
                ]
                sizes = [len(p) for p in per_axis]
                values = torch.empty(math.prod(sizes), dtype=torch.float32)
                for first in range(0, values.numel(), self.query_chunk):
                    flat = torch.arange(first, min(values.numel(), first + self.query_chunk), device=self.device)
                    ijk = (flat // (sizes[1] * sizes[2]), (flat // sizes[2]) % sizes[1], flat % sizes[2])
                    points = torch.stack([p[i] for p, i in zip(per_axis, ijk, strict=True)], dim=-1)[None]
                    result = self.network.query(block, features, points, frame_offset=offset, frame_size=frame_size)
                    values[first : first + len(flat)] = result[0].to("cpu", torch.float32)
                output[tuple(slice(r[2], r[3]) for r in ranges)] = values.reshape(sizes)
        sr = denormalise(output, lo, hi).contiguous()
        return Volume(data=sr, affine=grid.sr_affine(lr.affine, effective), source=f"ArSSR of {lr.source}")
