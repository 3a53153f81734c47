"""The built-in degradations as physics: k-space truncation as the magnitude of an explicit
FFT crop (non-negative), its energy (Parseval) and the bound on its mean, Rician noise as
the magnitude of the complex image plus complex Gaussian noise (against the Rice and
Rayleigh distributions, and tending to the noise-free LR as the SNR grows), seeding,
precision (no overflow) and options."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from srbench.data.degradations import BlurNoise, KSpaceTruncation, PaperLinear, kspace_crop
from srbench.data.pairs import degrade_volume, subject_seed
from srbench.errors import InputError
from srbench.interfaces import Volume
from srbench.plugins import get_plugin_manager
from srbench.testing.synthetic import oblique_affine, smooth_volume

#: (HR shape, scale): even and odd LR sizes, anisotropic scales, scale 1 on an axis
CASES = [((16, 12, 10), (2, 2, 2)), ((18, 14, 22), (2, 2, 2)), ((18, 12, 9), (3, 2, 1)), ((15, 10, 12), (3, 2, 4))]


def random_hr(shape, *, seed: int, batch: int = 2) -> torch.Tensor:
    """``(batch, 1, *shape)`` float64 white noise plus an offset (every frequency present)."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.normal(50.0, 10.0, size=(batch, 1, *shape)))


