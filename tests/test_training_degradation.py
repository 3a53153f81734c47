"""Training sees the evaluation's degradation: LR patches are cut from training volumes
degraded whole by srbench.data.pairs.degrade_volume, re-degraded per epoch when the
degradation draws noise, normalised as inference normalises, and (for the box average the
shipped weights were trained with) equal to the former per-patch LR up to float32 rounding."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from srbench.data.degradations import BlurNoise, KSpaceTruncation, PaperLinear
from srbench.data.intensity import normalisation_range, normalise
from srbench.data.pairs import degrade_volume, subject_seed
from srbench.errors import InputError
from srbench.interfaces import Volume
from srbench.io.nifti import load_volume
from srbench.training.config import TrainingConfig
from srbench.training.patches import PatchSource, degradation_seed, grid_locations
from tests.conftest import DEMO_DATA

PATCH, STRIDE, SEED = 16, 8, 5


@functools.cache
def _real_array() -> np.ndarray:
    """A 37×41×35 block of the demo stroke T1w head (odd sizes: the ×2 crop drops a slice)."""
    return load_volume(DEMO_DATA / "stroke_T1w.nii.gz").data[40:77, 50:91, 50:85].numpy().copy()


@pytest.fixture
def real_volume(write_nifti) -> Volume:
    """The block written as a real NIfTI file and read back through srbench.io."""
    return load_volume(write_nifti("block.nii.gz", _real_array()))


def source(volume: Volume, degradation, scale=(2, 2, 2), **kwargs) -> PatchSource:
    options = dict(patch_size=PATCH, stride=STRIDE, scale=scale, degradation=degradation, min_foreground=0.0, seed=SEED)
    return PatchSource([volume], **{**options, **kwargs})


def evaluation_crop(volume: torch.Tensor, corner, size, lo: float, hi: float) -> torch.Tensor:
    """``volume[corner : corner + size]`` normalised as NetworkPredictor does, zero past the end."""
    whole = normalise(volume.to(torch.float32), lo, hi)
    out = torch.zeros(tuple(size))
    box = tuple(slice(c, min(c + n, m)) for c, n, m in zip(corner, size, whole.shape, strict=True))
    region = whole[box]
    out[: region.shape[0], : region.shape[1], : region.shape[2]] = region
    return out


def check_epoch_against_evaluation(src: PatchSource, volume: Volume, degradation, scale, *, epoch: int, seed: int) -> None:
    """Every window of ``epoch``: the training pair equals the evaluation pair at that place."""
    hr_eval, lr_eval = degrade_volume(volume, degradation=degradation, scale=scale, seed=seed)
    lo, hi = normalisation_range(lr_eval.data)  # what NetworkPredictor.predict computes
    n = len(src)
    for position in range(epoch * n, (epoch + 1) * n):
        got_epoch, number, corner = src.window(position)
        assert (got_epoch, number) == (epoch, 0)
        assert all(c % s == 0 for c, s in zip(corner, scale, strict=True))
        lr, hr = src.pair(position)
        lr_corner = [c // s for c, s in zip(corner, scale, strict=True)]
        lr_size = [PATCH // s for s in scale]
        assert torch.equal(lr[0], evaluation_crop(lr_eval.data, lr_corner, lr_size, lo, hi)), position
        assert torch.equal(hr[0], evaluation_crop(hr_eval.data, corner, (PATCH,) * 3, lo, hi)), position


@pytest.mark.parametrize("degradation", [PaperLinear(), KSpaceTruncation()], ids=["paper-linear", "kspace"])
@pytest.mark.parametrize("scale", [(2, 2, 2), (2, 2, 1)])
def test_noise_free_training_lr_equals_the_evaluation_lr_at_every_window(real_volume, degradation, scale):
    src = source(real_volume, degradation, scale)
    # a noise-free degradation: any seed (here the evaluation's subject seed) gives the same LR
    seed = subject_seed(track_seed=0, subject="block")
    check_epoch_against_evaluation(src, real_volume, degradation, scale, epoch=0, seed=seed)
    check_epoch_against_evaluation(src, real_volume, degradation, scale, epoch=3, seed=seed)
    assert src.degraded(0, 0) is src.degraded(3, 0)  # degraded once, not per epoch


def test_kspace_lr_patches_no_longer_wrap_around_at_patch_faces(real_volume):
    kspace = KSpaceTruncation()
    src = source(real_volume, kspace)
    lr, hr = src.pair(0)
    per_patch = kspace.degrade(hr[None], scale=(2, 2, 2))[0]  # the former per-patch LR (FFT of the patch alone)
    assert (lr - per_patch).abs().max() > 1e-3


def test_noisy_training_lr_equals_evaluation_with_the_epoch_seed_and_changes_every_epoch(real_volume):
    noisy = KSpaceTruncation().with_options({"snr": 20})
    src = source(real_volume, noisy)
    for epoch in (0, 1):
        seed = degradation_seed(SEED, epoch=epoch, volume=0)
        assert src.degraded(epoch, 0).seed == seed
        check_epoch_against_evaluation(src, real_volume, noisy, (2, 2, 2), epoch=epoch, seed=seed)
    # the same window in two epochs: new noise (σ and the noise-free part are the whole volume's, as above)
    n = len(src)
    window = int(src.permutation(0)[0])
    later = n + int((src.permutation(1) == window).nonzero()[0, 0])
    first, second = src.pair(0)[0], src.pair(later)[0]
    assert not torch.equal(first, second)
    assert not torch.equal(src.degraded(0, 0).lr, src.degraded(1, 0).lr)


def test_noisy_batches_stay_pure_functions_of_seed_and_iteration_across_epochs_and_cache_evictions(real_volume):
    noisy = KSpaceTruncation().with_options({"snr": 20})
    a, b = source(real_volume, noisy), source(real_volume, noisy)
    n = len(a)
    iterations = [0, 2 * n // 3, n // 3 + 1, 5 * n // 3, 1]  # back and forth over epochs 0..4
    first = {it: a.batch(it, 3) for it in iterations}
    for it in reversed(iterations):
        again = b.batch(it, 3)
        assert torch.equal(again.lr, first[it].lr) and torch.equal(again.hr, first[it].hr)
    assert len(a._degraded) <= 2 * len(a.volumes)
    parts = [a.batch(n // 3, 4, rank=r, world_size=2) for r in range(2)]  # a batch spanning epochs 0 and 1
    whole = b.batch(n // 3, 4)
    assert torch.equal(torch.cat([p.lr for p in parts]), whole.lr) and torch.equal(torch.cat([p.hr for p in parts]), whole.hr)


def test_unknown_degradations_are_re_degraded_every_epoch(real_volume):
    class Plain:  # a third-party degradation without ``uses_seed``
        name = "plain"

        def degrade(self, hr, *, scale, generator=None):
            return PaperLinear().degrade(hr, scale=scale)

    src = source(real_volume, Plain())
    assert src.per_epoch and src.degraded(0, 0) is not src.degraded(1, 0)
    assert not source(real_volume, BlurNoise(noise=0.0)).per_epoch


def test_padding_is_normalised_zero_in_hr_and_lr(real_volume):
    src = source(real_volume, KSpaceTruncation().with_options({"snr": 20}))
    cropped = src.shapes[0]
    assert cropped == (36, 40, 34)
    for position in range(len(src)):
        _, _, corner = src.window(position)
        lr, hr = src.pair(position)
        past = [max(0, c + PATCH - n) for c, n in zip(corner, cropped, strict=True)]
        if past[0]:
            assert not hr[0, PATCH - past[0] :].any() and not lr[0, (PATCH - past[0]) // 2 :].any()
        if past[2]:
            assert not hr[0, :, :, PATCH - past[2] :].any() and not lr[0, :, :, (PATCH - past[2]) // 2 :].any()


def test_patch_stride_must_be_a_multiple_of_the_scale(real_volume):
    with pytest.raises(InputError, match=r"option patch_stride: 6 is not a multiple of the scale \(4, 4, 4\)"):
        source(real_volume, PaperLinear(), (4, 4, 4), stride=6)
    with pytest.raises(InputError, match=r"option patch_stride: 6 is not a multiple of the scale \(4, 4, 4\)"):
        TrainingConfig(patch_size=16, patch_stride=6, scale=(4, 4, 4)).validate()
    TrainingConfig(patch_size=16, patch_stride=8, scale=(4, 4, 4)).validate()


def test_box_average_patches_match_the_former_per_patch_path_up_to_float32_rounding(real_volume):
    """The shipped weights were trained on per-patch box averages of the normalised HR
    patch. For that degradation the new stream visits the same windows in the same order
    (grid and foreground filter of the whole volume), its HR patches are the former ones
    except on the trailing slices the ×2 crop drops (now zero padding, in HR and LR), and
    its LR patches are the former ones up to float32 rounding: the LR is now
    ``normalise(mean(HR))`` (what inference feeds the network), formerly ``mean(normalise(HR))``."""
    volume = real_volume.data
    src = source(real_volume, PaperLinear(), min_foreground=0.1)
    lo, hi = normalisation_range(F.avg_pool3d(volume[None, None, :36, :40, :34].double(), 2).float())
    assert src.ranges[0] == (lo, hi)
    # the former window list: the grid over the whole volume, filtered on the whole volume
    corners = grid_locations(volume.shape, patch_size=PATCH, stride=STRIDE)
    mask = F.pad((normalise(volume, lo, hi) > 0.05).float(), [0, 40 - 35, 0, 48 - 41, 0, 40 - 37])
    fractions = F.avg_pool3d(mask[None, None], PATCH, STRIDE)[0, 0]
    keep = fractions[tuple(torch.from_numpy(corners // STRIDE).T)] >= 0.1
    assert torch.equal(src.index[:, 1:], torch.from_numpy(corners[keep.numpy()]))
    rounding_only = 0
    for position in range(len(src)):
        _, _, corner = src.window(position)
        lr, hr = src.pair(position)
        former_hr = evaluation_crop(volume, corner, (PATCH,) * 3, lo, hi)[None]
        former_lr = PaperLinear().degrade(former_hr[None], scale=(2, 2, 2))[0]
        inside = [slice(0, max(0, min(PATCH, n - c))) for c, n in zip(corner, (36, 40, 34), strict=True)]
        assert torch.equal(hr[0][tuple(inside)], former_hr[0][tuple(inside)])
        # float32 rounding of the raw block mean, seen through the normalisation: 1 ulp of
        # the result where lo = 0 (the demo heads), relative to |lo| / (hi - lo) otherwise
        ulp = 2 * torch.finfo(torch.float32).eps * (former_lr.abs() + abs(lo) / (hi - lo))
        lr_inside = tuple(slice(0, s.stop // 2) for s in inside)
        assert bool(((lr - former_lr).abs()[0][lr_inside] <= ulp[0][lr_inside]).all())
        if torch.equal(hr, former_hr):
            rounding_only += 1
            assert bool(((lr - former_lr).abs() <= ulp).all())
    assert rounding_only > 0
