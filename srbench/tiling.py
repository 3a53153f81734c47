"""Tile planning from a model's receptive field and a memory budget; valid-region stitching.

A volume is cut into a grid of *cores* (``grid`` tiles per axis, core boundaries at
``round(i·N/n)``). Each core is computed with ``halo`` LR voxels of context on every side
(clipped at the volume's border, where the network's own zero padding then matches a
whole-volume pass), and only the core's part of the output is kept. Every output voxel is
written once, so where the halo covers the receptive field the stitched volume equals a
whole-volume forward pass (up to float summation order).

The planner minimises the LR voxels computed (the volume plus the halos) over all grids
whose largest tile fits the memory budget, preferring an exact halo (the receptive-field
radius) and falling back to the measured effective radius when an exact plan costs more
than :data:`MAX_EXACT_REDUNDANCY` or does not fit at all.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

from srbench import capabilities
from srbench.errors import InputError
from srbench.interfaces import ContextNeed

Shape = tuple[int, int, int]
Box = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]

CPU_MEMORY_BUDGET = 2 * 1024**3
"""Default bytes one tile's forward pass may hold on the CPU (a process stays under 4 GB)."""

GPU_MEMORY_SHARE = 0.5
"""Default share of the GPU's free memory one tile may hold."""

MAX_EXACT_REDUNDANCY = 1.25
"""An exact plan (halo = receptive field) is used when it computes at most this many LR
voxels per volume voxel; above it the effective-radius halo is used if cheaper (the
frontier in benchmarks/README.md shows why)."""

MAX_TILES_PER_AXIS = 64


def default_memory_budget(device: str) -> int:
    """The budget for ``device``: :data:`CPU_MEMORY_BUDGET` on the CPU, half the free
    memory of a CUDA device."""
    if torch.device(device).type == "cuda":
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(GPU_MEMORY_SHARE * free)
    return CPU_MEMORY_BUDGET


def _cores(n: int, parts: int) -> list[tuple[int, int]]:
    edges = [round(i * n / parts) for i in range(parts + 1)]
    return list(itertools.pairwise(edges))


