"""Training patches: a deterministic stream of (LR, HR) patch pairs degraded on the fly.

Where patches come from (the paper's sampling): HR patch locations lie on a sliding
window grid (edge ``patch_size``, step ``stride`` HR voxels) over each training volume,
computed by :class:`torchio.GridSampler` on the volume zero-padded at the end so that the
last window fits; windows with too little foreground are dropped.

Which patches a batch holds: the list of kept windows is shuffled once per epoch by a
permutation seeded from ``(seed, epoch)``; concatenating the epochs gives one global stream
and iteration ``i`` with global batch ``B`` takes stream positions ``[i·B, (i+1)·B)``.
Process ``r`` of ``n`` takes the ``r``-th contiguous ``B/n`` of them. LR patches are
degraded one by one with a generator seeded from ``(seed, stream position)``. A batch is
therefore a pure function of ``(seed, iteration)``: resuming and multi-process training
see exactly the patches of a single uninterrupted run.

Intensities: each volume is normalised by :func:`srbench.data.intensity.normalisation_range`
of its own degraded LR version (computed once per volume), so training inputs match what
:class:`srbench.inference.NetworkPredictor` feeds the network at test time.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchio as tio

from srbench import grid
from srbench.data.intensity import normalisation_range, normalise
from srbench.errors import InputError
from srbench.interfaces import PatchBatch, Volume
from srbench.training.seeding import derive_seed, make_generator

#: a voxel counts as foreground above this fraction of the normalised intensity range
FOREGROUND_LEVEL = 0.05


def grid_locations(shape: Sequence[int], *, patch_size: int, stride: int) -> np.ndarray:
    """``(N, 3)`` start corners of the sliding windows over a volume of ``shape``.

    The volume is (virtually) zero-padded at the end of each axis to
    ``patch_size + ceil((n - patch_size) / stride) · stride`` so the windows tile it with
    step ``stride`` exactly; the corners come from :class:`torchio.GridSampler` with
    ``patch_overlap = patch_size - stride`` on that padded shape.
    """
    padded = padded_shape(shape, patch_size=patch_size, stride=stride)
    overlap = patch_size - stride
    subject = tio.Subject(image=tio.ScalarImage(tensor=torch.zeros((1, *padded), dtype=torch.uint8)))
    sampler = tio.GridSampler(subject, patch_size=patch_size, patch_overlap=overlap, padding_mode=None)
    return np.asarray(sampler.locations, dtype=np.int64)[:, :3]


def padded_shape(shape: Sequence[int], *, patch_size: int, stride: int) -> tuple[int, int, int]:
    """The shape after zero padding at the end so windows of ``patch_size`` tile with ``stride``."""
    return tuple(patch_size + math.ceil(max(0, n - patch_size) / stride) * stride for n in shape)  # type: ignore[return-value]


class PatchSource:
    """Deterministic batches of paired training patches from whole HR volumes.

    Args:
        volumes: the training volumes (HR, any intensity units); kept by reference.
        patch_size: edge of the cubic HR patch in HR voxels (divisible by each scale factor).
        stride: step between windows in HR voxels; ``patch_size - stride`` must be even
            and non-negative (TorchIO's grid overlap).
        scale: integer per-axis factor of the degradation.
        degradation: an :class:`~srbench.interfaces.Degradation`.
        min_foreground: keep windows whose fraction of voxels above
            :data:`FOREGROUND_LEVEL` (normalised) is at least this.
        seed: seed of the patch order and of the degradation noise.
    """

    def __init__(
        self,
        volumes: Sequence[Volume],
        *,
        patch_size: int,
        stride: int,
        scale: Sequence[int],
        degradation: Any,
        min_foreground: float,
        seed: int,
    ) -> None:
        self.patch_size = int(patch_size)
        self.stride = int(stride)
        self.scale = grid.integer_scale(tuple(float(s) for s in scale))
        self.degradation = degradation
        self.min_foreground = float(min_foreground)
        self.seed = int(seed)
        if not volumes:
            raise InputError("training needs at least one volume (the track's training dataset is empty)")
        for s in self.scale:
            if self.patch_size % s:
                raise InputError(f"option patch_size: {self.patch_size} is not divisible by the scale {self.scale}")
        overlap = self.patch_size - self.stride
        if overlap < 0 or overlap % 2:
            raise InputError(
                f"option patch_stride: {self.stride} must be at most patch_size {self.patch_size} and differ "
                "from it by an even number (TorchIO grid overlap)"
            )
        self.volumes = list(volumes)
        self.ranges: list[tuple[float, float]] = []
        index: list[np.ndarray] = []
        for number, volume in enumerate(self.volumes):
            lo, hi = self._volume_range(number, volume)
            self.ranges.append((lo, hi))
            corners = grid_locations(volume.shape, patch_size=self.patch_size, stride=self.stride)
            keep = self._foreground_fraction(volume, lo, hi, corners) >= self.min_foreground
            kept = corners[keep]
            index.append(np.concatenate([np.full((len(kept), 1), number, dtype=np.int64), kept], axis=1))
        self.index = torch.from_numpy(np.concatenate(index, axis=0))
        if len(self.index) == 0:
            raise InputError(
                f"option min_foreground: no {self.patch_size}-voxel training patch of the {len(self.volumes)} "
                f"volume(s) has {self.min_foreground:.0%} foreground; lower min_foreground or patch_size"
            )
        self._permutations: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    # -- set-up ----------------------------------------------------------------------
    def _volume_range(self, number: int, volume: Volume) -> tuple[float, float]:
        cropped = grid.cropped_hr_shape(volume.shape, self.scale)
        if min(cropped) == 0:
            raise InputError(f"{volume.source}: volume {volume.shape} is smaller than the scale {self.scale}")
        hr = volume.data[: cropped[0], : cropped[1], : cropped[2]].to(torch.float32)
        generator = make_generator(self.seed, "normalisation", number)
        with torch.no_grad():
            lr = self.degradation.degrade(hr[None, None], scale=self.scale, generator=generator)[0, 0]
        return normalisation_range(lr)

    def _foreground_fraction(self, volume: Volume, lo: float, hi: float, corners: np.ndarray) -> np.ndarray:
        """Fraction of foreground voxels in each window (padding counts as background)."""
        mask = (normalise(volume.data.to(torch.float32), lo, hi) > FOREGROUND_LEVEL).to(torch.float32)
        padded = padded_shape(volume.shape, patch_size=self.patch_size, stride=self.stride)
        pad = [0, padded[2] - volume.shape[2], 0, padded[1] - volume.shape[1], 0, padded[0] - volume.shape[0]]
        mask = F.pad(mask, pad)
        fractions = F.avg_pool3d(mask[None, None], kernel_size=self.patch_size, stride=self.stride)[0, 0]
        cells = torch.from_numpy(corners // self.stride)
        return fractions[cells[:, 0], cells[:, 1], cells[:, 2]].numpy()

    # -- the stream ------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of kept windows (one epoch)."""
        return len(self.index)

    def permutation(self, epoch: int) -> torch.Tensor:
        """The order of the windows in ``epoch`` (seeded by ``(seed, epoch)``)."""
        with self._lock:
            perm = self._permutations.get(epoch)
            if perm is None:
                generator = torch.Generator().manual_seed(derive_seed(self.seed, "epoch", epoch))
                perm = torch.randperm(len(self.index), generator=generator)
                self._permutations[epoch] = perm
                while len(self._permutations) > 4:
                    self._permutations.popitem(last=False)
            return perm

    def positions(self, iteration: int, batch_size: int, *, rank: int = 0, world_size: int = 1) -> range:
        """Global stream positions of this process's share of iteration ``iteration``."""
        if batch_size % world_size:
            raise InputError(
                f"option batch_size: {batch_size} is not divisible by the number of processes {world_size}"
            )
        local = batch_size // world_size
        start = iteration * batch_size + rank * local
        return range(start, start + local)

    def patch(self, position: int) -> torch.Tensor:
        """The normalised ``(1, P, P, P)`` HR patch at a global stream position."""
        n = len(self.index)
        window = int(self.permutation(position // n)[position % n])
        number, i, j, k = (int(v) for v in self.index[window])
        volume = self.volumes[number]
        lo, hi = self.ranges[number]
        p = self.patch_size
        out = torch.zeros((1, p, p, p), dtype=torch.float32)
        w, h, d = volume.shape
        region = volume.data[i : min(i + p, w), j : min(j + p, h), k : min(k + p, d)].to(torch.float32)
        a, b, c = region.shape
        out[0, :a, :b, :c] = normalise(region, lo, hi)
        return out

    def batch(self, iteration: int, batch_size: int, *, rank: int = 0, world_size: int = 1) -> PatchBatch:
        """Process ``rank``'s share of the global batch of ``iteration``.

        Returns:
            :class:`~srbench.interfaces.PatchBatch` with ``hr`` of shape
            ``(batch_size / world_size, 1, P, P, P)`` and ``lr`` of shape
            ``(batch_size / world_size, 1, P/sx, P/sy, P/sz)``, float32 on the CPU,
            normalised intensities.
        """
        hr_patches = []
        lr_patches = []
        with torch.no_grad():
            for position in self.positions(iteration, batch_size, rank=rank, world_size=world_size):
                hr = self.patch(position)[None]
                generator = make_generator(self.seed, "degrade", position)
                lr = self.degradation.degrade(hr, scale=self.scale, generator=generator)
                hr_patches.append(hr)
                lr_patches.append(lr.to(torch.float32))
        return PatchBatch(
            lr=torch.cat(lr_patches).contiguous(),
            hr=torch.cat(hr_patches).contiguous(),
            scale=tuple(float(s) for s in self.scale),  # type: ignore[arg-type]
        )


class BatchPrefetcher:
    """Builds the next batch in a background thread while the current step runs.

    Safe because a batch is a pure function of its iteration. :meth:`get` returns the
    batch and the seconds the caller waited for it (the data-wait time).
    """

    def __init__(self, source: PatchSource, *, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        self.source = source
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="srbench-patches")
        self._pending: dict[int, Future[PatchBatch]] = {}

    def _submit(self, iteration: int) -> None:
        if iteration not in self._pending:
            self._pending[iteration] = self._pool.submit(
                self.source.batch, iteration, self.batch_size, rank=self.rank, world_size=self.world_size
            )

    def get(self, iteration: int, *, prefetch_next: bool = True) -> tuple[PatchBatch, float]:
        """The batch of ``iteration`` and the wait in seconds; starts building ``iteration + 1``."""
        start = time.perf_counter()
        self._submit(iteration)
        future = self._pending.pop(iteration)
        batch = future.result()
        waited = time.perf_counter() - start
        for stale in [k for k in self._pending if k < iteration]:
            self._pending.pop(stale).cancel()
        if prefetch_next:
            self._submit(iteration + 1)
        return batch, waited

    def close(self) -> None:
        """Stop the background thread (pending work is cancelled)."""
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
