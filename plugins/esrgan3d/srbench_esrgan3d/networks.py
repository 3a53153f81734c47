"""ESRGAN's three networks made 3D: RRDB generator, VGG-style discriminator, VGG-19 features.

Shapes are ``(B, C, W, H, D)``; inputs are single-channel intensities normalised by
:mod:`srbench.data.intensity` (about 0..1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from srbench.nn.blocks import RRDB
from srbench.nn.layers import LEAKY_SLOPE, PixelShuffle3d, as_factors, conv3, kaiming_init, zero_init
from srbench.nn.slabs import run_head

GENERATOR_INIT_SCALE = 0.1
"""ESRGAN multiplies the initial weights of its residual dense blocks by 0.1."""


class RRDBGenerator3d(nn.Module):
    """ESRGAN's RRDB generator in 3D with sub-pixel up-sampling.

    ``conv_first`` (1 → C) → ``blocks`` × :class:`~srbench.nn.blocks.RRDB` →
    ``trunk_conv`` (C → C) added to the ``conv_first`` output (ESRGAN's long skip) →
    ``conv_up`` (C → C·sx·sy·sz) → 3D pixel shuffle → LeakyReLU(0.2) → ``conv_hr``
    (C → C) → LeakyReLU(0.2) → ``conv_last`` (C → 1). With ``global_residual`` the
    trilinear up-sampling of the input is added to the output, so the network learns
    only the correction to trilinear interpolation (``conv_last`` then starts at zero,
    so the untrained network is exactly trilinear).

    Args:
        channels: feature channels C (ESRGAN: 64).
        growth: dense-block growth channels (ESRGAN: 32).
        blocks: number of RRDBs (ESRGAN 2D: 23).
        scale: integer up-sampling factor per axis.
        residual_scale: scaling of every residual branch (ESRGAN: 0.2).
        global_residual: add the trilinear interpolation of the input to the output.

    Shapes: ``(B, 1, w, h, d)`` → ``(B, 1, w·sx, h·sy, d·sz)``.
    """

    def __init__(
        self,
        *,
        channels: int = 64,
        growth: int = 32,
        blocks: int = 3,
        scale: int | Sequence[int] = 2,
        residual_scale: float = 0.2,
        global_residual: bool = False,
    ) -> None:
        super().__init__()
        self.scale = as_factors(scale)
        self.global_residual = global_residual
        self.conv_first = conv3(1, channels)
        self.trunk = nn.Sequential(*(RRDB(channels, growth, residual_scale=residual_scale) for _ in range(blocks)))
        self.trunk_conv = conv3(channels, channels)
        self.conv_up = conv3(channels, channels * math.prod(self.scale))
        self.shuffle = PixelShuffle3d(self.scale)
        self.conv_hr = conv3(channels, channels)
        self.conv_last = conv3(channels, 1)
        self.act = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)  # head only: same values, less memory
        kaiming_init(self, negative_slope=LEAKY_SLOPE)
        kaiming_init(self.trunk, negative_slope=LEAKY_SLOPE, scale=GENERATOR_INIT_SCALE)
        if global_residual:  # start exactly at trilinear interpolation
            zero_init(self.conv_last)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The up-sampling head: ``(B, C, w, h, d)`` trunk features → ``(B, 1, w·sx, h·sy, d·sz)``."""
        up = self.act(self.shuffle(self.conv_up(features)))
        return self.conv_last(self.act(self.conv_hr(up)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv_first(x)
        features = features + self.trunk_conv(self.trunk(features))
        out = run_head(self.head, features, scale=self.scale)
        if self.global_residual:
            out = out + F.interpolate(x, scale_factor=self.scale, mode="trilinear", align_corners=False)
        return out


def discriminator_output_size(patch_size: Sequence[int], *, stages: int) -> tuple[int, int, int]:
    """Spatial size after ``stages`` stride-2 convs (kernel 4, padding 1): ``n → ⌊n/2⌋`` per stage."""
    size = tuple(int(n) for n in patch_size)
    for _ in range(stages):
        size = tuple(n // 2 for n in size)
    return size  # type: ignore[return-value]


class VGGDiscriminator3d(nn.Module):
    """ESRGAN's VGG-style discriminator in 3D (``discriminator_VGG_128`` layout).

    ``stages`` stages; stage ``i`` has ``channels · min(2^i, 8)`` features and is a 3³
    stride-1 conv then a 4³ stride-2 conv, each followed by batch norm (not after the very
    first conv) and LeakyReLU(0.2). Then two linear layers (→ ``hidden`` → 1) give one
    raw logit per patch (the critic ``C`` of the relativistic loss; no sigmoid).
    Batch norm always uses the statistics of the current batch
    (``track_running_stats=False``): the discriminator only ever runs in training.

    Args:
        patch_size: HR patch size ``(W, H, D)`` it will see (fixes the linear layer's input).
        channels: features of the first stage (ESRGAN: 64).
        stages: number of stride-2 stages (ESRGAN: 5, 128² → 4²; here 64³ → 2³).
        hidden: width of the hidden linear layer (ESRGAN: 100).

    Shapes: ``(B, 1, W, H, D)`` → ``(B, 1)``.
    """

    def __init__(self, *, patch_size: int | Sequence[int], channels: int = 64, stages: int = 5, hidden: int = 100) -> None:
        super().__init__()
        size = as_factors(patch_size)
        out_size = discriminator_output_size(size, stages=stages)
        if min(out_size) < 1:
            raise ValueError(f"patch size {size} is too small for {stages} stride-2 discriminator stages")
        layers: list[nn.Module] = []
        in_channels = 1
        for stage in range(stages):
            width = channels * min(2**stage, 8)
            if stage == 0:
                layers += [nn.Conv3d(in_channels, width, 3, padding=1, bias=True), nn.LeakyReLU(LEAKY_SLOPE)]
            else:
                layers += [
                    nn.Conv3d(in_channels, width, 3, padding=1, bias=False),
                    nn.BatchNorm3d(width, track_running_stats=False),
                    nn.LeakyReLU(LEAKY_SLOPE),
                ]
            layers += [
                nn.Conv3d(width, width, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm3d(width, track_running_stats=False),
                nn.LeakyReLU(LEAKY_SLOPE),
            ]
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * math.prod(out_size), hidden),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Linear(hidden, 1),
        )
        kaiming_init(self, negative_slope=LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


VGG19_LAYOUT: tuple[int | str, ...] = (1, 1, "M", 2, 2, "M", 4, 4, 4, 4, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8)
"""VGG-19's convolutional layout up to conv5_4, as multiples of the first layer's width
(``"M"`` = 2³ max pooling). The 2D VGG-19 has width 64: 64, 64, M, 128, ..., 512."""


class VGG19Features3d(nn.Module):
    """VGG-19's feature stack in 3D up to conv5_4: ESRGAN's "VGG54" features.

    3³ convs (padding 1) with ReLU and 2³ max pooling in VGG-19's layout, cut right after
    conv5_4 *before* its activation (ESRGAN's perceptual loss uses pre-activation
    features). Without batch norm these are the first 35 modules of the 2D VGG-19's
    ``features``. With ``batch_norm`` (torchvision's ``vgg19_bn`` layout: conv → batch
    norm → ReLU) the cut is after conv5_4's batch norm, still before its ReLU, so in eval
    mode the features are conv5_4's output standardised by its training statistics.
    Single-channel input.

    Args:
        width: channels of the first conv (VGG-19: 64; conv5_4 then has 8·width).
        batch_norm: insert batch norm after every conv (needed to train the 16-layer
            plain stack from scratch in a short run; see the README).

    Shapes: ``(B, 1, W, H, D)`` → ``(B, 8·width, W/16, H/16, D/16)``.
    """

    def __init__(self, *, width: int = 64, batch_norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 1
        for item in VGG19_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool3d(kernel_size=2, stride=2))
            else:
                out_channels = width * int(item)
                layers.append(nn.Conv3d(in_channels, out_channels, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm3d(out_channels))
                layers.append(nn.ReLU())
                in_channels = out_channels
        layers.pop()  # conv5_4 is taken before its ReLU
        self.features = nn.Sequential(*layers)
        self.out_channels = in_channels
        kaiming_init(self, negative_slope=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class PretextHead(nn.Module):
    """Classifier on the VGG54 features for the self-supervised pre-training task.

    ReLU (conv5_4's activation) → global average pooling → linear layer to ``classes``
    logits. Shapes: ``(B, F, w, h, d)`` → ``(B, classes)``.
    """

    def __init__(self, *, in_channels: int, classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, classes)
        kaiming_init(self, negative_slope=0.0)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.relu(features).mean(dim=(2, 3, 4)))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
