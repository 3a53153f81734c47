"""The self-supervised task that pre-trains the 3D VGG-19: grade how degraded a patch is.

Each HR training patch ``x`` is blended with the trilinear up-sampling ``u`` of its own
LR version (the track's degradation, as the super-resolution model sees it):
``(1 − t)·x + t·u`` with ``t = k / (levels − 1)``, at every level ``k`` (so a batch of B
patches becomes ``B·levels`` examples, each patch at all its levels); the network
predicts ``k``. Telling the levels apart needs features of exactly the fine detail that
super-resolution has to restore, which is what the perceptual loss should compare. Each
blended patch is then turned by a random cube symmetry (augmentation, not a label), so
the features do not depend on the patch orientation.

A cubic patch has 48 symmetries: the 6 permutations of its three axes times the 8
combinations of flipping each axis. Symmetry ``k`` is permutation ``k // 8`` of
:data:`PERMUTATIONS` followed by flipping the axes whose bit is set in ``k % 8``
(bit 0 = first spatial axis).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

PERMUTATIONS: tuple[tuple[int, ...], ...] = tuple(itertools.permutations(range(3)))
"""The 6 orders of the spatial axes, in lexicographic order (identity first)."""

SYMMETRIES = len(PERMUTATIONS) * 8
"""Number of symmetries of a cube (48)."""


def apply_symmetry(patch: torch.Tensor, index: int) -> torch.Tensor:
    """Apply symmetry ``index`` (0..47) to the spatial axes of a ``(C, W, H, D)`` cubic patch."""
    if not 0 <= index < SYMMETRIES:
        raise ValueError(f"symmetry index {index} is outside 0..{SYMMETRIES - 1}")
    permutation = PERMUTATIONS[index // 8]
    out = patch.permute(0, *(1 + axis for axis in permutation))
    flips = [1 + axis for axis in range(3) if (index % 8) >> axis & 1]
    return out.flip(flips) if flips else out


def random_symmetries(patches: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """Turn each patch of a ``(B, C, S, S, S)`` batch by a symmetry drawn from ``generator``."""
    if len(set(patches.shape[2:])) != 1:
        raise ValueError(f"cube symmetries need cubic patches, got spatial size {tuple(patches.shape[2:])}")
    picks = torch.randint(0, SYMMETRIES, (patches.shape[0],), generator=generator, device=generator.device)
    return torch.stack([apply_symmetry(p, int(k)) for p, k in zip(patches, picks, strict=True)])


def degradation_levels(
    hr: torch.Tensor, lr: torch.Tensor, *, levels: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the pre-training task: every patch at every degradation level.

    Args:
        hr: ``(B, 1, S, S, S)`` normalised HR patches.
        lr: ``(B, 1, S/sx, S/sy, S/sz)`` their degraded LR versions.
        levels: number of classes (≥ 2); level 0 is the HR patch, the last is trilinear.
        generator: source of the symmetries (one per example).

    Returns:
        ``(patches (B·levels, 1, S, S, S), labels (B·levels,) int64)`` on ``hr``'s device;
        example ``b·levels + k`` is patch ``b`` at level ``k``.
    """
    if levels < 2:
        raise ValueError(f"the degradation-level task needs at least 2 levels, got {levels}")
    upsampled = F.interpolate(lr, size=tuple(hr.shape[2:]), mode="trilinear", align_corners=False)
    t = torch.linspace(0.0, 1.0, levels, dtype=hr.dtype, device=hr.device).view(1, levels, 1, 1, 1)
    blended = (1 - t) * hr + t * upsampled  # (B, levels, S, S, S)
    examples = blended.reshape(-1, 1, *hr.shape[2:])
    labels = torch.arange(levels, device=hr.device).repeat(hr.shape[0])
    return random_symmetries(examples, generator=generator), labels
