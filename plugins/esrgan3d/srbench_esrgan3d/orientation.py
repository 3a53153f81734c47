"""The self-supervised pre-training task of the 3D VGG-19: which cube symmetry was applied?

A cubic patch has 48 symmetries: the 6 permutations of its three axes times the 8
combinations of flipping each axis (the 24 rotations and their 24 mirror images).
Symmetry ``k`` is permutation ``k // 8`` of :data:`PERMUTATIONS` followed by flipping the
axes whose bit is set in ``k % 8`` (bit 0 = first spatial axis). Brain MRI has a
canonical anatomy (superior/inferior, anterior/posterior, left/right hemispheres and
their asymmetries), so recognising the applied symmetry requires features of anatomical
structure, the kind a perceptual loss should compare.
"""

from __future__ import annotations

import itertools

import torch

PERMUTATIONS: tuple[tuple[int, int, int], ...] = tuple(itertools.permutations(range(3)))  # type: ignore[assignment]
"""The 6 orders of the spatial axes, in lexicographic order (identity first)."""

SYMMETRIES = len(PERMUTATIONS) * 8
"""Number of classes of the task (48)."""


def apply_symmetry(patch: torch.Tensor, index: int) -> torch.Tensor:
    """Apply symmetry ``index`` (0..47) to the spatial axes of a ``(C, W, H, D)`` cubic patch."""
    if not 0 <= index < SYMMETRIES:
        raise ValueError(f"symmetry index {index} is outside 0..{SYMMETRIES - 1}")
    permutation = PERMUTATIONS[index // 8]
    out = patch.permute(0, *(1 + axis for axis in permutation))
    flips = [1 + axis for axis in range(3) if (index % 8) >> axis & 1]
    return out.flip(flips) if flips else out


def symmetry_batch(patches: torch.Tensor, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Transform each patch of a ``(B, C, S, S, S)`` batch by a random symmetry.

    Returns:
        ``(transformed patches (B, C, S, S, S), labels (B,) int64 in 0..47)``; the labels
        are drawn from ``generator`` (uniformly).
    """
    if len(set(patches.shape[2:])) != 1:
        raise ValueError(f"symmetry prediction needs cubic patches, got spatial size {tuple(patches.shape[2:])}")
    labels = torch.randint(0, SYMMETRIES, (patches.shape[0],), generator=generator, device=generator.device)
    transformed = torch.stack([apply_symmetry(p, int(k)) for p, k in zip(patches, labels, strict=True)])
    return transformed, labels.to(patches.device)
