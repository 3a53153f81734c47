"""RaGAN losses against the direct formula, L1 terms, instance noise and its schedule."""

from __future__ import annotations

import math

import pytest
import torch

from srbench_trigan import losses


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


REAL = [0.5, -1.0, 2.0]
FAKE = [-0.5, 0.25]


def _direct(real: list[float], fake: list[float]) -> tuple[float, float]:
    """L_D and L_G written out from D_Ra(a, b) = sigmoid(C(a) − mean C(b))."""
    mean_real, mean_fake = sum(real) / len(real), sum(fake) / len(fake)
    d_ra_real = [_sigmoid(r - mean_fake) for r in real]  # D_Ra(x, y)
    d_ra_fake = [_sigmoid(f - mean_real) for f in fake]  # D_Ra(y, x)
    l_d = -sum(math.log(p) for p in d_ra_real) / len(real) - sum(math.log(1 - p) for p in d_ra_fake) / len(fake)
    l_g = -sum(math.log(1 - p) for p in d_ra_real) / len(real) - sum(math.log(p) for p in d_ra_fake) / len(fake)
    return l_d, l_g


def test_ragan_losses_match_the_direct_formula_on_hand_checked_values():
    real = torch.tensor(REAL)[:, None]
    fake = torch.tensor(FAKE)[:, None]
    l_d, l_g = _direct(REAL, FAKE)
    assert losses.ragan_discriminator_loss(real, fake).item() == pytest.approx(l_d, rel=1e-6)
    assert losses.ragan_generator_loss(real, fake).item() == pytest.approx(l_g, rel=1e-6)
    # by hand: mean C(y) = -0.125, mean C(x) = 0.5; the first term of L_D is
    # -(log σ(0.625) + log σ(-0.875) + log σ(2.125)) / 3
    first = -(math.log(_sigmoid(0.625)) + math.log(_sigmoid(-0.875)) + math.log(_sigmoid(2.125))) / 3
    second = -(math.log(1 - _sigmoid(-1.0)) + math.log(1 - _sigmoid(-0.25))) / 2
    assert losses.ragan_discriminator_loss(real, fake).item() == pytest.approx(first + second, rel=1e-6)


def test_ragan_losses_are_stable_for_extreme_logits():
    real = torch.tensor([[200.0], [150.0]])
    fake = torch.tensor([[-200.0], [-150.0]])
    assert losses.ragan_discriminator_loss(real, fake).item() == pytest.approx(0.0, abs=1e-6)
    assert losses.ragan_generator_loss(real, fake).item() == pytest.approx(700.0, rel=1e-6)


def test_per_location_logits_use_the_batch_mean_at_each_location():
    torch.manual_seed(0)
    real = torch.randn(3, 1, 2, 2, 2)
    fake = torch.randn(2, 1, 2, 2, 2)
    expected_d = [
        _direct(real[:, 0, i, j, k].tolist(), fake[:, 0, i, j, k].tolist())[0]
        for i in range(2) for j in range(2) for k in range(2)
    ]
    # every location has as many samples, so the loss is the mean of the per-location losses
    assert losses.ragan_discriminator_loss(real, fake).item() == pytest.approx(sum(expected_d) / 8, rel=1e-5)
    assert losses.authors_discriminator_loss(real, fake).item() == pytest.approx(sum(expected_d) / 16, rel=1e-5)


def test_authors_generator_loss_is_the_fake_term_with_a_detached_real_side():
    real = torch.tensor([[0.5], [-1.0], [2.0]], requires_grad=True)
    fake = torch.tensor([[-0.5], [0.25]], requires_grad=True)
    value = losses.authors_generator_loss(real, fake)
    expected = -sum(math.log(_sigmoid(f - 0.5)) for f in FAKE) / 2
    assert value.item() == pytest.approx(expected, rel=1e-6)
    value.backward()
    assert real.grad is None and fake.grad is not None


def test_pixel_and_perceptual_losses_are_mean_absolute_errors():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = torch.tensor([[1.5, 2.0], [1.0, 4.0]])
    assert losses.pixel_loss(a, b).item() == pytest.approx(2.5 / 4)
    assert losses.perceptual_loss(a, b).item() == pytest.approx(2.5 / 4)


def test_noise_sigma_anneals_the_standard_deviation_linearly_from_one_to_zero():
    sigmas = [losses.noise_sigma(i, start=0, total=5) for i in range(5)]
    assert sigmas == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    warm = [losses.noise_sigma(i, start=10, total=15) for i in (0, 10, 11, 12, 14, 20)]
    assert warm == pytest.approx([1.0, 1.0, 0.75, 0.5, 0.0, 0.0])
    assert losses.noise_sigma(0, start=0, total=1) == 1.0


def test_instance_noise_has_the_requested_std_and_follows_the_generator():
    x = torch.zeros(4, 1, 16, 16, 16)
    noisy = losses.add_instance_noise(x, sigma=0.5, generator=torch.Generator().manual_seed(3))
    assert noisy.std().item() == pytest.approx(0.5, rel=0.03)
    again = losses.add_instance_noise(x, sigma=0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(noisy, again)
    assert losses.add_instance_noise(x, sigma=0.0, generator=torch.Generator()) is x