def _input_span(a: int, b: int, *, n: int, halo: int, align: int) -> tuple[int, int]:
    """The input ``(start, stop)`` of core ``[a, b)`` on an axis of ``n`` voxels: the core
    plus ``halo`` per side, clipped to the volume, its start moved down and its stop up to
    multiples of ``align`` (a strided network's outputs equal the whole-volume pass only
    on such a grid; the volume's end stays where it is)."""
    start = max(0, a - halo) // align * align
    stop = min(n, -(-(b + halo) // align) * align)
    return start, stop


def _axis_extents(n: int, parts: int, halo: int, align: int = 1) -> list[int]:
    """Input extent of each tile along one axis (core plus clipped, aligned halo)."""
    return [stop - start for start, stop in (_input_span(a, b, n=n, halo=halo, align=align) for a, b in _cores(n, parts))]


@dataclasses.dataclass(frozen=True)
class TilePlan:
    """How one LR volume is tiled.

    Attributes:
        shape: the LR volume ``(W, H, D)``.
        grid: tiles per axis.
        halo: context computed around each core, LR voxels per side per axis.
        context: the model's receptive field the plan was made for.
        voxel_bytes: bytes the forward pass holds per input LR voxel (measured).
        fixed_bytes: bytes it holds whatever the tile size.
        budget: the memory budget (bytes).
    """

    shape: Shape
    grid: Shape
    halo: Shape
    context: ContextNeed
    voxel_bytes: float
    fixed_bytes: float
    budget: int

    @property
    def tiles(self) -> int:
        return math.prod(self.grid)

    @property
    def tile(self) -> Shape:
        """The largest core, LR voxels per axis."""
        return tuple(max(b - a for a, b in _cores(n, k)) for n, k in zip(self.shape, self.grid, strict=True))  # type: ignore[return-value]

    @property
    def largest_input(self) -> Shape:
        """The largest tile with its halo, LR voxels per axis."""
        return tuple(max(_axis_extents(n, k, h, a)) for n, k, h, a in self._axes())  # type: ignore[return-value]

    @property
    def computed_voxels(self) -> int:
        """LR voxels fed to the network over all tiles."""
        return math.prod(sum(_axis_extents(n, k, h, a)) for n, k, h, a in self._axes())

    def _axes(self) -> list[tuple[int, int, int, int]]:
        """``(size, tiles, halo, alignment)`` per axis."""
        return list(zip(self.shape, self.grid, self.halo, self.context.alignment, strict=True))

    @property
    def redundancy(self) -> float:
        """Computed LR voxels per volume voxel (1.0 = no repeated work)."""
        return self.computed_voxels / math.prod(self.shape)

    @property
    def peak_bytes(self) -> int:
        """Estimated bytes of the largest tile's forward pass."""
        return int(self.fixed_bytes + self.voxel_bytes * math.prod(self.largest_input))

    @property
    def exact(self) -> bool:
        """True when the stitched result equals a whole-volume pass (halo covers the field)."""
        whole = self.tiles == 1
        if self.context.whole_volume:
            return whole
        return whole or all(h >= r or k == 1 for h, r, k in zip(self.halo, self.context.radius, self.grid, strict=True))

    def cores(self, axis: int) -> list[tuple[int, int]]:
        """``(start, stop)`` of the cores along ``axis`` (they partition ``[0, shape[axis])``)."""
        return _cores(self.shape[axis], self.grid[axis])

    def boxes(self) -> Iterator[tuple[Box, Box]]:
        """``(core, input)`` boxes of every tile, as ``((start, stop),) * 3`` in LR voxels."""
        axes = [
            [((a, b), _input_span(a, b, n=n, halo=h, align=align)) for a, b in _cores(n, k)]
            for n, k, h, align in self._axes()
        ]
        for per_axis in itertools.product(*axes):
            yield tuple(c for c, _ in per_axis), tuple(i for _, i in per_axis)  # type: ignore[misc]

    def record(self) -> dict[str, Any]:
        """JSON-ready summary (stored with each run, shown on the leaderboard)."""
        return {
            "shape": list(self.shape), "grid": list(self.grid), "tile": list(self.tile), "halo": list(self.halo),
            "tiles": self.tiles, "redundancy": round(self.redundancy, 4), "exact": self.exact,
            "receptive_field": self.context.record(), "peak_bytes": self.peak_bytes, "budget": self.budget,
        }

    def describe(self) -> str:
        """One line: tiles, core, halo, redundancy, exactness, memory."""
        grid = "×".join(map(str, self.grid))
        return (
            f"{self.tiles} tile(s) ({grid}), core ≤ {'×'.join(map(str, self.tile))}, halo {'/'.join(map(str, self.halo))} "
            f"(receptive field {'/'.join(map(str, self.context.radius))}{', whole volume' if self.context.whole_volume else ''}"
            f"{f'; not measured: {self.context.unmeasured}' if self.context.unmeasured else ''}), "
            f"redundancy {self.redundancy:.3f}, {'exact' if self.exact else 'approximate'}, "
            f"≈{self.peak_bytes / 1024**3:.2f} GiB of {self.budget / 1024**3:.2f} GiB"
        )


def _best_grid(shape: Shape, halo: Shape, *, capacity: float, alignment: Shape = (1, 1, 1)) -> Shape | None:
    """The grid with the fewest computed voxels whose largest input tile holds ≤ ``capacity`` voxels."""
    per_axis = []  # per axis: (tiles, largest input extent, summed input extents)
    for n, h, align in zip(shape, halo, alignment, strict=True):
        options = []
        for k in range(1, min(n, MAX_TILES_PER_AXIS) + 1):
            extents = _axis_extents(n, k, h, align)
            options.append((k, max(extents), sum(extents)))
        per_axis.append(options)
    best: tuple[int, int, Shape] | None = None
    for kx, mx, sx in per_axis[0]:
        for ky, my, sy in per_axis[1]:
            if mx * my > capacity:
                continue
            for kz, mz, sz in per_axis[2]:
                if mx * my * mz <= capacity:
                    key = (sx * sy * sz, kx * ky * kz, (kx, ky, kz))
                    best = key if best is None or key < best else best
                    break  # more tiles along z only add work
    return None if best is None else best[2]


def plan_tiles(
    shape: Shape,
    *,
    context: ContextNeed,
    voxel_bytes: float,
    fixed_bytes: float = 0.0,
    budget: int,
    halo: int | None = None,
    max_exact_redundancy: float = MAX_EXACT_REDUNDANCY,
) -> TilePlan:
    """Plan the tiles of an LR volume of ``shape`` (see the module docstring); ``halo``
    fixes the halo (LR voxels per side) instead of choosing it.

    Raises:
        InputError: when not even a one-voxel core with its halo fits ``budget``.
    """
    shape = tuple(int(n) for n in shape)  # type: ignore[assignment]
    capacity = (budget - fixed_bytes) / max(voxel_bytes, 1e-9)

    def make(halo: Shape) -> TilePlan | None:
        halo = tuple(min(h, n) for h, n in zip(halo, shape, strict=True))  # type: ignore[assignment]
        grid = _best_grid(shape, halo, capacity=capacity, alignment=context.alignment)
        if grid is None:
            return None
        return TilePlan(shape=shape, grid=grid, halo=halo, context=context, voxel_bytes=float(voxel_bytes),
                        fixed_bytes=float(fixed_bytes), budget=int(budget))

    if halo is not None:
        fixed = make((int(halo),) * 3)
        if fixed is None:
            raise InputError(
                f"memory budget {budget / 1024**2:.0f} MiB is too small for a halo of {halo} LR voxels "
                f"(one LR voxel needs about {voxel_bytes / 1024:.1f} KiB plus {fixed_bytes / 1024**2:.0f} MiB fixed)"
            )
        return fixed
    exact = make(context.radius)
    if exact is not None and (exact.tiles == 1 or (exact.exact and exact.redundancy <= max_exact_redundancy)):
        return exact
    fallback = make(context.fallback)
    candidates = [p for p in (exact, fallback) if p is not None]
    if candidates:
        return min(candidates, key=lambda p: p.computed_voxels)
    for size in range(max(context.fallback) - 1, -1, -1):
        smaller = make((size,) * 3)
        if smaller is not None:
            return smaller
    raise InputError(
        f"memory budget {budget / 1024**2:.0f} MiB is too small: one LR voxel needs about "
        f"{voxel_bytes / 1024:.1f} KiB plus {fixed_bytes / 1024**2:.0f} MiB fixed"
    )


def run_tiled(
    x: torch.Tensor,
    fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    plan: TilePlan,
    out_scale: tuple[int, int, int],
) -> torch.Tensor:
    """Apply ``fn`` tile by tile and keep each tile's core.

    Args:
        x: ``(B, C, W, H, D)`` input on the LR grid (``plan.shape == (W, H, D)``).
        fn: ``(B, C, w, h, d)`` → ``(B, C', w·sx, h·sy, d·sz)``.
        plan: from :func:`plan_tiles`.
        out_scale: ``(sx, sy, sz)``, integer output voxels per input voxel.

    Returns:
        ``(B, C', W·sx, H·sy, D·sz)`` float32 on ``x``'s device.
    """
    if tuple(x.shape[2:]) != tuple(plan.shape):
        raise ValueError(f"tile plan is for {plan.shape}, input has spatial shape {tuple(x.shape[2:])}")
    output: torch.Tensor | None = None
    for core, box in plan.boxes():
        result = fn(x[(slice(None), slice(None), *(slice(a, b) for a, b in box))])
        expected = tuple((b - a) * s for (a, b), s in zip(box, out_scale, strict=True))
        if tuple(result.shape[2:]) != expected:
            raise RuntimeError(f"model returned a tile of shape {tuple(result.shape[2:])}, expected {expected}")
        if output is None:
            size = tuple(n * s for n, s in zip(plan.shape, out_scale, strict=True))
            output = torch.empty((result.shape[0], result.shape[1], *size), dtype=torch.float32, device=result.device)
        keep = tuple(slice((c0 - i0) * s, (c1 - i0) * s) for (c0, c1), (i0, _), s in zip(core, box, out_scale, strict=True))
        target = tuple(slice(c0 * s, c1 * s) for (c0, c1), s in zip(core, out_scale, strict=True))
        output[(slice(None), slice(None), *target)] = result[(slice(None), slice(None), *keep)]
    assert output is not None
    return output


def slab_plan(shape: Shape, *, slabs: int, halo: int) -> TilePlan:
    """A plan cutting ``shape`` into ``slabs`` slabs along its longest axis, with ``halo``
    voxels of context (for a network stage whose receptive field ``halo`` covers)."""
    axis = max(range(3), key=lambda a: shape[a])
    grid = tuple(min(slabs, shape[a]) if a == axis else 1 for a in range(3))
    halos = tuple(halo if a == axis else 0 for a in range(3))
    return TilePlan(shape=tuple(shape), grid=grid, halo=halos, context=ContextNeed(radius=halos),  # type: ignore[arg-type]
                    voxel_bytes=0.0, fixed_bytes=0.0, budget=0)


def plan_for_settings(
    shape: Shape,
    *,
    context: ContextNeed,
    voxel_bytes: float,
    fixed_bytes: float,
    settings: Any,
    device: str,
) -> TilePlan | None:
    """The plan a predictor uses for ``settings`` (an :class:`~srbench.interfaces.InferenceSettings`):
    ``None`` when the fixed patch scheme was asked for, else :func:`plan_tiles` with the
    settings' budget (the device's default when unset) and halo."""
    if settings.fixed_patches:
        return None
    budget = settings.memory_budget if settings.memory_budget is not None else default_memory_budget(device)
    return plan_tiles(tuple(int(n) for n in shape), context=context, voxel_bytes=voxel_bytes,  # type: ignore[arg-type]
                      fixed_bytes=fixed_bytes, budget=budget, halo=settings.halo)


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4, "t": 1000**4, "tb": 1000**4}


def parse_memory_size(text: str | int) -> int:
    """Bytes from ``2GiB``, ``1.5GB``, ``512MiB``, ``800M`` or a plain byte count.

    Raises:
        InputError: for anything else, or a size under 1 MiB.
    """
    if isinstance(text, int):
        size = text
    else:
        value = str(text).strip().lower().replace(" ", "")
        number = value.rstrip("kmgtib")
        unit = value[len(number):]
        try:
            size = int(float(number) * _UNITS[unit])
        except (KeyError, ValueError):
            raise InputError(f"memory size {text!r}: expected a number with an optional unit (e.g. 2GiB, 1500MB, 800M)") from None
    if size < 1024**2:
        raise InputError(f"memory size {text!r} is below 1 MiB")
    return size


def predictor_plan(predictor: Any, shape: Shape, *, scale: Any, settings: Any) -> TilePlan | None:
    """The plan ``predictor`` would use for an LR volume of ``shape``; ``None`` for
    predictors that do not plan tiles (no ``inference_plan`` method) or fixed patches."""
    method = capabilities.inference_plan_method(predictor)
    return None if method is None else method(tuple(int(n) for n in shape), scale=scale, settings=settings)
