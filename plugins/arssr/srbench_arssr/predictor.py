"""Arbitrary-scale inference: tiled encoding of the LR volume, chunked queries on the SR grid."""

from __future__ import annotations

import itertools
import math

import torch

from srbench import grid
from srbench.data.intensity import denormalise, normalisation_range, normalise
from srbench.interfaces import InferenceSettings, Scale, Volume

from srbench_arssr.coordinates import lr_positions, owner_ranges
from srbench_arssr.network import ArSSRNetwork


class ArSSRPredictor:
    """A :class:`~srbench.interfaces.Predictor` for any per-axis scale ≥ 1 (e.g. 1.5, 2.5, (2, 2, 1)).

    The SR grid has shape :func:`srbench.grid.sr_shape` and affine
    :func:`srbench.grid.sr_affine` at the effective scale ``n_out / n_in``: SR voxel ``i``
    is queried at LR index ``(i + 0.5)/s − 0.5``, so the output lies exactly on the HR grid.

    Memory is bounded independently of the volume size: the LR volume is split into tiles
    of ``settings.patch_size − settings.overlap`` voxels per axis; each is encoded with
    ``settings.overlap / 2`` voxels of context on every side (clipped at the volume's
    border), and every SR voxel is decoded once, from the tile holding its nearest LR
    voxel, in chunks of ``query_chunk`` points. The network runs in eval mode, so the
    result is deterministic.

    Args:
        network: a trained :class:`ArSSRNetwork`.
        device: where it runs.
        query_chunk: decoder points per forward pass.
    """

    def __init__(self, network: ArSSRNetwork, *, device: str = "cpu", query_chunk: int = 32768) -> None:
        self.network = network.to(device).eval()
        self.device = torch.device(device)
        self.query_chunk = int(query_chunk)

    def predict(self, lr: Volume, *, scale: Scale, settings: InferenceSettings) -> Volume:
        """Super-resolve ``lr`` by ``scale`` (see :class:`~srbench.interfaces.Predictor`)."""
        out_shape = grid.sr_shape(lr.shape, scale)
        effective = grid.effective_scale(lr.shape, scale)
        lo, hi = normalisation_range(lr.data)
        x = normalise(lr.data.to(torch.float32), lo, hi)
        tile = max(1, settings.patch_size - settings.overlap)
        margin = max(0, settings.overlap // 2)
        axes = [owner_ranges(o, n, s, tile=tile) for o, n, s in zip(out_shape, lr.shape, effective, strict=True)]
        frame_size = torch.tensor(lr.shape, dtype=torch.float32, device=self.device)
        output = torch.empty(out_shape, dtype=torch.float32)
        with torch.inference_mode():
            for ranges in itertools.product(*axes):
                starts = [max(0, r[0] - margin) for r in ranges]
                stops = [min(n, r[1] + margin) for r, n in zip(ranges, lr.shape, strict=True)]
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
