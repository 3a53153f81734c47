"""The three networks of the three-player GAN: generator, discriminator (critic), feature extractor.

All work on normalised intensities (see :mod:`srbench.data.intensity`) and batches
``(B, 1, W, H, D)``. Every network is Kaiming-initialised on construction; callers seed
torch first for reproducible weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from srbench.nn.blocks import RRDB
from srbench.nn.layers import LEAKY_SLOPE, PixelShuffle3d, conv3, kaiming_init, zero_init
from srbench.nn.slabs import run_head
from srbench_trigan.layers import BasicBlock3d

NATIVE_SCALE = (2, 2, 2)
"""The generator's fixed up-sampling factor per axis (the paper's isotropic ×2)."""


class Generator(nn.Module):
    """RRDB generator with 3D sub-pixel ×2 up-sampling.

    ``(B, 1, w, h, d)`` LR → ``(B, 1, 2w, 2h, 2d)`` SR. Layout: 3³ conv (1 → ``channels``)
    → ``n_rrdb`` RRDBs → 3³ conv, added to the first conv's features (ESRGAN's trunk skip)
    → 3³ conv to ``8·channels`` + 3D pixel shuffle ×2 + LeakyReLU(0.2) → 3³ conv +
    LeakyReLU(0.2) → 3³ conv to 1 channel. No normalisation layers. The head's activations
    work in place (same values; a third less memory at inference).

    Args:
        channels: feature channels (ESRGAN's ``nf``; 64 in the paper preset).
        growth: dense-block growth channels (ESRGAN's ``gc``; 32 in the paper preset).
        n_rrdb: number of RRDBs (3 in the paper).
        global_residual: add trilinear up-sampling of the input to the output, and start
            the last conv at zero so the untrained network *is* trilinear interpolation
            (a named CPU-budget deviation; the paper's generator has no such skip).
    """

    def __init__(self, *, channels: int = 64, growth: int = 32, n_rrdb: int = 3, global_residual: bool = False) -> None:
        super().__init__()
        self.global_residual = global_residual
        self.conv_first = conv3(1, channels)
        self.trunk = nn.Sequential(*(RRDB(channels, growth) for _ in range(n_rrdb)))
        self.trunk_conv = conv3(channels, channels)
        self.upsample = nn.Sequential(
            conv3(channels, channels * 8),
            PixelShuffle3d(2),
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
        )
        self.hr_conv = nn.Sequential(conv3(channels, channels), nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        self.conv_last = conv3(channels, 1)
        kaiming_init(self, negative_slope=LEAKY_SLOPE)
        if global_residual:
            zero_init(self.conv_last)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The up-sampling head: ``(B, C, w, h, d)`` trunk features → ``(B, 1, 2w, 2h, 2d)``."""
        return self.conv_last(self.hr_conv(self.upsample(features)))

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        features = self.conv_first(lr)
        features = features + self.trunk_conv(self.trunk(features))
        out = run_head(self.head, features, scale=NATIVE_SCALE)
        if self.global_residual:
            out = out + F.interpolate(lr, scale_factor=NATIVE_SCALE, mode="trilinear", align_corners=False)
        return out


class Discriminator(nn.Module):
    """The critic ``C``: strided 3D conv blocks with instance normalisation, raw logits out.

    One stage per entry of ``channels``: 3³ conv (stride 1) → InstanceNorm (not in the
    first stage) → LeakyReLU(0.2) → 3³ conv (stride 2) → InstanceNorm → LeakyReLU(0.2).
    A ``(B, 1, W, H, D)`` input (each side at least ``2**len(channels) · 2`` voxels, so the
    last instance norm sees more than one voxel) gives:

    - ``head="pool"``: global average pooling then a linear layer → ``(B, 1)``, one logit
      per sample for any patch size (the paper-text reading);
    - ``head="patch"``: a 3³ conv to one channel → ``(B, 1, W/2ⁿ, H/2ⁿ, D/2ⁿ)`` logits
      per location (the authors' code).

    ``D = sigmoid ∘ C``; the losses use ``C`` in logits form.
    """

    def __init__(self, *, channels: Sequence[int] = (64, 128, 256, 512), head: str = "pool") -> None:
        super().__init__()
        if head not in {"pool", "patch"}:
            raise ValueError(f"Discriminator head must be 'pool' or 'patch', got {head!r}")
        layers: list[nn.Module] = []
        previous = 1
        for index, width in enumerate(channels):
            layers.append(conv3(previous, width))
            if index > 0:
                layers.append(nn.InstanceNorm3d(width, affine=True))
            layers.append(nn.LeakyReLU(LEAKY_SLOPE))
            layers += [conv3(width, width, stride=2), nn.InstanceNorm3d(width, affine=True), nn.LeakyReLU(LEAKY_SLOPE)]
            previous = width
        self.features = nn.Sequential(*layers)
        self.head_kind = head
        self.head: nn.Module = nn.Linear(previous, 1) if head == "pool" else conv3(previous, 1)
        kaiming_init(self, negative_slope=LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        if self.head_kind == "pool":
            return self.head(features.mean(dim=(2, 3, 4)))
        return self.head(features)


class FeatureExtractor(nn.Module):
    """The convolutional part of a 3D ResNet-10, randomly initialised (Kaiming).

    conv 7³ stride 2 (1 → ``channels[0]``) + batch norm + ReLU → max-pool 3³ stride 2 →
    four stages of one :class:`~srbench_trigan.layers.BasicBlock3d` each, widths
    ``channels``; stage 2 has stride 2, stages 3 and 4 keep the resolution with dilation
    2 and 4 (the MedicalNet ResNet-10 layout the authors build on). Everything before
    the pooling/linear head: ``(B, 1, W, H, D)`` → ``(B, channels[3], W/8, H/8, D/8)``
    (sizes rounded up at each stride).
    """

    def __init__(self, *, channels: Sequence[int] = (64, 128, 256, 512)) -> None:
        super().__init__()
        if len(channels) != 4:
            raise ValueError(f"FeatureExtractor needs 4 stage widths, got {tuple(channels)}")
        c0, c1, c2, c3 = (int(c) for c in channels)
        self.stem = nn.Sequential(
            nn.Conv3d(1, c0, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm3d(c0, track_running_stats=False),
            nn.ReLU(),
            nn.MaxPool3d(kernel_size=3, stride=2, padding=1),
        )
        self.stages = nn.Sequential(
            BasicBlock3d(c0, c0),
            BasicBlock3d(c0, c1, stride=2),
            BasicBlock3d(c1, c2, dilation=2),
            BasicBlock3d(c2, c3, dilation=4),
        )
        kaiming_init(self, negative_slope=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


def parameter_count(module: nn.Module) -> int:
    """Number of trainable scalars in ``module``."""
    return sum(p.numel() for p in module.parameters())
