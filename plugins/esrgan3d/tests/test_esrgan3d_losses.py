"""ESRGAN-3D losses (relativistic average GAN against the direct formula), the VGG
pre-training task and the learning-rate schedule."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srbench.training.config import resolve_config
from srbench_esrgan3d.losses import perceptual_loss, ragan_discriminator_loss, ragan_generator_loss
from srbench_esrgan3d.pretext import SYMMETRIES, apply_symmetry, degradation_levels, random_symmetries
from srbench_esrgan3d.schedule import gan_lr, generator_lr, multistep_lr, warmup_iterations
from srbench_esrgan3d.trainer import Esrgan3dTrainer


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_ragan_losses_match_the_direct_formula():
    real = torch.tensor([[2.0], [-1.0]])
    fake = torch.tensor([[0.5], [-3.0]])
    mean_real, mean_fake = 0.5, -1.25
    d_rf = [sigmoid(r - mean_fake) for r in (2.0, -1.0)]  # D_Ra(x_r, x_f)
    d_fr = [sigmoid(f - mean_real) for f in (0.5, -3.0)]  # D_Ra(x_f, x_r)
    expected_d = -sum(math.log(v) for v in d_rf) / 2 - sum(math.log(1 - v) for v in d_fr) / 2
    expected_g = -sum(math.log(1 - v) for v in d_rf) / 2 - sum(math.log(v) for v in d_fr) / 2
    assert ragan_discriminator_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert ragan_generator_loss(real, fake).item() == pytest.approx(expected_g, rel=1e-6)


def test_ragan_is_stable_for_huge_logits():
    real = torch.tensor([[1e4]])
    fake = torch.tensor([[-1e4]])
    assert ragan_discriminator_loss(real, fake).item() == 0.0
    assert ragan_generator_loss(real, fake).item() == pytest.approx(4e4)


def test_perceptual_loss_only_differentiates_the_sr_branch():
    features = nn.Conv3d(1, 2, 3, padding=1)
    sr = torch.rand(1, 1, 4, 4, 4, requires_grad=True)
    hr = torch.rand(1, 1, 4, 4, 4, requires_grad=True)
    loss = perceptual_loss(features, sr, hr)
    torch.testing.assert_close(loss, (features(sr) - features(hr)).abs().mean())
    loss.backward()
    assert sr.grad is not None and hr.grad is None


def test_the_48_symmetries_are_distinct_permutations_of_the_voxels():
    patch = torch.randn(1, 4, 4, 4)
    images = [apply_symmetry(patch, k) for k in range(SYMMETRIES)]
    assert torch.equal(images[0], patch)
    assert len({tuple(img.flatten().tolist()) for img in images}) == 48
    assert all(torch.equal(img.flatten().sort().values, patch.flatten().sort().values) for img in images)
    assert torch.equal(apply_symmetry(patch, 1), patch.flip(1))  # bit 0 flips the first spatial axis
    assert torch.equal(apply_symmetry(patch, 8), patch.permute(0, 1, 3, 2))  # second permutation (0, 2, 1)
    with pytest.raises(ValueError):
        apply_symmetry(patch, 48)


def test_random_symmetries_are_a_function_of_the_generator():
    patches = torch.randn(5, 1, 4, 4, 4)
    a = random_symmetries(patches, generator=torch.Generator().manual_seed(3))
    b = random_symmetries(patches, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    for patch, out in zip(patches, a, strict=True):
        assert any(torch.equal(out, apply_symmetry(patch, k)) for k in range(SYMMETRIES))
    with pytest.raises(ValueError, match="cubic"):
        random_symmetries(torch.randn(1, 1, 4, 4, 2), generator=torch.Generator())


def test_degradation_levels_blend_hr_with_trilinear_lr():
    hr = torch.rand(2, 1, 4, 4, 4)
    lr = F.avg_pool3d(hr, 2)
    up = F.interpolate(lr, size=(4, 4, 4), mode="trilinear", align_corners=False)
    patches, labels = degradation_levels(hr, lr, levels=3, generator=torch.Generator().manual_seed(0))
    assert patches.shape == (6, 1, 4, 4, 4) and labels.tolist() == [0, 1, 2, 0, 1, 2]
    for index, (out, k) in enumerate(zip(patches, labels, strict=True)):
        t = int(k) / 2
        expected = (1 - t) * hr[index // 3] + t * up[index // 3]
        assert any(torch.allclose(out, apply_symmetry(expected, s)) for s in range(SYMMETRIES))
    with pytest.raises(ValueError, match="2 levels"):
        degradation_levels(hr, lr, levels=1, generator=torch.Generator())


def test_esrgan_schedule_scaled_to_the_run():
    assert multistep_lr(1.0, step=0, length=100, milestones=(0.5,)) == 1.0
    assert multistep_lr(1.0, step=50, length=100, milestones=(0.5,)) == 0.5
    cfg = resolve_config(Esrgan3dTrainer(), preset="paper", overrides={})
    assert (warmup_iterations(cfg), cfg.iterations) == (15000, 60000)
    assert generator_lr(0, config=cfg) == 2e-4
    assert generator_lr(2999, config=cfg) == 2e-4 and generator_lr(3000, config=cfg) == 1e-4  # 200k of 1M
    assert generator_lr(15000, config=cfg) == 1e-4  # the GAN phase restarts at 1e-4
    # ESRGAN halves at 50k, 100k, 200k, 300k of 400k GAN iterations; here of 45,000
    assert [gan_lr(15000 + k, config=cfg) for k in (5624, 5625, 11250, 22500, 33750)] == [
        1e-4, 5e-5, 2.5e-5, 1.25e-5, 6.25e-6
    ]
