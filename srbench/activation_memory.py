"""Measure how many bytes a patch function holds per LR input voxel while it runs.

:class:`LiveTensorBytes` is a torch dispatch mode that counts the storage bytes of every
tensor an operator returns until the last tensor using that storage is freed, and keeps the
peak. Memory an operator allocates and frees inside itself is not seen by a dispatch mode;
for the one kind that matters, convolutions, the mode adds :func:`convolution_scratch`
while the operator runs (oneDNN converts the input or the output to its blocked layout:
the peak resident memory of one 3D convolution on the CPU grows by its output plus the
larger of its input and output). Allocator slack is covered by :data:`ALLOCATOR_MARGIN`
(``benchmarks/bench_tiling.py`` compares the estimate with the process's peak RSS).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

ALLOCATOR_MARGIN = 1.15
"""Factor on the measured peak for allocator slack and scratch not modelled."""


CONVOLUTIONS = frozenset(
    {"conv1d", "conv2d", "conv3d", "convolution", "_convolution", "mkldnn_convolution",
     "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}
)
"""ATen operators counted with :func:`convolution_scratch`."""


def convolution_scratch(args: tuple, out: torch.Tensor) -> int:
    """Bytes a convolution holds outside its output while it runs: the larger of input and output.

    ``args[0]`` is the input ``(B, C_in, ...)``, ``out`` the output ``(B, C_out, ...)``.
    """
    source = args[0] if args and isinstance(args[0], torch.Tensor) else None
    source_bytes = source.numel() * source.element_size() if source is not None else 0
    return max(source_bytes, out.numel() * out.element_size())


class LiveTensorBytes(TorchDispatchMode):
    """Dispatch mode tracking ``current`` bytes of live operator outputs and the ``peak``
    of ``current`` plus the scratch of the convolution running."""

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.peak = 0
        self._live: dict[int, list[int]] = {}

    def _release(self, key: int) -> None:
        entry = self._live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del self._live[key]
            self.current -= entry[0]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        scratch = convolution_scratch(args, out) if func.overloadpacket.__name__ in CONVOLUTIONS else 0
        for tensor in tree_flatten(out)[0]:
            if not isinstance(tensor, torch.Tensor) or tensor.device.type == "meta":
                continue
            storage = tensor.untyped_storage()
            key = storage.data_ptr()
            if key == 0:
                continue
            entry = self._live.get(key)
            if entry is None:
                self._live[key] = [storage.nbytes(), 1]
                self.current += storage.nbytes()
                self.peak = max(self.peak, self.current)
            else:
                entry[1] += 1
            weakref.finalize(tensor, self._release, key)
        self.peak = max(self.peak, self.current + scratch)
        return out


def peak_bytes(fn: Callable[[torch.Tensor], torch.Tensor], lr: torch.Tensor) -> int:
    """Peak bytes of tensors created while ``fn(lr)`` runs, convolution scratch included
    (the input excluded, the output included)."""
    with torch.inference_mode(), LiveTensorBytes() as tracker:
        out = fn(lr)
        del out
    return tracker.peak


PROBE_SHAPES = ((8, 8, 48), (8, 8, 96))
"""The two tiles the memory is measured on: thin, so the probe is cheap, and long, so a
stage computed in slabs along the longest axis (:mod:`srbench.nn.slabs`) is measured in
the regime of real tiles."""


def activation_memory(fn: Callable[[torch.Tensor], torch.Tensor], *, device: str = "cpu") -> tuple[float, float]:
    """``(bytes per LR input voxel, fixed bytes)`` that ``fn`` holds, margin included.

    Measured on :data:`PROBE_SHAPES` and fitted with a line: activations of convolutional
    networks grow with the tile, while e.g. a decoder's query chunk does not.
    """
    generator = torch.Generator().manual_seed(0)
    sizes = [math.prod(shape) for shape in PROBE_SHAPES]
    small, large = (peak_bytes(fn, torch.rand((1, 1, *shape), generator=generator).to(device)) for shape in PROBE_SHAPES)
    slope = max(0.0, (large - small) / (sizes[1] - sizes[0]))
    fixed = max(0.0, small - slope * sizes[0])
    if fixed < 0.1 * large:  # about proportional: take the larger tile's ratio (conservative)
        slope, fixed = large / sizes[1], 0.0
    return ALLOCATOR_MARGIN * slope, ALLOCATOR_MARGIN * fixed
