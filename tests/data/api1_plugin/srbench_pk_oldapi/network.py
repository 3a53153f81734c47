"""The oldapi network: a small residual CNN on top of trilinear up-sampling.

Input ``(B, 1, w, h, d)`` normalised LR patches, output ``(B, 1, sx·w, sy·h, sz·d)``:
the trilinear up-sampling (``align_corners=False``, so SR voxel centres lie on the HR
grid) plus a correction predicted by ``layers`` 3×3×3 convolutions. The last convolution
starts at zero, so the untrained network is exactly trilinear interpolation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ResidualUpsampler(nn.Module):
    """Trilinear up-sampling plus a learned residual.

    Args:
        channels: feature maps of the hidden convolutions.
        layers: number of 3×3×3 convolutions (at least 2).
        scale: integer up-sampling factor per axis, e.g. ``(2, 2, 2)``.
    """

    def __init__(self, *, channels: int = 16, layers: int = 3, scale: Sequence[int] = (2, 2, 2)) -> None:
        super().__init__()
        if layers < 2:
            raise ValueError(f"layers must be at least 2, got {layers}")
        self.scale = tuple(int(s) for s in scale)
        body: list[nn.Module] = [nn.Conv3d(1, channels, 3, padding=1, padding_mode="replicate"), nn.ReLU(inplace=True)]
        for _ in range(layers - 2):
            body += [nn.Conv3d(channels, channels, 3, padding=1, padding_mode="replicate"), nn.ReLU(inplace=True)]
        last = nn.Conv3d(channels, 1, 3, padding=1, padding_mode="replicate")
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        body.append(last)
        self.body = nn.Sequential(*body)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        """``(B, 1, w, h, d)`` → ``(B, 1, sx·w, sy·h, sz·d)``."""
        size = tuple(n * s for n, s in zip(lr.shape[-3:], self.scale, strict=True))
        up = F.interpolate(lr, size=size, mode="trilinear", align_corners=False)
        return up + self.body(up)
