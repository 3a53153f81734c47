"""Generic 3D building blocks: sub-pixel shuffle, ESRGAN's residual dense block and RRDB.

Tensors are ``(B, C, W, H, D)``. Nothing here knows about ESRGAN's training; the
networks in :mod:`srbench_esrgan3d.networks` assemble these blocks. Every definition is
standalone (torch only) so the blocks can move into the core unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

LEAKY_SLOPE = 0.2
"""Negative slope of ESRGAN's LeakyReLUs (generator and discriminator)."""


def as_factors(factor: int | Sequence[int]) -> tuple[int, int, int]:
    """``2`` → ``(2, 2, 2)``; a per-axis sequence is returned as three ints."""
    if isinstance(factor, int):
        return (factor, factor, factor)
    fx, fy, fz = (int(f) for f in factor)
    return (fx, fy, fz)


def pixel_shuffle_3d(x: torch.Tensor, factor: int | Sequence[int]) -> torch.Tensor:
    """Move channels into space: ``(B, C·rx·ry·rz, W, H, D)`` → ``(B, C, W·rx, H·ry, D·rz)``.

    Output voxel ``(w·rx + i, h·ry + j, d·rz + k)`` of channel ``c`` is input channel
    ``c·rx·ry·rz + (i·ry + j)·rz + k`` at ``(w, h, d)``: the 3D analogue of
    :func:`torch.nn.functional.pixel_shuffle`.
    """
    rx, ry, rz = as_factors(factor)
    b, c, w, h, d = x.shape
    group = rx * ry * rz
    if c % group:
        raise ValueError(f"pixel_shuffle_3d: {c} channels are not divisible by {rx}*{ry}*{rz}")
    x = x.reshape(b, c // group, rx, ry, rz, w, h, d)
    x = x.permute(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, c // group, w * rx, h * ry, d * rz)


def pixel_unshuffle_3d(x: torch.Tensor, factor: int | Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`pixel_shuffle_3d`: ``(B, C, W·rx, H·ry, D·rz)`` → ``(B, C·rx·ry·rz, W, H, D)``."""
    rx, ry, rz = as_factors(factor)
    b, c, big_w, big_h, big_d = x.shape
    if big_w % rx or big_h % ry or big_d % rz:
        raise ValueError(f"pixel_unshuffle_3d: size {(big_w, big_h, big_d)} is not divisible by {(rx, ry, rz)}")
    w, h, d = big_w // rx, big_h // ry, big_d // rz
    x = x.reshape(b, c, w, rx, h, ry, d, rz)
    x = x.permute(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, c * rx * ry * rz, w, h, d)


class PixelShuffle3d(nn.Module):
    """Module form of :func:`pixel_shuffle_3d` (3D sub-pixel up-sampling)."""

    def __init__(self, factor: int | Sequence[int]) -> None:
        super().__init__()
        self.factor = as_factors(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle_3d(x, self.factor)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


def conv3x3x3(in_channels: int, out_channels: int, *, stride: int = 1, bias: bool = True) -> nn.Conv3d:
    """A 3×3×3 convolution with one voxel of zero padding (size divided by ``stride``)."""
    return nn.Conv3d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=bias)


class ResidualDenseBlock3d(nn.Module):
    """ESRGAN's residual dense block in 3D: five 3³ convs with dense connections, no norm.

    Conv ``k`` (k = 1..4) reads the concatenation of the input and the ``k − 1`` earlier
    outputs (``channels + (k − 1)·growth`` channels), writes ``growth`` channels and is
    followed by LeakyReLU(0.2); conv 5 reads ``channels + 4·growth`` channels and writes
    ``channels`` without activation. Output ``x + residual_scale · conv5(...)`` keeps the
    shape ``(B, channels, W, H, D)``.
    """

    def __init__(self, channels: int, growth: int, *, residual_scale: float = 0.2) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.convs = nn.ModuleList(conv3x3x3(channels + k * growth, growth) for k in range(4))
        self.fuse = conv3x3x3(channels + 4 * growth, channels)
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs:
            features.append(self.act(conv(torch.cat(features, dim=1))))
        return x + self.residual_scale * self.fuse(torch.cat(features, dim=1))


class RRDB3d(nn.Module):
    """Residual-in-residual dense block: three :class:`ResidualDenseBlock3d` and a scaled skip.

    ``(B, channels, W, H, D)`` → same shape: ``x + residual_scale · dense_blocks(x)``.
    """

    def __init__(self, channels: int, growth: int, *, residual_scale: float = 0.2) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.dense_blocks = nn.Sequential(
            *(ResidualDenseBlock3d(channels, growth, residual_scale=residual_scale) for _ in range(3))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual_scale * self.dense_blocks(x)


def kaiming_init(module: nn.Module, *, negative_slope: float = 0.0, scale: float = 1.0) -> None:
    """Kaiming-normal (fan-in) weights for every conv/linear layer of ``module``, zero biases.

    Args:
        negative_slope: slope of the LeakyReLU the layers feed (0 for ReLU).
        scale: multiplier applied to the initial weights (ESRGAN scales its generator's
            initial weights by 0.1 so the deep residual trunk starts close to identity).
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, a=negative_slope, mode="fan_in", nonlinearity="leaky_relu")
            with torch.no_grad():
                layer.weight.mul_(scale)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm3d) and layer.affine:
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
