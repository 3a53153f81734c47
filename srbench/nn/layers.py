"""3D layers: sub-pixel shuffle and unshuffle, the 3³ convolution, Kaiming initialisation.

Tensors are ``(B, C, W, H, D)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

LEAKY_SLOPE = 0.2
"""Negative slope of ESRGAN's LeakyReLUs (generators and discriminators)."""


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


def conv3(in_channels: int, out_channels: int, *, stride: int = 1, bias: bool = True) -> nn.Conv3d:
    """A 3×3×3 convolution with one voxel of zero padding (size divided by ``stride``)."""
    return nn.Conv3d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=bias)


def kaiming_init(module: nn.Module, *, negative_slope: float = 0.0, scale: float = 1.0) -> None:
    """Kaiming-normal (fan-in) weights for every conv/linear layer of ``module``, zero biases.

    Affine batch/instance norm layers get unit scales and zero shifts.

    Args:
        negative_slope: slope of the LeakyReLU the layers feed (0 for ReLU).
        scale: multiplier applied to the initial weights (ESRGAN scales its generator's
            residual blocks by 0.1 so the deep trunk starts close to identity).
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, a=negative_slope, mode="fan_in", nonlinearity="leaky_relu")
            if scale != 1.0:
                with torch.no_grad():
                    layer.weight.mul_(scale)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm3d, nn.InstanceNorm3d)) and layer.affine:
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


def zero_init(layer: nn.Module) -> None:
    """Zero the weight and bias of ``layer``: a residual branch ending in it starts as the
    identity of what it is added to (e.g. a network that starts as trilinear interpolation)."""
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
