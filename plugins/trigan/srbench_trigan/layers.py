"""The 3D ResNet basic block of the three-player GAN's feature extractor.

Tensors are ``(B, C, W, H, D)``. The generic pieces (pixel shuffle, dense block, RRDB,
Kaiming init) are shared with other methods in :mod:`srbench.nn`.
"""

from __future__ import annotations

import torch
from torch import nn


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
