"""Generator, critic and feature extractor: shapes, parameter counts, initialisation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from srbench_trigan.networks import Discriminator, FeatureExtractor, Generator, parameter_count


def _conv(cin: int, cout: int, k: int = 3, bias: bool = True) -> int:
    return k**3 * cin * cout + (cout if bias else 0)


def expected_generator_params(nf: int, gc: int, n_rrdb: int) -> int:
    dense = sum(_conv(nf + k * gc, gc) for k in range(4)) + _conv(nf + 4 * gc, nf)
    return _conv(1, nf) + n_rrdb * 3 * dense + _conv(nf, nf) + _conv(nf, 8 * nf) + _conv(nf, nf) + _conv(nf, 1)


def expected_critic_params(channels: tuple[int, ...]) -> int:
    total, previous = 0, 1
    for i, c in enumerate(channels):
        total += _conv(previous, c) + (2 * c if i else 0) + _conv(c, c) + 2 * c
        previous = c
    return total + previous + 1


def expected_extractor_params(channels: tuple[int, ...]) -> int:
    c0, c1, c2, c3 = channels
    total = 7**3 * c0 + 2 * c0
    for cin, cout, stride in ((c0, c0, 1), (c0, c1, 2), (c1, c2, 1), (c2, c3, 1)):
        total += _conv(cin, cout, bias=False) + 2 * cout + _conv(cout, cout, bias=False) + 2 * cout
        if stride != 1 or cin != cout:
            total += cin * cout + 2 * cout
    return total


PAPER = {"nf": 64, "gc": 32, "d": (64, 128, 256, 512), "fe": (64, 128, 256, 512)}


def test_paper_preset_parameter_counts():
    g = Generator(channels=PAPER["nf"], growth=PAPER["gc"], n_rrdb=3)
    d = Discriminator(channels=PAPER["d"])
    fe = FeatureExtractor(channels=PAPER["fe"])
    counts = {"generator": parameter_count(g), "discriminator": parameter_count(d), "feature_extractor": parameter_count(fe)}
    print("paper preset parameter counts:", counts)
    assert counts["generator"] == expected_generator_params(64, 32, 3)
    assert counts["discriminator"] == expected_critic_params(PAPER["d"])
    assert counts["feature_extractor"] == expected_extractor_params(PAPER["fe"])


def test_generator_doubles_every_axis_and_has_no_batch_norm():
    g = Generator(channels=8, growth=4, n_rrdb=3)
    assert g(torch.randn(2, 1, 6, 5, 4)).shape == (2, 1, 12, 10, 8)
    assert len(g.trunk) == 3
    assert not any(isinstance(m, (torch.nn.BatchNorm3d, torch.nn.InstanceNorm3d)) for m in g.modules())


def test_global_residual_generator_starts_as_trilinear_interpolation():
    torch.manual_seed(0)
    g = Generator(channels=8, growth=4, global_residual=True)
    lr = torch.rand(1, 1, 5, 6, 7)
    expected = F.interpolate(lr, scale_factor=2, mode="trilinear", align_corners=False)
    assert torch.equal(g(lr), expected)
    assert not torch.equal(Generator(channels=8, growth=4)(lr), expected)


@pytest.mark.parametrize("size", [32, 64])
def test_critic_gives_one_logit_per_patch_for_any_size(size):
    d = Discriminator(channels=(4, 8, 8, 16))
    assert d(torch.randn(2, 1, size, size, size)).shape == (2, 1)
    patch = Discriminator(channels=(4, 8, 8, 16), head="patch")
    assert patch(torch.randn(2, 1, size, size, size)).shape == (2, 1, size // 16, size // 16, size // 16)
    assert sum(isinstance(m, torch.nn.InstanceNorm3d) for m in d.modules()) == 7
    with pytest.raises(ValueError, match="head"):
        Discriminator(head="dense")


def test_feature_extractor_is_resnet10_conv_part():
    fe = FeatureExtractor(channels=(4, 8, 16, 32))
    assert fe(torch.randn(2, 1, 32, 32, 32)).shape == (2, 32, 4, 4, 4)
    assert fe(torch.randn(2, 1, 64, 64, 64)).shape == (2, 32, 8, 8, 8)
    assert fe.stem[0].kernel_size == (7, 7, 7) and fe.stem[0].stride == (2, 2, 2)
    assert len(fe.stages) == 4
    assert not any(isinstance(m, torch.nn.Linear) for m in fe.modules())
    with pytest.raises(ValueError, match="4 stage widths"):
        FeatureExtractor(channels=(4, 8, 16))


@pytest.mark.parametrize(
    ("build", "slope"),
    [(lambda: Generator(channels=32, growth=16), 0.2), (lambda: Discriminator(channels=(32, 64)), 0.2),
     (lambda: FeatureExtractor(channels=(32, 64, 64, 64)), 0.0)],
)
def test_kaiming_normal_initialisation(build, slope):
    torch.manual_seed(0)
    net = build()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv3d) and m.weight.numel() > 20000]
    assert convs
    for conv in convs:
        fan_in = conv.weight[0].numel()
        expected = math.sqrt(2.0 / (1 + slope**2)) / math.sqrt(fan_in)
        assert conv.weight.std().item() == pytest.approx(expected, rel=0.05)
        assert abs(conv.weight.mean().item()) < 0.1 * expected
        if conv.bias is not None:
            assert torch.count_nonzero(conv.bias) == 0
