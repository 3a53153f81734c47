"""Measure a patch function's receptive field by back-propagating from one output voxel.

The probe feeds a line of random LR voxels along one axis (``2R + 1`` long, one voxel
across) through the function, takes the gradient of the SR voxels inside the line's centre
LR voxel with respect to the input, and reads two radii off the gradient's profile along
the line (LR voxels from the centre):

- the *radius*: the farthest voxel with a non-zero gradient, i.e. the receptive field
  (for LeakyReLU/ELU networks and random inputs no path is ever exactly dead);
- the *effective* radius: the smallest ``d`` such that the gradient mass farther than
  ``d`` is at most :data:`SENSITIVITY_TOLERANCE` of the total.

When the gradient reaches the line's ends the line is doubled, up to
:data:`MAX_PROBED_RADIUS`; beyond that the function is said to need the whole volume.

Then the *alignment* (the network's total stride): the smallest shift of the input along
each axis, among :data:`ALIGNMENT_SHIFTS`, by which the output shifts exactly (scale ×
shift SR voxels, compared away from the ends). A stride-1 network has 1; a 3D U-Net with
two stride-2 stages has 4, and its tiles must start on multiples of 4 to equal the
whole-volume pass. A function whose output follows no shift (position-dependent) needs the
whole volume: no tiling of it is exact.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from srbench.interfaces import ContextNeed

SENSITIVITY_TOLERANCE = 1e-4
"""Share of the output's gradient mass a halo may leave out (the effective radius)."""

MAX_PROBED_RADIUS = 256
"""Largest radius (LR voxels) the probe tries before declaring whole-volume context."""

PROBE_SEEDS = 3
"""Random inputs whose gradient profiles are summed: a ReLU that is off for one input
hides the paths behind it, another input turns it on."""

PROBE_WIDTHS = (1, 8)

ALIGNMENT_SHIFTS = (1, 2, 4, 8, 16, 32)
"""Input shifts (LR voxels) tried, smallest first, when measuring a network's alignment."""
"""Extents of the probe line across its axis (LR voxels): one (cheapest), else eight for
networks that need more (strided convolutions, pooling)."""


def _profile(
    fn: Callable[[torch.Tensor], torch.Tensor], *, axis: int, radius: int, out_scale: tuple[int, int, int], seed: int, dtype: torch.dtype,
    width: int,
) -> torch.Tensor:
    """``(2·radius + 1,)`` summed |gradient| of the centre voxel's outputs along ``axis``."""
    shape = [width] * 3
    shape[axis] = 2 * radius + 1
    generator = torch.Generator().manual_seed(seed)
    lr = torch.rand((1, 1, *shape), generator=generator, dtype=dtype).requires_grad_(True)
    with torch.enable_grad():
        out = fn(lr)
        s = out_scale[axis]
        centre = out.narrow(2 + axis, radius * s, s)
        (gradient,) = torch.autograd.grad(centre.sum(), lr, allow_unused=True)
    if gradient is None:
        raise TypeError("the function's output does not depend on its input through autograd")
    others = tuple(d for d in range(3) if d != axis)
    return gradient[0, 0].abs().sum(dim=others).to(torch.float64)


def _line_profile(fn: Callable[[torch.Tensor], torch.Tensor], **options: object) -> torch.Tensor:
    """:func:`_profile` on the thinnest line ``fn`` accepts (:data:`PROBE_WIDTHS`)."""
    for width in PROBE_WIDTHS[:-1]:
        try:
            return _profile(fn, width=width, **options)  # type: ignore[arg-type]
        except RuntimeError:
            continue
    return _profile(fn, width=PROBE_WIDTHS[-1], **options)  # type: ignore[arg-type]


