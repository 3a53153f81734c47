"""Training patches: a deterministic stream of (LR, HR) patch pairs cut from whole
volumes degraded as evaluation degrades them.

Where patches come from (the paper's sampling): HR patch locations lie on a sliding
window grid (edge ``patch_size``, step ``stride`` HR voxels) over each training volume,
computed by :class:`torchio.GridSampler` on the volume zero-padded at the end so that the
last window fits; windows with too little foreground are dropped. ``stride`` is a
multiple of the scale, so every HR corner ``c`` has an LR corner ``c / s`` and the LR
patch (edge ``patch_size / s``) covers exactly the HR patch.

How LR is made: each training volume is degraded whole by
:func:`srbench.data.pairs.degrade_volume`, the function evaluation uses (crop to a
multiple of the scale, one ``degrade`` call on the whole volume), and the LR patch is
cut from that LR volume at the HR patch's LR location. So there is no FFT wrap-around
at patch faces and a degradation's volume statistics (``kspace``'s noise σ from the HR
foreground) are the volume's, and a training LR patch equals the evaluation LR of that
volume at that place (given the same noise seed). A degradation that draws noise
(``uses_seed`` true, or no ``uses_seed`` attribute) is re-applied to each volume once
per epoch with the seed :func:`degradation_seed` ``(seed, epoch, volume)``, so the
network never sees one fixed noise field; a noise-free one (``uses_seed`` false) is
applied once. A small cache keeps the LR volumes of the (at most two) epochs a batch
can touch.

Which patches a batch holds: the list of kept windows is shuffled once per epoch by a
permutation seeded from ``(seed, epoch)``; concatenating the epochs gives one global stream
and iteration ``i`` with global batch ``B`` takes stream positions ``[i·B, (i+1)·B)``;
position ``p`` lies in epoch ``p // len(windows)`` and uses that epoch's LR volume.
Process ``r`` of ``n`` takes the ``r``-th contiguous ``B/n`` of them. A batch is
therefore a pure function of ``(seed, iteration)``: resuming and multi-process training
see exactly the patches of a single uninterrupted run.

Intensities: an (LR, HR) pair is normalised by
:func:`srbench.data.intensity.normalisation_range` of the LR volume it was cut from (for
a noisy degradation, that epoch's draw), exactly as
:class:`srbench.inference.NetworkPredictor` normalises the LR volume it is given.

Zero padding: like evaluation, training uses each volume cropped to a multiple of the
scale; the trailing slices the crop drops (fewer than the scale per axis) count as
padding, and a window that reaches past the cropped volume's end is filled with
normalised 0 there, in HR and in LR alike. For every noise-free degradation 0 is what
degrading the zero HR pad gives. For a noisy one no noise is drawn in the LR pad either:
the pad stands for "outside the field of view", which the network sees at inference as
its own zero padding (normalised 0) beyond the LR volume's faces. The window grid and the
foreground filter are those of the whole (uncropped) volume, as before whole-volume
degradation, so the stream visits the same windows in the same order.
"""

from __future__ import annotations

import dataclasses
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

from srbench import capabilities
from srbench import grid
from srbench.data.intensity import normalisation_range, normalise
from srbench.data.pairs import degrade_volume
from srbench.errors import InputError
from srbench.interfaces import PatchBatch, Volume
from srbench.training.seeding import derive_seed

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


def degradation_seed(seed: int, *, epoch: int, volume: int) -> int:
    """The noise seed of training volume ``volume`` (0-based) in ``epoch``:
    ``derive_seed(seed, "degrade", epoch, volume)`` (a 63-bit int, see
    :func:`srbench.training.seeding.derive_seed`). A noise-free degradation is applied
    with the seed of epoch 0."""
    return derive_seed(seed, "degrade", int(epoch), int(volume))


