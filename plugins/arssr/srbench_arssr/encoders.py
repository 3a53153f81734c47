"""The three encoder choices of ArSSR: RDN, ResCNN and SRResNet (all without normalisation).

Each maps a normalised LR patch ``(B, 1, w, h, d)`` to a feature map
``(B, feature_dim, w, h, d)`` at LR resolution (every convolution is 3×3×3 with "same"
padding except the 1×1×1 fusion layers of RDN). Default widths and depths are those of
the ArSSR authors' public implementation.
"""

from __future__ import annotations

import torch
from torch import nn

ENCODERS = ("rdn", "rescnn", "srresnet")


def conv3(in_channels: int, out_channels: int) -> nn.Conv3d:
    """A 3×3×3 convolution that keeps the spatial size."""
    return nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1)


class ResidualDenseBlock(nn.Module):
    """RDN's block: ``layers`` densely connected conv+ReLU, 1×1×1 fusion, local residual.

    Shapes: ``(B, channels, w, h, d)`` → same.
    """

    def __init__(self, channels: int, *, growth: int, layers: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(conv3(channels + i * growth, growth) for i in range(layers))
        self.fuse = nn.Conv3d(channels + layers * growth, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs:
            features.append(torch.relu(conv(torch.cat(features, dim=1))))
        return x + self.fuse(torch.cat(features, dim=1))


class RDN(nn.Module):
    """Residual dense network (Zhang et al. 2018) as a 3D feature encoder.

    Args:
        feature_dim: output channels.
        channels: width of the shallow features and of every block (G0 = G).
        growth: channels added by each dense layer inside a block.
        blocks: residual dense blocks (D).
        layers: dense layers per block (C).
    """

    def __init__(self, *, feature_dim: int = 128, channels: int = 64, growth: int = 64, blocks: int = 8, layers: int = 3) -> None:
        super().__init__()
        self.shallow1 = conv3(1, channels)
        self.shallow2 = conv3(channels, channels)
        self.blocks = nn.ModuleList(ResidualDenseBlock(channels, growth=growth, layers=layers) for _ in range(blocks))
        self.global_fusion = nn.Sequential(nn.Conv3d(channels * blocks, channels, kernel_size=1), conv3(channels, channels))
        self.output = conv3(channels, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shallow = self.shallow1(x)
        h = self.shallow2(shallow)
        outputs = []
        for block in self.blocks:
            h = block(h)
            outputs.append(h)
        h = self.global_fusion(torch.cat(outputs, dim=1)) + shallow
        return self.output(h)


class ResCNN(nn.Module):
    """Residual CNN of Du et al. (2020): groups of conv+ReLU layers with a skip around each group.

    Args:
        feature_dim: output channels.
        channels: width of every hidden convolution.
        groups: residual groups.
        layers: conv+ReLU layers per group.
    """

    def __init__(self, *, feature_dim: int = 128, channels: int = 64, groups: int = 3, layers: int = 6) -> None:
        super().__init__()
        self.start = conv3(1, channels)
        self.groups = nn.ModuleList(
            nn.Sequential(*[m for _ in range(layers) for m in (conv3(channels, channels), nn.ReLU())]) for _ in range(groups)
        )
        self.end = conv3(channels, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.start(x))
        for group in self.groups:
            h = h + group(h)
        return self.end(h)


class ResidualBlock(nn.Module):
    """SRResNet's residual block without batch norm: conv → ReLU → conv, plus the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = conv3(channels, channels)
        self.conv2 = conv3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(torch.relu(self.conv1(x)))


class SRResNet(nn.Module):
    """SRResNet (Ledig et al. 2017) trunk without batch norm and without up-sampling.

    Args:
        feature_dim: output channels.
        channels: width of the residual trunk.
        blocks: residual blocks.
    """

    def __init__(self, *, feature_dim: int = 128, channels: int = 64, blocks: int = 18) -> None:
        super().__init__()
        self.start = conv3(1, channels)
        self.trunk = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.end = nn.Sequential(conv3(channels, channels), conv3(channels, feature_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.end(self.trunk(self.start(x)))


def build_encoder(name: str, *, feature_dim: int, channels: int, depth: int | None = None) -> nn.Module:
    """The encoder called ``name`` (one of :data:`ENCODERS`).

    Args:
        feature_dim: output channels (paper: 128).
        channels: hidden width (paper: 64 for all three).
        depth: RDN blocks, ResCNN groups or SRResNet blocks; ``None`` keeps the paper's
            (8, 3 and 18).
    """
    if name == "rdn":
        return RDN(feature_dim=feature_dim, channels=channels, growth=channels, blocks=depth or 8)
    if name == "rescnn":
        return ResCNN(feature_dim=feature_dim, channels=channels, groups=depth or 3)
    if name == "srresnet":
        return SRResNet(feature_dim=feature_dim, channels=channels, blocks=depth or 18)
    raise ValueError(f"unknown encoder {name!r}; choose from {', '.join(ENCODERS)}")