def explicit_fft_crop(hr: np.ndarray, scale) -> tuple[np.ndarray, np.ndarray]:
    """Independent numpy version: keep integer frequencies −⌊m/2⌋..⌈m/2⌉−1 of each axis,
    shift by (s − 1)/2 HR voxels, inverse FFT on the LR grid, × M/N.

    Returns ``(z, kept)``: the complex LR image and the kept HR coefficients.
    """
    shape = hr.shape[-3:]
    spectrum = np.fft.fftn(hr, axes=(-3, -2, -1))
    index_hr, index_lr, phase = [], [], []
    for n, s in zip(shape, scale):
        m = n // s
        k = np.arange(-(m // 2), (m + 1) // 2)
        index_hr.append(k % n)
        index_lr.append(k % m)
        phase.append(np.exp(2j * np.pi * k * (s - 1) / (2 * n)))
    kept = spectrum[(..., *np.ix_(*index_hr))]
    shifted = kept * phase[0][:, None, None] * phase[1][None, :, None] * phase[2][None, None, :]
    lr_spectrum = np.zeros(hr.shape[:-3] + tuple(len(i) for i in index_lr), dtype=complex)
    lr_spectrum[(..., *np.ix_(*index_lr))] = shifted
    lr_count, hr_count = lr_spectrum[..., :, :, :].shape[-3:], shape
    z = np.fft.ifftn(lr_spectrum, axes=(-3, -2, -1)) * (math.prod(lr_count) / math.prod(hr_count))
    return z, kept


# -- k-space truncation --------------------------------------------------------------------
def unpaired(shape, scale) -> np.ndarray:
    """Mask over the kept coefficients (index order of :func:`explicit_fft_crop`) of those whose
    mirror −k is not kept: a component at −m/2 on an even LR axis. The rest of the band is
    conjugate-symmetric, so these alone make the complex LR image non-real."""
    masks = []
    for n, s in zip(shape, scale):
        m = n // s
        k = np.arange(-(m // 2), (m + 1) // 2)
        masks.append((m % 2 == 0) & (k == -(m // 2)))
    return masks[0][:, None, None] | masks[1][None, :, None] | masks[2][None, None, :]


def has_even_lr_axis(shape, scale) -> bool:
    return any((n // s) % 2 == 0 for n, s in zip(shape, scale))


@pytest.mark.parametrize(("shape", "scale"), CASES)
def test_kspace_is_the_magnitude_of_an_explicit_fft_crop(shape, scale):
    hr = random_hr(shape, seed=1)
    z, _ = explicit_fft_crop(hr.numpy(), scale)
    lr = KSpaceTruncation().degrade(hr, scale=scale)
    assert lr.dtype == torch.float64 and tuple(lr.shape[-3:]) == tuple(n // s for n, s in zip(shape, scale))
    np.testing.assert_allclose(lr.numpy(), np.abs(z), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(kspace_crop(hr, scale=scale).numpy(), z, rtol=1e-12, atol=1e-10)
    if has_even_lr_axis(shape, scale):
        # z is not real here, so |z| is not |Re z| (the test tells the magnitude from the real part)
        assert np.abs(np.abs(z) - np.abs(z.real)).max() > 0.1
    else:
        assert np.abs(z.imag).max() < 1e-10 * np.abs(z).max()
    # float32 in: computed in float64, rounded once at the end
    lr32 = KSpaceTruncation().degrade(hr.float(), scale=scale)
    assert lr32.dtype == torch.float32
    z32, _ = explicit_fft_crop(hr.float().double().numpy(), scale)
    np.testing.assert_allclose(lr32.numpy(), np.abs(z32).astype(np.float32), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize(("shape", "scale"), CASES)
def test_kspace_lr_is_non_negative_with_and_without_noise(shape, scale):
    hr = random_hr(shape, seed=3) - 50.0  # zero-mean: half the HR voxels, and the real part of z, negative
    assert (kspace_crop(hr, scale=scale).real < 0).float().mean() > 0.3
    for degradation in (KSpaceTruncation(), KSpaceTruncation(snr=5), KSpaceTruncation(snr=1e6)):
        for dtype in (torch.float64, torch.float32):
            lr = degradation.degrade(hr.to(dtype), scale=scale, generator=torch.Generator().manual_seed(2))
            assert bool((lr >= 0).all()), (degradation, dtype)


@pytest.mark.parametrize(("shape", "scale"), CASES)
def test_kspace_keeps_the_energy_of_the_kept_band_and_the_mean_within_its_bound(shape, scale):
    """Energy: mean(lr²) = mean(|z|²) = Σ_kept |X[k]|² / N² (Parseval). Mean: mean(z) = mean(hr),
    and since Re z ≤ |z| ≤ |Re z| + |Im z| = Re z + 2·max(−Re z, 0) + |Im z| voxel-wise,
    mean(hr) ≤ mean(lr) ≤ mean(hr) + mean|Im z| + 2·mean(max(−Re z, 0)), with
    mean|Im z| ≤ sqrt(mean|Im z|²) ≤ sqrt(Σ_unpaired |X[k]|²) / N (Im z comes from the
    unpaired coefficients only)."""
    n_hr = math.prod(shape)
    for hr in (random_hr(shape, seed=2), random_hr(shape, seed=4) - 50.0):
        lr = KSpaceTruncation().degrade(hr, scale=scale).numpy()
        x = hr.numpy()
        z, kept = explicit_fft_crop(x, scale)
        axes = (-3, -2, -1)
        band_energy = (np.abs(kept) ** 2).sum(axis=axes) / n_hr**2
        np.testing.assert_allclose((lr**2).mean(axis=axes), band_energy, rtol=1e-12)
        assert np.all(band_energy < (x**2).mean(axis=axes))  # white noise has energy outside the band
        # the mean
        hr_mean, lr_mean = x.mean(axis=axes), lr.mean(axis=axes)
        np.testing.assert_allclose(z.mean(axis=axes), hr_mean, rtol=1e-12, atol=1e-12)
        imag, negative = np.abs(z.imag).mean(axis=axes), 2 * np.maximum(-z.real, 0).mean(axis=axes)
        slack = 1e-12 * np.abs(lr).mean(axis=axes)
        assert np.all(np.abs(hr_mean) <= lr_mean + slack)
        assert np.all(lr_mean <= hr_mean + imag + negative + slack)
        unpaired_energy = (np.abs(kept[..., unpaired(shape, scale)]) ** 2).sum(axis=-1)
        assert np.all(imag <= np.sqrt(unpaired_energy) / n_hr * (1 + 1e-12) + 1e-12)
        if not has_even_lr_axis(shape, scale):  # z real: |z| = Re z + 2·max(−Re z, 0) exactly
            np.testing.assert_allclose(lr_mean, hr_mean + negative, rtol=1e-12, atol=1e-12)


def test_kspace_mean_on_a_smooth_positive_volume_and_on_a_step_edge():
    """Where the mean goes: a smooth volume without LR Nyquist content keeps it to 1e-4
    (z ≈ Re z > 0); a cube on a zero background gains the magnitude of its Gibbs ringing,
    within the bound of the test above."""
    smooth = smooth_volume((32, 30, 28), seed=0).double()[None, None]
    lr = KSpaceTruncation().degrade(smooth, scale=(2, 2, 2))
    assert abs(float(lr.mean() / smooth.mean()) - 1) < 1e-4
    cube = torch.zeros((1, 1, 32, 32, 32), dtype=torch.float64)
    cube[..., 8:24, 8:24, 8:24] = 100.0
    z = kspace_crop(cube, scale=(2, 2, 2))
    lr = KSpaceTruncation().degrade(cube, scale=(2, 2, 2))
    excess = float(lr.mean() - cube.mean())
    bound = float(z.imag.abs().mean() + 2 * (-z.real).clamp(min=0).mean())
    assert 0 < excess <= bound and excess / float(cube.mean()) < 0.1


def test_kspace_of_a_band_limited_volume_samples_it_at_the_lr_voxel_centres():
    """Cosines below the LR Nyquist frequency (a positive function): the LR value is the
    function at the LR voxel centre (HR coordinate s·j + (s − 1)/2, the grid convention),
    and the energy is kept."""
    shape, scale = (24, 20, 18), (2, 2, 3)

    def f(x, y, z):
        return (
            40.0
            + 9.0 * np.cos(2 * np.pi * 3 * x / 24 + 0.4)
            + 5.0 * np.cos(2 * np.pi * (2 * y / 20 - 1 * z / 18) + 1.1)
            + 3.0 * np.sin(2 * np.pi * (4 * x / 24 + 2 * y / 20 + 2 * z / 18))
        )

    hr = torch.from_numpy(f(*np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")))[None, None]
    centres = [s * np.arange(n // s) + (s - 1) / 2 for n, s in zip(shape, scale)]
    expected = f(*np.meshgrid(*centres, indexing="ij"))
    lr = KSpaceTruncation().degrade(hr, scale=scale)[0, 0].numpy()
    np.testing.assert_allclose(lr, expected, rtol=1e-11, atol=1e-10)
    np.testing.assert_allclose((lr**2).mean(), (hr.numpy() ** 2).mean(), rtol=1e-12)
    # the box average does not sample the function: it is a different (blurred) LR
    assert np.abs(PaperLinear().degrade(hr, scale=scale)[0, 0].numpy() - expected).max() > 0.1


# -- Rician noise --------------------------------------------------------------------------
def blob_hr(*, size: int = 48, amplitudes=(100.0, 300.0)) -> torch.Tensor:
    """``(len(amplitudes), 1, size³)`` Gaussian blobs (σ 3 voxels) on a zero background."""
    t = np.arange(size) - (size - 1) / 2
    r2 = t[:, None, None] ** 2 + t[None, :, None] ** 2 + t[None, None, :] ** 2
    blob = np.exp(-r2 / (2 * 3.0**2))
    return torch.from_numpy(np.stack([a * blob for a in amplitudes])[:, None])


def expected_sigma(hr: np.ndarray, snr: float) -> float:
    """The stated definition: mean HR foreground / SNR, foreground = voxels > 0.1 × the 99.9th percentile."""
    foreground = hr[hr > 0.1 * np.percentile(hr, 99.9)]
    return float(foreground.mean()) / snr


def test_noise_is_rician_with_the_stated_sigma():
    snr = 10.0
    hr = blob_hr()
    clean = KSpaceTruncation().degrade(hr, scale=(2, 2, 2)).numpy()
    noisy = KSpaceTruncation(snr=snr).degrade(hr, scale=(2, 2, 2), generator=torch.Generator().manual_seed(5)).numpy()
    for item in range(hr.shape[0]):
        sigma = expected_sigma(hr[item, 0].numpy(), snr)
        signal, values = np.abs(clean[item, 0]).ravel(), noisy[item, 0].ravel()
        # background (no signal after truncation): the histogram is Rayleigh with scale σ
        background = values[signal < 0.01 * sigma]
        assert background.size > 8000
        assert stats.kstest(background, stats.rayleigh(scale=sigma).cdf).pvalue > 1e-3
        # ... and the test can tell: a 10% wrong σ, or Gaussian magnitude (|real noise|), are rejected
        assert stats.kstest(background, stats.rayleigh(scale=1.1 * sigma).cdf).pvalue < 1e-6
        assert stats.kstest(background, stats.halfnorm(scale=sigma).cdf).pvalue < 1e-6
        # every voxel: Rice(ν = |s|, σ); its CDF maps the values to uniform [0, 1]
        uniform = stats.rice.cdf(values, signal / sigma, scale=sigma)
        assert stats.kstest(uniform, "uniform").pvalue > 1e-3
        # the foreground is far above the noise: the LR blob survives
        assert values.max() > 5 * sigma


def draws(shape, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The generator's draws as the degradation takes them: every n₁ (real part) first, then n₂."""
    generator = torch.Generator().manual_seed(seed)
    n1 = torch.randn(shape, generator=generator, dtype=torch.float64).numpy()
    n2 = torch.randn(shape, generator=generator, dtype=torch.float64).numpy()
    return n1, n2


@pytest.mark.parametrize(("shape", "scale"), [CASES[0], CASES[2]])  # even LR axes: z is complex
def test_noisy_lr_is_the_magnitude_of_z_plus_complex_noise_and_tends_to_the_noise_free_lr(shape, scale):
    hr = random_hr(shape, seed=6)
    z, _ = explicit_fft_crop(hr.numpy(), scale)
    clean = KSpaceTruncation().degrade(hr, scale=scale).numpy()
    n1, n2 = draws(clean.shape, seed=7)
    sigmas = np.array([expected_sigma(hr[i, 0].numpy(), 1.0) for i in range(hr.shape[0])])[:, None, None, None, None]
    previous = math.inf
    for snr in (1.0, 10.0, 1e3, 1e5, 1e7, 1e9):
        sigma = sigmas / snr
        noisy = KSpaceTruncation(snr=snr).degrade(hr, scale=scale, generator=torch.Generator().manual_seed(7)).numpy()
        np.testing.assert_allclose(noisy, np.abs(z + sigma * (n1 + 1j * n2)), rtol=1e-12, atol=1e-10)
        # | |z + σn| − |z| | ≤ σ|n| voxel-wise: the noisy LR tends to the noise-free one as the SNR grows
        gap = np.abs(noisy - clean)
        assert np.all(gap <= sigma * np.hypot(n1, n2) * (1 + 1e-9) + 1e-9)
        assert gap.max() < previous
        previous = gap.max()
    assert previous < 1e-6
    # ... and not to |Re z|, the limit of the former |Re z + σ(n₁ + i·n₂)|
    assert np.abs(noisy - np.abs(z.real)).max() > 0.1


def test_rician_statistics_on_a_constant_region():
    """A constant HR volume c: z = c everywhere (only the DC coefficient), the noise-free LR is c,
    σ = c / snr (the whole volume is foreground), and the noisy LR voxels are Rice(ν = c, σ):
    mean σ·sqrt(π/2)·L½(−ν²/2σ²) > c, second moment ν² + 2σ² exactly."""
    c, snr = 100.0, 2.0
    hr = torch.full((1, 1, 40, 40, 40), c, dtype=torch.float64)
    np.testing.assert_allclose(KSpaceTruncation().degrade(hr, scale=(2, 2, 2)).numpy(), c, rtol=1e-12)
    values = KSpaceTruncation(snr=snr).degrade(hr, scale=(2, 2, 2), generator=torch.Generator().manual_seed(8)).numpy().ravel()
    sigma = c / snr
    assert values.size == 8000 and np.all(values >= 0)
    rice = stats.rice(c / sigma, scale=sigma)
    assert stats.kstest(values, rice.cdf).pvalue > 1e-3
    # the test can tell: Gaussian noise on c (the high-SNR approximation), or the wrong σ, are rejected
    assert stats.kstest(values, stats.norm(loc=c, scale=sigma).cdf).pvalue < 1e-6
    assert stats.kstest(values, stats.rice(c / (1.1 * sigma), scale=1.1 * sigma).cdf).pvalue < 1e-6
    # moments, within 5 standard errors
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert abs(values.mean() - rice.mean()) < 5 * se and rice.mean() > c + 0.1 * sigma
    squares = values**2
    assert abs(squares.mean() - (c**2 + 2 * sigma**2)) < 5 * squares.std(ddof=1) / math.sqrt(values.size)


def test_noise_is_deterministic_under_the_seed_and_independent_of_the_global_rng():
    hr = smooth_volume((20, 22, 18), seed=3).double()[None, None]
    noisy = KSpaceTruncation(snr=20)
    torch.manual_seed(0)
    a = noisy.degrade(hr, scale=(2, 2, 2), generator=torch.Generator().manual_seed(11))
    torch.manual_seed(1)
    b = noisy.degrade(hr, scale=(2, 2, 2), generator=torch.Generator().manual_seed(11))
    c = noisy.degrade(hr, scale=(2, 2, 2), generator=torch.Generator().manual_seed(12))
    assert a.numpy().tobytes() == b.numpy().tobytes()
    assert not torch.equal(a, c)


def test_subject_seed_is_sha256_of_the_track_seed_and_subject_and_stable_across_processes():
    digest = hashlib.sha256(b"srbench-subject-seed:3:sub-01").digest()
    assert subject_seed(track_seed=3, subject="sub-01") == int.from_bytes(digest[:8], "big") & (2**63 - 1)
    seeds = {subject_seed(track_seed=t, subject=s) for t in (0, 1) for s in ("sub-01", "sub-02", "stroke_T1w")}
    assert len(seeds) == 6 and all(0 <= x < 2**63 for x in seeds)
    code = "from srbench.data.pairs import subject_seed; print(subject_seed(track_seed=3, subject='sub-01'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""})  # another process, another str hash
    assert int(out.stdout) == subject_seed(track_seed=3, subject="sub-01")
    for bad in (-1, 1.5, True, "0"):
        with pytest.raises(InputError, match="track seed"):
            subject_seed(track_seed=bad, subject="s")


def test_degrade_volume_same_seed_same_bytes_other_subject_other_noise():
    volume = Volume(smooth_volume((21, 20, 19), seed=4), oblique_affine((1.0, 1.0, 1.0)), "vol")
    noisy = KSpaceTruncation().with_options({"snr": 15})

    def lr_bytes(subject: str, track_seed: int = 0) -> bytes:
        _, lr = degrade_volume(volume, degradation=noisy, scale=(2, 2, 2),
                               seed=subject_seed(track_seed=track_seed, subject=subject))
        assert lr.data.dtype == torch.float32 and lr.shape == (10, 10, 9)
        return lr.data.numpy().tobytes()

    assert lr_bytes("sub-01") == lr_bytes("sub-01")
    assert lr_bytes("sub-01") != lr_bytes("sub-02")
    assert lr_bytes("sub-01") != lr_bytes("sub-01", track_seed=1)
    # without noise the seed does not matter
    _, a = degrade_volume(volume, degradation=KSpaceTruncation(), scale=(2, 2, 2), seed=1)
    _, b = degrade_volume(volume, degradation=KSpaceTruncation(), scale=(2, 2, 2), seed=2)
    assert torch.equal(a.data, b.data)


# -- precision -----------------------------------------------------------------------------
BUILT_INS = [PaperLinear(), KSpaceTruncation(), KSpaceTruncation(snr=20), BlurNoise(), BlurNoise(noise=0.5)]


@pytest.mark.parametrize("degradation", BUILT_INS, ids=lambda d: f"{d.name}-{d.description[-12:]}")
def test_no_overflow_near_the_float32_limit(degradation):
    rng = np.random.default_rng(0)
    magnitude = rng.uniform(2.9e38, 3.4e38, size=(2, 1, 12, 12, 8))
    for values in (magnitude, magnitude * rng.choice([-1.0, 1.0], size=magnitude.shape)):
        hr = torch.from_numpy(values.astype(np.float32))
        assert torch.isfinite(hr).all()
        lr = degradation.degrade(hr, scale=(2, 2, 2), generator=torch.Generator().manual_seed(0))
        assert lr.dtype == torch.float32 and bool(torch.isfinite(lr).all()), degradation


def test_paper_linear_block_mean_is_exact_near_the_limit_and_float32_parity_elsewhere():
    hr = torch.full((1, 1, 4, 4, 4), 3e38, dtype=torch.float32)
    assert torch.isinf(F.avg_pool3d(hr, 2, 2)).all()  # what a float32 block mean would do
    np.testing.assert_array_equal(PaperLinear().degrade(hr, scale=(2, 2, 2)).numpy(), np.float32(3e38))
    for seed in range(3):
        data = torch.from_numpy(np.stack([smooth_volume((24, 22, 20), seed=seed).numpy()] * 2)[:, None] * (10.0**seed))
        np.testing.assert_allclose(PaperLinear().degrade(data, scale=(2, 2, 1)).numpy(),
                                   F.avg_pool3d(data, (2, 2, 1), (2, 2, 1)).numpy(), rtol=1e-6, atol=0)


# -- options -------------------------------------------------------------------------------
def test_with_options_returns_configured_copies():
    base = get_plugin_manager().get("degradation", "kspace")
    noisy = base.with_options({"snr": 20})
    assert noisy.snr == 20.0 and base.snr is None and "SNR 20" in noisy.description
    assert base.with_options({}) == base
    assert get_plugin_manager().get("degradation", "blur-noise").with_options({"noise": 0}).noise == 0.0
    assert PaperLinear().with_options({}) == PaperLinear()


@pytest.mark.parametrize(
    ("degradation", "options", "message"),
    [
        (KSpaceTruncation(), {"snr": -1}, "degradation 'kspace': snr must be a positive number, got -1"),
        (KSpaceTruncation(), {"snr": 0}, "snr must be a positive number, got 0"),
        (KSpaceTruncation(), {"snr": "20"}, "snr must be a positive number, got '20'"),
        (KSpaceTruncation(), {"snr": True}, "snr must be a positive number, got True"),
        (KSpaceTruncation(), {"snr": float("inf")}, "snr must be a positive number, got inf"),
        (KSpaceTruncation(), {"sn": 20}, "unknown option 'sn' (did you mean 'snr'?)"),
        (BlurNoise(), {"noise": -0.1}, "noise must be a finite number ≥ 0, got -0.1"),
        (PaperLinear(), {"snr": 20}, "degradation 'paper-linear' takes no options, got 'snr'"),
    ],
)
def test_bad_options_raise_input_error(degradation, options, message):
    with pytest.raises(InputError) as info:
        degradation.with_options(options)
    assert message in str(info.value)