@dataclasses.dataclass(frozen=True)
class DegradedVolume:
    """One training volume degraded whole, as evaluation degrades it.

    Attributes:
        lr: ``(W/sx, H/sy, D/sz)`` float32 LR volume, scanner units (not normalised).
        lo: normalisation minimum (:func:`~srbench.data.intensity.normalisation_range` of ``lr``).
        hi: normalisation upper value (its 99.9th percentile).
        seed: the generator seed it was degraded with (:func:`degradation_seed`).
    """

    lr: torch.Tensor
    lo: float
    hi: float
    seed: int


class PatchSource:
    """Deterministic batches of paired training patches from whole HR volumes.

    Args:
        volumes: the training volumes (HR, any intensity units); kept by reference.
        patch_size: edge of the cubic HR patch in HR voxels (divisible by each scale factor).
        stride: step between windows in HR voxels, a multiple of each scale factor (so
            windows start on LR voxel boundaries); ``patch_size - stride`` must be even
            and non-negative (TorchIO's grid overlap).
        scale: integer per-axis factor of the degradation.
        degradation: an :class:`~srbench.interfaces.Degradation`, applied to whole volumes
            by :func:`srbench.data.pairs.degrade_volume`.
        min_foreground: keep windows whose fraction of voxels above
            :data:`FOREGROUND_LEVEL` (normalised) is at least this.
        seed: seed of the patch order and of the degradation noise.

    Attributes:
        shapes: each volume's shape cropped to a multiple of the scale (what is degraded).
        ranges: each volume's ``(lo, hi)`` of its epoch-0 LR (the foreground filter's;
            for a noisy degradation later epochs normalise by their own draw's range).
        index: ``(N, 4)`` kept windows: volume number and HR corner.
        per_epoch: whether the degradation is re-applied every epoch (it draws noise).
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
        #: re-degrade every epoch (noise); unknown degradations are assumed to draw noise
        self.per_epoch = capabilities.uses_seed(degradation)
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
        if any(self.stride % s for s in self.scale):
            raise InputError(
                f"option patch_stride: {self.stride} is not a multiple of the scale {self.scale} (patches must "
                "start on LR voxel boundaries)"
            )
        self.volumes = list(volumes)
        self.shapes: list[tuple[int, int, int]] = []
        for volume in self.volumes:
            cropped = grid.cropped_hr_shape(volume.shape, self.scale)
            if min(cropped) == 0:
                raise InputError(f"{volume.source}: volume {volume.shape} is smaller than the scale {self.scale}")
            self.shapes.append(cropped)
        self._degraded: OrderedDict[tuple[int, int], DegradedVolume] = OrderedDict()
        self._degraded_lock = threading.Lock()
        self.ranges: list[tuple[float, float]] = []
        index: list[np.ndarray] = []
        for number in range(len(self.volumes)):
            reference = self.degraded(0, number)  # epoch 0's LR decides which windows are kept
            self.ranges.append((reference.lo, reference.hi))
            corners = grid_locations(self.volumes[number].shape, patch_size=self.patch_size, stride=self.stride)
            keep = self._foreground_fraction(number, reference.lo, reference.hi, corners) >= self.min_foreground
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
    def _hr(self, number: int) -> torch.Tensor:
        """Volume ``number`` cropped to a multiple of the scale, ``(W, H, D)`` (a view)."""
        w, h, d = self.shapes[number]
        return self.volumes[number].data[:w, :h, :d]

    def _foreground_fraction(self, number: int, lo: float, hi: float, corners: np.ndarray) -> np.ndarray:
        """Fraction of foreground voxels in each window of the whole (uncropped) volume
        (padding counts as background)."""
        volume = self.volumes[number]
        shape = volume.shape
        mask = (normalise(volume.data.to(torch.float32), lo, hi) > FOREGROUND_LEVEL).to(torch.float32)
        padded = padded_shape(shape, patch_size=self.patch_size, stride=self.stride)
        pad = [0, padded[2] - shape[2], 0, padded[1] - shape[1], 0, padded[0] - shape[0]]
        mask = F.pad(mask, pad)
        fractions = F.avg_pool3d(mask[None, None], kernel_size=self.patch_size, stride=self.stride)[0, 0]
        cells = torch.from_numpy(corners // self.stride)
        return fractions[cells[:, 0], cells[:, 1], cells[:, 2]].numpy()

    # -- degraded volumes ------------------------------------------------------------
    def degraded(self, epoch: int, number: int) -> DegradedVolume:
        """Volume ``number`` degraded for ``epoch`` (cached; the same object for every epoch
        when the degradation draws no noise)."""
        key = (int(epoch) if self.per_epoch else 0, int(number))
        with self._degraded_lock:
            entry = self._degraded.get(key)
            if entry is None:
                seed = degradation_seed(self.seed, epoch=key[0], volume=number)
                _, lr = degrade_volume(self.volumes[number], degradation=self.degradation, scale=self.scale, seed=seed)
                lr_data = lr.data.clone()  # a normal tensor (degrade_volume runs in inference mode)
                lo, hi = normalisation_range(lr_data)
                entry = DegradedVolume(lr=lr_data, lo=lo, hi=hi, seed=seed)
                self._degraded[key] = entry
                # two epochs of volumes: a batch spans at most two epochs
                while len(self._degraded) > 2 * len(self.volumes):
                    self._degraded.popitem(last=False)
            else:
                self._degraded.move_to_end(key)
            return entry

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

    def window(self, position: int) -> tuple[int, int, tuple[int, int, int]]:
        """``(epoch, volume number, HR corner)`` of a global stream position."""
        n = len(self.index)
        epoch = position // n
        number, i, j, k = (int(v) for v in self.index[int(self.permutation(epoch)[position % n])])
        return epoch, number, (i, j, k)

    def pair(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The normalised ``(1, P/sx, P/sy, P/sz)`` LR and ``(1, P, P, P)`` HR patches at a
        global stream position (zero-filled past the cropped volume's end)."""
        epoch, number, corner = self.window(position)
        degraded = self.degraded(epoch, number)
        hr = _cut(self._hr(number), corner, (self.patch_size,) * 3, degraded.lo, degraded.hi)
        lr_corner = tuple(c // s for c, s in zip(corner, self.scale, strict=True))
        lr_size = tuple(self.patch_size // s for s in self.scale)
        lr = _cut(degraded.lr, lr_corner, lr_size, degraded.lo, degraded.hi)
        return lr, hr

    def patch(self, position: int) -> torch.Tensor:
        """The normalised ``(1, P, P, P)`` HR patch at a global stream position."""
        return self.pair(position)[1]

    def batch(self, iteration: int, batch_size: int, *, rank: int = 0, world_size: int = 1) -> PatchBatch:
        """Process ``rank``'s share of the global batch of ``iteration``.

        Returns:
            :class:`~srbench.interfaces.PatchBatch` with ``hr`` of shape
            ``(batch_size / world_size, 1, P, P, P)`` and ``lr`` of shape
            ``(batch_size / world_size, 1, P/sx, P/sy, P/sz)``, float32 on the CPU,
            normalised intensities.
        """
        pairs = [self.pair(p) for p in self.positions(iteration, batch_size, rank=rank, world_size=world_size)]
        return PatchBatch(
            lr=torch.stack([lr for lr, _ in pairs]).contiguous(),
            hr=torch.stack([hr for _, hr in pairs]).contiguous(),
            scale=tuple(float(s) for s in self.scale),  # type: ignore[arg-type]
        )


def _cut(volume: torch.Tensor, corner: Sequence[int], size: Sequence[int], lo: float, hi: float) -> torch.Tensor:
    """``(1, *size)`` float32: ``volume[corner : corner + size]`` normalised by ``(lo, hi)``,
    normalised 0 where the box reaches past the volume's end."""
    out = torch.zeros((1, *size), dtype=torch.float32)
    box = tuple(slice(c, min(c + n, m)) for c, n, m in zip(corner, size, volume.shape, strict=True))
    region = volume[box].to(torch.float32)
    a, b, c = region.shape
    out[0, :a, :b, :c] = normalise(region, lo, hi)
    return out


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
