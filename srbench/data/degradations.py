"""HR → LR degradations. Shapes: ``(B, C, W, H, D)`` in, ``(B, C, W/sx, H/sy, D/sz)`` out.

All of them produce the LR grid of :func:`srbench.grid.lr_affine`: an LR voxel's centre
is the mean of the centres of the HR voxels it covers.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F


@dataclasses.dataclass(frozen=True)
class PaperLinear:
    """The paper's ×2 "linear down-sampling": the mean of each ``sx × sy × sz`` HR block.

    This is trilinear down-sampling with the antialiasing of box averaging; on the grid
    convention it is exact (each LR value is the mean over the HR voxels it covers).
    """

    name: str = "paper-linear"
    description: str = "mean of each scale-sized HR block (the paper's linear down-sampling)"

    def degrade(self, hr: torch.Tensor, *, scale: tuple[int, int, int], generator: torch.Generator | None = None) -> torch.Tensor:
        return F.avg_pool3d(hr, kernel_size=scale, stride=scale)


@dataclasses.dataclass(frozen=True)
class KSpaceTruncation:
    """Keep the central ``1/s`` of k-space per axis (DCSRN's degradation), on the LR grid.

    The HR spectrum is cropped to the LR size; a phase ramp shifts the result by
    ``(s − 1)/2`` HR voxels so LR voxel centres match the grid convention. Intensities
    are rescaled by the voxel-count ratio so the mean is preserved.
    """

    name: str = "kspace"
    description: str = "central k-space crop (sinc interpolation), grid-aligned"

    def degrade(self, hr: torch.Tensor, *, scale: tuple[int, int, int], generator: torch.Generator | None = None) -> torch.Tensor:
        dims = (-3, -2, -1)
        spectrum = torch.fft.fftshift(torch.fft.fftn(hr.to(torch.float64), dim=dims), dim=dims)
        out_shape = [n // s for n, s in zip(hr.shape[-3:], scale, strict=True)]
        for axis, (n, m, s) in enumerate(zip(hr.shape[-3:], out_shape, scale, strict=True)):
            start = n // 2 - m // 2
            spectrum = spectrum.narrow(axis - 3, start, m)
            freq = torch.arange(m, dtype=torch.float64) - m // 2
            shift = (s - 1) / 2.0
            ramp = torch.exp(2j * math.pi * freq * shift / n)
            view = [1] * spectrum.dim()
            view[axis - 3] = m
            spectrum = spectrum * ramp.reshape(view)
        lr = torch.fft.ifftn(torch.fft.ifftshift(spectrum, dim=dims), dim=dims).real
        ratio = math.prod(out_shape) / math.prod(hr.shape[-3:])
        return (lr * ratio).to(hr.dtype)


@dataclasses.dataclass(frozen=True)
class BlurNoise:
    """Gaussian blur (FWHM = scale voxels) then block sampling, plus Gaussian noise.

    Args:
        noise: noise standard deviation as a fraction of the patch's 99th percentile.
    """

    name: str = "blur-noise"
    description: str = "Gaussian blur (FWHM = scale), block average, 1% Gaussian noise"
    noise: float = 0.01

    def degrade(self, hr: torch.Tensor, *, scale: tuple[int, int, int], generator: torch.Generator | None = None) -> torch.Tensor:
        x = hr
        for axis, s in enumerate(scale):
            if s <= 1:
                continue
            sigma = s / (2 * math.sqrt(2 * math.log(2)))
            radius = max(1, int(math.ceil(3 * sigma)))
            t = torch.arange(-radius, radius + 1, dtype=hr.dtype)
            kernel = torch.exp(-0.5 * (t / sigma) ** 2)
            kernel = kernel / kernel.sum()
            x = _convolve_axis(x, kernel, axis=axis)
        lr = F.avg_pool3d(x, kernel_size=scale, stride=scale)
        level = torch.quantile(hr.reshape(hr.shape[0], -1).float(), 0.99, dim=1).reshape(-1, *[1] * (hr.dim() - 1))
        noise = torch.randn(lr.shape, generator=generator, dtype=lr.dtype)
        return lr + self.noise * level.to(lr.dtype) * noise


def _convolve_axis(x: torch.Tensor, kernel: torch.Tensor, *, axis: int) -> torch.Tensor:
    """Convolve ``(B, C, W, H, D)`` along spatial ``axis`` (0..2) with reflect padding."""
    b, c = x.shape[:2]
    moved = x.movedim(axis + 2, -1)
    shape = moved.shape
    flat = moved.reshape(-1, 1, shape[-1])
    r = kernel.numel() // 2
    mode = "reflect" if shape[-1] > r else "replicate"
    flat = F.conv1d(F.pad(flat, (r, r), mode=mode), kernel.reshape(1, 1, -1))
    return flat.reshape(shape).movedim(-1, axis + 2)
