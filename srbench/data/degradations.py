"""HR → LR degradations. Shapes: ``(B, C, W, H, D)`` in, ``(B, C, W/sx, H/sy, D/sz)`` out.

All of them produce the LR grid of :func:`srbench.grid.lr_affine`: an LR voxel's centre
is the mean of the centres of the HR voxels it covers.

Precision: every degradation computes in ``float64`` and returns the input's dtype, with
values clipped to that dtype's finite range, so no input of finite values (even near
float32's ±3.4e38) gives ``inf`` or NaN. Clipping can only act where the exact result
lies outside the output dtype's range (k-space ringing or noise on inputs near it).

Options: a track's ``degradation_options`` table reaches a degradation through
``with_options(options)``, which returns a configured copy or raises
:class:`~srbench.errors.InputError` naming the bad option.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from srbench.data.foreground import FOREGROUND_FRACTION, FOREGROUND_PERCENTILE, foreground_threshold
from srbench.defaults import DEFAULT_DEGRADATION
from srbench.errors import InputError, did_you_mean


@dataclasses.dataclass(frozen=True)
class PaperLinear:
    """The paper's ×2 "linear down-sampling": the mean of each ``sx × sy × sz`` HR block.

    This is trilinear down-sampling with the antialiasing of box averaging; on the grid
    convention it is exact (each LR value is the mean over the HR voxels it covers).
    The mean is taken in float64 (a block of float32 values near ±3e38 cannot overflow);
    for float32 inputs the result equals float32 box averaging to float32 rounding.
    Options: none.
    """

    name: str = DEFAULT_DEGRADATION
    description: str = "mean of each scale-sized HR block (the paper's linear down-sampling)"
    #: deterministic: a seed changes nothing
    uses_seed: bool = False

    def with_options(self, options: Mapping[str, Any]) -> PaperLinear:
        """This degradation takes no options: ``{}`` returns it, anything else raises InputError."""
        _check_option_names(self.name, options, allowed=())
        return self

    def degrade(self, hr: torch.Tensor, *, scale: tuple[int, int, int], generator: torch.Generator | None = None) -> torch.Tensor:
        return _to_dtype(F.avg_pool3d(hr.to(torch.float64), kernel_size=scale, stride=scale), hr.dtype)


@dataclasses.dataclass(frozen=True)
class KSpaceTruncation:
    """Keep the central ``1/s`` of k-space per axis (DCSRN's degradation), on the LR grid,
    and reconstruct the magnitude image; optionally add Rician noise at a stated SNR.

    For an HR axis of ``n`` voxels and an LR axis of ``m = n/s``, the kept frequencies are
    the integers ``k`` with ``−⌊m/2⌋ ≤ k ≤ ⌈m/2⌉ − 1`` (the FFT-order spectrum of an
    ``m``-voxel acquisition). Each kept HR coefficient ``X[k]`` is multiplied by the phase
    ramp ``exp(2πi·k·(s − 1)/(2n))`` (a shift of ``(s − 1)/2`` HR voxels, so LR voxel
    centres follow the grid convention), inverse-transformed on the ``m``-point grid and
    multiplied by ``M/N`` (LR over HR voxel count): the complex LR image ``z``
    (:func:`kspace_crop`). The LR volume is its **magnitude** ``|z|``, as a scanner's
    magnitude reconstruction: every LR voxel is ``≥ 0``, and without noise it is the
    modulus of the band-limited (sinc) interpolation of the HR volume at the LR voxel
    centre. ``z`` is real except for the kept coefficients whose mirror ``−k`` is not kept
    (an even LR axis keeps ``−m/2`` but not ``+m/2``), so where the HR volume has no
    energy at the LR Nyquist frequency ``|z|`` is the absolute value of the sinc
    interpolation (only the negative lobes of Gibbs ringing flip sign).

    Properties (exact up to float64 rounding; tested in tests/test_degradation_physics.py):

    - **Non-negative**: ``lr ≥ 0`` everywhere, with or without noise.
    - **Energy** (Parseval): ``mean(lr²) = mean(|z|²) = Σ_kept |X[k]|² / N²``, the mean
      square of the HR volume low-passed to the kept band; so ``mean(lr²) ≤ mean(hr²)``,
      with equality iff the HR volume is band-limited to the kept band.
    - **Mean** (kept approximately): ``mean(z) = mean(hr)`` (the DC coefficient is kept,
      and ``M/N`` undoes the change of FFT normalisation), and
      ``|mean(hr)| ≤ mean(lr) ≤ mean(hr) + mean(|Im z|) + 2·mean(max(−Re z, 0))``: the
      magnitude raises the mean by at most the imaginary part (at most
      ``sqrt(Σ_unpaired |X[k]|²) / N``, over the kept coefficients whose mirror ``−k`` is
      not kept) plus twice the negative lobes of the real part (Gibbs ringing next to a
      zero background). On the demo's skull-stripped T1w test head at ×2 it is +1.3 %.

    Noise (``snr`` set): ``lr = |z + σ·(n₁ + i·n₂)|`` with ``z`` the complex LR image above
    and ``n₁, n₂`` independent standard normal draws per LR voxel (from the ``generator``,
    all real parts first); white complex Gaussian noise in image space is white complex
    Gaussian noise in the acquired k-space, so this is the magnitude reconstruction of a
    noisy acquisition, every LR voxel is Rician with ``ν = |z|`` and scale ``σ`` (Rayleigh
    where ``z = 0``), and ``|lr − |z|| ≤ σ·|n₁ + i·n₂|``: the noisy LR tends to the
    noise-free one as ``snr → ∞``.

    SNR: ``σ = mean(HR foreground) / snr``, where the HR foreground is
    :mod:`srbench.data.foreground`'s rule: every voxel of the HR item strictly above
    ``FOREGROUND_FRACTION`` (0.1) × its ``FOREGROUND_PERCENTILE`` (99.9th) percentile;
    computed per batch item (on the whole volume in evaluation). What that foreground is
    depends on the reference: on a skull-stripped reference (background exactly 0) it is
    the brain only (less its darkest voxels, e.g. CSF on T1w), so ``σ`` = mean brain
    intensity / snr; on a whole-head reference it also holds scalp, fat, muscle and other
    non-brain tissue above the threshold, so the same ``snr`` gives another ``σ`` relative
    to the brain, and SNRs on the two kinds of reference are not comparable.

    Attributes:
        snr: ``None`` (no noise: deterministic) or the SNR, a positive number (option ``snr``).
    """

    name: str = "kspace"
    description: str = "central k-space crop (sinc interpolation), grid-aligned, magnitude image"
    snr: float | None = None

    @property
    def uses_seed(self) -> bool:
        """True when noise is drawn (the seed then decides it); False without ``snr``."""
        return self.snr is not None

    def with_options(self, options: Mapping[str, Any]) -> KSpaceTruncation:
        """Options: ``snr`` (positive number): add Rician noise at that SNR."""
        _check_option_names(self.name, options, allowed=("snr",))
        if "snr" not in options:
            return self
        snr = _positive_number(self.name, "snr", options["snr"])
        return dataclasses.replace(
            self,
            snr=snr,
            description=f"{self.description}, then Rician noise: magnitude of image + complex Gaussian noise, "
            f"SNR {snr:g} = mean HR foreground (> {FOREGROUND_FRACTION:g} × its {FOREGROUND_PERCENTILE:g}th percentile: "
            "the brain on a skull-stripped reference, the whole head otherwise) / σ",
        )

    def degrade(self, hr: torch.Tensor, *, scale: tuple[int, int, int], generator: torch.Generator | None = None) -> torch.Tensor:
        z = kspace_crop(hr.to(torch.float64), scale=scale)
        if self.snr is None:
            return _to_dtype(z.abs(), hr.dtype)
        sigma = foreground_mean(hr) / self.snr
        return _to_dtype(rician(z, sigma=sigma, generator=generator), hr.dtype)


def kspace_crop(hr: torch.Tensor, *, scale: tuple[int, int, int]) -> torch.Tensor:
    """The complex LR image ``z`` of :class:`KSpaceTruncation` (whose LR volume is ``|z|``).

    Args:
        hr: ``(B, C, W, H, D)`` real tensor, each spatial size divisible by its scale.
        scale: integer factors ``(sx, sy, sz)``.

    Returns:
        ``(B, C, W/sx, H/sy, D/sz)`` complex128 tensor.
    """
    dims = (-3, -2, -1)
    spectrum = torch.fft.fftshift(torch.fft.fftn(hr.to(torch.float64), dim=dims), dim=dims)
    out_shape = [n // s for n, s in zip(hr.shape[-3:], scale, strict=True)]
    for axis, (n, m, s) in enumerate(zip(hr.shape[-3:], out_shape, scale, strict=True)):
        start = n // 2 - m // 2
        spectrum = spectrum.narrow(axis - 3, start, m)
        freq = torch.arange(m, dtype=torch.float64, device=hr.device) - m // 2
        shift = (s - 1) / 2.0
        ramp = torch.exp(2j * math.pi * freq * shift / n)
        view = [1] * spectrum.dim()
        view[axis - 3] = m
        spectrum = spectrum * ramp.reshape(view)
    lr = torch.fft.ifftn(torch.fft.ifftshift(spectrum, dim=dims), dim=dims)
    return lr * (math.prod(out_shape) / math.prod(hr.shape[-3:]))


def foreground_mean(hr: torch.Tensor) -> torch.Tensor:
    """Mean of each batch item's HR foreground, shaped ``(B, C, 1, 1, 1)`` (float64).

    Foreground (:mod:`srbench.data.foreground`): voxels strictly above
    ``FOREGROUND_FRACTION`` × the item's ``FOREGROUND_PERCENTILE`` percentile, computed in
    float64. An item with no such voxel (a constant or non-positive volume) uses the mean
    of its absolute values.
    """
    flat = hr.detach().to(torch.float64).reshape(hr.shape[0] * hr.shape[1], -1).cpu().numpy()
    means = []
    for values in flat:
        threshold = foreground_threshold(values)
        foreground = values[values > threshold]
        means.append(float(foreground.mean()) if foreground.size else float(np.abs(values).mean()))
    return torch.tensor(means, dtype=torch.float64, device=hr.device).reshape(hr.shape[0], hr.shape[1], 1, 1, 1)


def rician(signal: torch.Tensor, *, sigma: torch.Tensor | float, generator: torch.Generator | None) -> torch.Tensor:
    """``|signal + σ·(n₁ + i·n₂)|`` with ``n₁, n₂`` standard normal (float64), drawn from
    ``generator`` (a generator seeded 0 when None), every ``n₁`` first. ``signal`` is the
    complex image (a real tensor counts as having imaginary part 0)."""
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    real = torch.randn(signal.shape, generator=generator, dtype=torch.float64).to(signal.device)
    imag = torch.randn(signal.shape, generator=generator, dtype=torch.float64).to(signal.device)
    if signal.is_complex():
        return torch.hypot(signal.real + sigma * real, signal.imag + sigma * imag)
    return torch.hypot(signal + sigma * real, sigma * imag)


@dataclasses.dataclass(frozen=True)
class BlurNoise:
    """Gaussian blur (FWHM = scale voxels) then block sampling, plus Gaussian noise.

    Args:
        noise: noise standard deviation as a fraction of the patch's 99th percentile
            (option ``noise``, a number ≥ 0).
    """

    name: str = "blur-noise"
    description: str = "Gaussian blur (FWHM = scale), block average, 1% Gaussian noise"
    noise: float = 0.01

    @property
    def uses_seed(self) -> bool:
        """True when noise is added (the seed then decides it)."""
        return self.noise > 0

    def with_options(self, options: Mapping[str, Any]) -> BlurNoise:
        """Options: ``noise`` (number ≥ 0): standard deviation as a fraction of the 99th percentile."""
        _check_option_names(self.name, options, allowed=("noise",))
        if "noise" not in options:
            return self
        noise = _number(self.name, "noise", options["noise"], minimum=0.0)
        return dataclasses.replace(
            self, noise=noise,
            description=f"Gaussian blur (FWHM = scale), block average, {100 * noise:g}% Gaussian noise",
        )

    def degrade(self, hr: torch.Tensor, *, scale: tuple[int, int, int], generator: torch.Generator | None = None) -> torch.Tensor:
        x = hr.to(torch.float64)
        for axis, s in enumerate(scale):
            if s <= 1:
                continue
            sigma = s / (2 * math.sqrt(2 * math.log(2)))
            radius = max(1, int(math.ceil(3 * sigma)))
            t = torch.arange(-radius, radius + 1, dtype=torch.float64, device=hr.device)
            kernel = torch.exp(-0.5 * (t / sigma) ** 2)
            kernel = kernel / kernel.sum()
            x = _convolve_axis(x, kernel, axis=axis)
        lr = F.avg_pool3d(x, kernel_size=scale, stride=scale)
        flat = hr.detach().to(torch.float64).reshape(hr.shape[0], -1).cpu().numpy()
        level = torch.tensor(np.percentile(flat, 99, axis=1), dtype=torch.float64, device=hr.device)
        noise = torch.randn(lr.shape, generator=generator, dtype=torch.float64).to(hr.device)
        return _to_dtype(lr + self.noise * level.reshape(-1, *[1] * (hr.dim() - 1)) * noise, hr.dtype)


def _convolve_axis(x: torch.Tensor, kernel: torch.Tensor, *, axis: int) -> torch.Tensor:
    """Convolve ``(B, C, W, H, D)`` along spatial ``axis`` (0..2) with reflect padding."""
    moved = x.movedim(axis + 2, -1)
    shape = moved.shape
    flat = moved.reshape(-1, 1, shape[-1])
    r = kernel.numel() // 2
    mode = "reflect" if shape[-1] > r else "replicate"
    flat = F.conv1d(F.pad(flat, (r, r), mode=mode), kernel.reshape(1, 1, -1).to(flat.dtype))
    return flat.reshape(shape).movedim(-1, axis + 2)


def _to_dtype(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` (float64) as ``dtype``, clipped to its finite range for narrower float dtypes."""
    if dtype.is_floating_point and dtype != torch.float64:
        limit = torch.finfo(dtype).max
        x = x.clamp(-limit, limit)
    return x.to(dtype)


# -- option checking -----------------------------------------------------------------
def _check_option_names(name: str, options: Mapping[str, Any], *, allowed: tuple[str, ...]) -> None:
    if not isinstance(options, Mapping):
        raise InputError(f"degradation '{name}': degradation_options must be a table, got {type(options).__name__}")
    for key in options:
        if not allowed:
            raise InputError(f"degradation '{name}' takes no options, got '{key}'")
        if key not in allowed:
            raise InputError(f"degradation '{name}': unknown option '{key}'{did_you_mean(str(key), allowed)}")


def _number(name: str, option: str, value: Any, *, minimum: float) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= minimum
    if not ok:
        raise InputError(f"degradation '{name}': {option} must be a finite number ≥ {minimum:g}, got {value!r}")
    return float(value)


def _positive_number(name: str, option: str, value: Any) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise InputError(f"degradation '{name}': {option} must be a positive number, got {value!r}")
    return float(value)
