"""Generic 3D building blocks: sub-pixel shuffles, the ESRGAN dense block and RRDB, a ResNet block.

Tensors are ``(B, C, W, H, D)``. Nothing here knows about the three-player GAN; the
networks in :mod:`srbench_trigan.networks` assemble these blocks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

LEAKY_SLOPE = 0.2
"""Negative slope of every LeakyReLU in the generator and discriminator (ESRGAN's value)."""


def _factors(factor: int | Sequence[int]) -> tuple[int, int, int]:
    if isinstance(factor, int):
        return (factor, factor, factor)
    fx, fy, fz = (int(f) for f in factor)
    return (fx, fy, fz)


def pixel_shuffle_3d(x: torch.Tensor, factor: int | Sequence[int]) -> torch.Tensor:
    """Rearrange channels into space: ``(B, C·rx·ry·rz, W, H, D)`` → ``(B, C, W·rx, H·ry, D·rz)``.

    Output voxel ``(w·rx + i, h·ry + j, d·rz + k)`` of channel ``c`` is input channel
    ``((c·rx + i)·ry + j)·rz + k`` at ``(w, h, d)`` — the 3D analogue of
    :func:`torch.nn.functional.pixel_shuffle`.
    """
    rx, ry, rz = _factors(factor)
    b, c, w, h, d = x.shape
    group = rx * ry * rz
    if c % group:
        raise ValueError(f"pixel_shuffle_3d: {c} channels are not divisible by {rx}·{ry}·{rz}")
    x = x.reshape(b, c // group, rx, ry, rz, w, h, d)
    x = x.permute(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, c // group, w * rx, h * ry, d * rz)


def pixel_unshuffle_3d(x: torch.Tensor, factor: int | Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`pixel_shuffle_3d`: ``(B, C, W·rx, H·ry, D·rz)`` → ``(B, C·rx·ry·rz, W, H, D)``."""
    rx, ry, rz = _factors(factor)
    b, c, big_w, big_h, big_d = x.shape
    if big_w % rx or big_h % ry or big_d % rz:
        raise ValueError(f"pixel_unshuffle_3d: size {(big_w, big_h, big_d)} is not divisible by {(rx, ry, rz)}")
    w, h, d = big_w // rx, big_h // ry, big_d // rz
    x = x.reshape(b, c, w, rx, h, ry, d, rz)
    x = x.permute(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, c * rx * ry * rz, w, h, d)


class PixelShuffle3d(nn.Module):
    """Module form of :func:`pixel_shuffle_3d` (a 3D sub-pixel up-sampling layer)."""

    def __init__(self, factor: int | Sequence[int]) -> None:
        super().__init__()
        self.factor = _factors(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle_3d(x, self.factor)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


def conv3(in_channels: int, out_channels: int, *, stride: int = 1, bias: bool = True) -> nn.Conv3d:
    """A 3×3×3 convolution with 'same' padding (size divided by ``stride``)."""
    return nn.Conv3d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=bias)


class DenseBlock(nn.Module):
    """ESRGAN's residual dense block in 3D: five 3³ convs with dense connections.

    Conv ``k`` (k = 1..4) maps the concatenation of the input and the ``k − 1`` previous
    outputs (``channels + (k − 1)·growth`` channels) to ``growth`` channels, followed by
    LeakyReLU(0.2); conv 5 maps ``channels + 4·growth`` back to ``channels`` without an
    activation. Output: ``x + residual_scale · conv5(...)``; shape ``(B, channels, W, H, D)``
    is preserved. No normalisation layers.
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
    """Residual-in-residual dense block: three :class:`DenseBlock` plus an outer scaled skip.

    ``(B, channels, W, H, D)`` → same shape; ``x + residual_scale · blocks(x)``.
    """

    def __init__(self, channels: int, growth: int, *, residual_scale: float = 0.2) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.blocks = nn.Sequential(*(DenseBlock(channels, growth, residual_scale=residual_scale) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual_scale * self.blocks(x)


class BasicBlock3d(nn.Module):
    """ResNet basic block in 3D: two 3³ convs with batch norm, ReLU and a projection shortcut.

    ``(B, in_channels, W, H, D)`` → ``(B, channels, W/stride, H/stride, D/stride)``. The
    shortcut is a 1³ conv + batch norm when the shape changes (ResNet shortcut "B").
    Batch norm always normalises with the current batch statistics
    (``track_running_stats=False``): the network is only ever used for training-time
    features, and no running statistics means no hidden state changes outside its own
    optimiser step.
    """

    def __init__(self, in_channels: int, channels: int, *, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(in_channels, channels, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm3d(channels, track_running_stats=False)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm3d(channels, track_running_stats=False)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv3d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm3d(channels, track_running_stats=False),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def kaiming_init(module: nn.Module, *, negative_slope: float) -> None:
    """Kaiming-normal (fan-in) weights for every conv/linear layer, zero biases, unit norm scales.

    ``negative_slope`` is the LeakyReLU slope the layers feed (0 for ReLU).
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, a=negative_slope, mode="fan_in", nonlinearity="leaky_relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm3d, nn.InstanceNorm3d)) and layer.affine:
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