def _shift_equivariant(fn: Callable[[torch.Tensor], torch.Tensor], *, axis: int, radius: int, shift: int,
                       out_scale: tuple[int, int, int], dtype: torch.dtype, width: int, seed: int) -> bool:
    """Whether shifting the input by ``shift`` LR voxels along ``axis`` shifts the output by
    ``shift · scale`` SR voxels, exactly (to float rounding), wherever both outputs see no end."""
    length = 2 * radius + 2 * max(ALIGNMENT_SHIFTS) + 8
    shape = [width] * 3
    shape[axis] = length
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand((1, 1, *shape), generator=generator, dtype=dtype)
    with torch.no_grad():
        whole = fn(x)
        shifted = fn(x.narrow(2 + axis, shift, length - shift))
    s = out_scale[axis]
    lo, hi = radius, length - shift - radius  # LR positions of the shifted input whose field is inside both
    if hi <= lo:
        return False
    a = shifted.narrow(2 + axis, lo * s, (hi - lo) * s)
    b = whole.narrow(2 + axis, (lo + shift) * s, (hi - lo) * s)
    scale = max(1.0, float(b.abs().max()))
    return bool((a - b).abs().max() <= 1e-6 * scale)


def _alignment(fn: Callable[[torch.Tensor], torch.Tensor], *, axis: int, radius: int,
               out_scale: tuple[int, int, int], dtype: torch.dtype, seed: int) -> int | None:
    """The smallest of :data:`ALIGNMENT_SHIFTS` the output follows along ``axis`` (None: none)."""
    for width in (*PROBE_WIDTHS[1:], max(ALIGNMENT_SHIFTS)):
        try:
            for shift in ALIGNMENT_SHIFTS:
                if _shift_equivariant(fn, axis=axis, radius=radius, shift=shift, out_scale=out_scale, dtype=dtype,
                                      width=width, seed=seed):
                    return shift
            return None
        except RuntimeError:  # the network refuses this width (a stride larger than it)
            continue
    return None


def probe_context(
    fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    out_scale: tuple[int, int, int],
    tolerance: float = SENSITIVITY_TOLERANCE,
    seed: int = 0,
) -> ContextNeed:
    """Measure the receptive field of ``fn`` (``(1, 1, w, h, d)`` → ``(1, C, w·sx, h·sy, d·sz)``).

    Returns a :class:`~srbench.interfaces.ContextNeed` with the measured radius and effective
    radius per axis (LR voxels), or ``whole_volume=True`` (radius = the probe's limit) when
    the gradient still reaches the ends of a ``2·MAX_PROBED_RADIUS + 1`` line.

    A :class:`torch.nn.Module` is probed as a float64 copy on the CPU, which keeps the
    gradient of long paths through deep networks from underflowing to zero; any other
    callable is probed in float32.

    Raises:
        TypeError: when ``fn`` is not differentiable by autograd.
        RuntimeError: when ``fn`` fails on every probe line.
    """
    dtype = torch.float32
    if isinstance(fn, torch.nn.Module):
        fn, dtype = copy.deepcopy(fn).to("cpu", torch.float64), torch.float64
    radius: list[int] = []
    effective: list[int] = []
    for axis in range(3):
        probe = 16
        while True:
            profile = sum(  # type: ignore[assignment]
                _line_profile(fn, axis=axis, radius=probe, out_scale=out_scale, seed=seed + k, dtype=dtype)
                for k in range(PROBE_SEEDS)
            )
            distance = (torch.arange(profile.numel()) - probe).abs()
            reached = int(distance[profile > 0].max()) if bool((profile > 0).any()) else 0
            if reached < probe or probe >= MAX_PROBED_RADIUS:
                break
            probe *= 2
        if reached >= probe:
            return ContextNeed(radius=(MAX_PROBED_RADIUS,) * 3, whole_volume=True)
        total = float(profile.sum())
        beyond = [float(profile[distance > d].sum()) for d in range(reached + 1)]
        effective.append(next(d for d, mass in enumerate(beyond) if mass <= tolerance * total) if total > 0 else 0)
        radius.append(reached)
    alignment = [_alignment(fn, axis=axis, radius=radius[axis], out_scale=out_scale, dtype=dtype, seed=seed)
                 for axis in range(3)]
    if None in alignment:
        axis = alignment.index(None)
        return ContextNeed(radius=tuple(radius), whole_volume=True,  # type: ignore[arg-type]
                           unmeasured=f"its output does not shift with its input along axis {axis} (by up to "
                                      f"{max(ALIGNMENT_SHIFTS)} LR voxels): tiles cannot equal the whole-volume pass")
    return ContextNeed(radius=tuple(radius), effective=tuple(effective), alignment=tuple(alignment))  # type: ignore[arg-type]
