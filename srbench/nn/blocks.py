"""ESRGAN's residual dense block and residual-in-residual dense block (RRDB), in 3D.

Tensors are ``(B, C, W, H, D)``; no normalisation layers (ESRGAN removed them).
"""

from __future__ import annotations

import torch
from torch import nn

from srbench.nn.layers import LEAKY_SLOPE, conv3


class DenseBlock(nn.Module):
    """Residual dense block: five 3³ convs with dense connections.

    Conv ``k`` (k = 1..4) reads the concatenation of the input and the ``k − 1`` earlier
    outputs (``channels + (k − 1)·growth`` channels), writes ``growth`` channels and is
    followed by LeakyReLU(0.2); the last conv reads ``channels + 4·growth`` channels and
    writes ``channels`` without activation. Output ``x + residual_scale · last(...)``
    keeps the shape ``(B, channels, W, H, D)``.
    """

    def __init__(self, channels: int, growth: int, *, residual_scale: float = 0.2) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.convs = nn.ModuleList(conv3(channels + k * growth, growth) for k in range(4))
        self.last = conv3(channels + 4 * growth, channels)
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs:
            features.append(self.act(conv(torch.cat(features, dim=1))))
        return x + self.residual_scale * self.last(torch.cat(features, dim=1))


class RRDB(nn.Module):
    """Residual-in-residual dense block: three :class:`DenseBlock` and a scaled skip.

    ``(B, channels, W, H, D)`` → same shape: ``x + residual_scale · blocks(x)``.
    """

    def __init__(self, channels: int, growth: int, *, residual_scale: float = 0.2) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.blocks = nn.Sequential(*(DenseBlock(channels, growth, residual_scale=residual_scale) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual_scale * self.blocks(x)
