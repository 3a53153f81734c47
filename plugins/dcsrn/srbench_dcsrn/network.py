"""The DCSRN network: interpolation to the HR grid, then a densely connected refinement.

Chen et al. (ISBI 2018) feed the network an LR volume already on the HR grid. Here the
interpolation is part of ``forward`` so that the module maps an LR batch to an HR batch
and fits :class:`srbench.inference.NetworkPredictor`: trilinear with
``align_corners=False``, which is exactly srbench's trilinear baseline (SR voxel centres
on the HR grid of :mod:`srbench.grid`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srbench.nn.layers import zero_init


class DenseUnit(nn.Module):
    """One dense unit: BatchNorm → ELU → 3×3×3 convolution producing ``growth`` channels.

    Shapes: ``(B, in_channels, W, H, D)`` → ``(B, growth, W, H, D)``.
    """

    def __init__(self, in_channels: int, growth: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm3d(in_channels)
        self.conv = nn.Conv3d(in_channels, growth, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.elu(self.norm(x)))


class DenseBlock(nn.Module):
    """``units`` dense units; each sees the concatenation of the block input and all earlier outputs.

    Shapes: ``(B, C, W, H, D)`` → ``(B, C + units·growth, W, H, D)`` (every feature map concatenated).
    """

    def __init__(self, in_channels: int, *, growth: int, units: int) -> None:
        super().__init__()
        self.units = nn.ModuleList(DenseUnit(in_channels + i * growth, growth) for i in range(units))
        self.out_channels = in_channels + units * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for unit in self.units:
            features.append(unit(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class DCSRN(nn.Module):
    """Densely connected super-resolution network, LR batch in, HR batch out.

    Args:
        first_channels: filters of the first 3×3×3 convolution (paper: 48 = 2 × growth).
        growth: channels added by each dense unit (paper: 24).
        units: dense units in the single dense block (paper: 4).
        final_kernel: edge of the output convolution's kernel (paper: 1, a 1×1×1
            reconstruction layer over all concatenated features).
        scale: integer per-axis up-sampling done by trilinear interpolation in ``forward``.
        residual: add the interpolated input to the output (global residual learning, a
            named deviation used by the ``cpu`` preset); the output convolution then starts
            at zero so the untrained network is exactly trilinear interpolation.

    Shapes: ``(B, 1, w, h, d)`` normalised LR → ``(B, 1, w·sx, h·sy, d·sz)``.
    """

    def __init__(
        self,
        *,
        first_channels: int = 48,
        growth: int = 24,
        units: int = 4,
        final_kernel: int = 1,
        scale: tuple[int, int, int] = (2, 2, 2),
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.scale = tuple(int(s) for s in scale)
        self.residual = bool(residual)
        self.first = nn.Conv3d(1, first_channels, kernel_size=3, padding=1)
        self.block = DenseBlock(first_channels, growth=growth, units=units)
        self.last = nn.Conv3d(self.block.out_channels, 1, kernel_size=final_kernel, padding=final_kernel // 2)
        if self.residual:
            zero_init(self.last)

    def interpolate(self, lr: torch.Tensor) -> torch.Tensor:
        """Trilinear up-sampling of ``(B, 1, w, h, d)`` onto the HR grid (srbench's baseline)."""
        return F.interpolate(lr, scale_factor=self.scale, mode="trilinear", align_corners=False)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x = self.interpolate(lr)
        y = self.last(self.block(self.first(x)))
        return x + y if self.residual else y
