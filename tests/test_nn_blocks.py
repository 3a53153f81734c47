"""Shared 3D network pieces: sub-pixel shuffles, the dense block and the RRDB."""

from __future__ import annotations

import pytest
import torch

from srbench.nn.blocks import RRDB, DenseBlock
from srbench.errors import InputError
from srbench.nn.layers import PixelShuffle3d, kaiming_init, pixel_shuffle_3d, pixel_unshuffle_3d
from srbench.nn.memory_format import apply_memory_format, memory_format_for


@pytest.mark.parametrize("factor", [2, (2, 2, 1), (1, 3, 2)])
def test_pixel_shuffle_is_the_exact_inverse_of_unshuffle(factor):
    torch.manual_seed(0)
    rx, ry, rz = (factor,) * 3 if isinstance(factor, int) else factor
    low = torch.randn(2, 3 * rx * ry * rz, 4, 5, 3)
    high = pixel_shuffle_3d(low, factor)
    assert high.shape == (2, 3, 4 * rx, 5 * ry, 3 * rz)
    assert torch.equal(pixel_unshuffle_3d(high, factor), low)
    big = torch.randn(2, 3, 4 * rx, 5 * ry, 3 * rz)
    assert torch.equal(pixel_shuffle_3d(pixel_unshuffle_3d(big, factor), factor), big)


def test_pixel_shuffle_places_channel_phases_as_documented():
    # channel ((c·2 + i)·2 + j)·2 + k of voxel (w, h, d) lands at (2w + i, 2h + j, 2d + k)
    low = torch.arange(2 * 8 * 2 * 3 * 1, dtype=torch.float32).reshape(2, 8, 2, 3, 1)
    high = pixel_shuffle_3d(low, 2)
    for b in range(2):
        for ch in range(8):
            i, j, k = ch // 4, (ch // 2) % 2, ch % 2
            for w in range(2):
                for h in range(3):
                    assert high[b, 0, 2 * w + i, 2 * h + j, k] == low[b, ch, w, h, 0]


def test_pixel_shuffle_matches_torch_2d_shuffle_when_depth_factor_is_one():
    torch.manual_seed(1)
    low = torch.randn(1, 12, 3, 4, 1)
    ours = pixel_shuffle_3d(low, (2, 2, 1))[..., 0]
    assert torch.equal(ours, torch.nn.functional.pixel_shuffle(low[..., 0], 2))


def test_pixel_shuffle_rejects_indivisible_channels():
    with pytest.raises(ValueError, match="not divisible"):
        pixel_shuffle_3d(torch.zeros(1, 7, 2, 2, 2), 2)
    with pytest.raises(ValueError, match="not divisible"):
        pixel_unshuffle_3d(torch.zeros(1, 1, 3, 2, 2), 2)
    assert PixelShuffle3d(2)(torch.zeros(1, 8, 1, 1, 1)).shape == (1, 1, 2, 2, 2)


def test_dense_block_and_rrdb_keep_shape_and_are_scaled_residuals():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 5, 4, 3)
    block = DenseBlock(6, 4)
    assert [c.in_channels for c in block.convs] + [block.last.in_channels] == [6, 10, 14, 18, 22]
    assert block(x).shape == x.shape
    for conv in [*block.convs, block.last]:
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    torch.nn.init.constant_(block.last.bias, 1.0)
    assert torch.allclose(block(x), x + 0.2)  # x + 0.2 · conv5(...) with conv5 ≡ 1
    rrdb = RRDB(6, 4)
    assert rrdb(x).shape == x.shape
    assert len(rrdb.blocks) == 3
    inner = rrdb.blocks(x)
    torch.testing.assert_close(rrdb(x), x + 0.2 * inner)


def test_kaiming_init_scales_weights_and_zeroes_biases():
    torch.manual_seed(0)
    plain = torch.nn.Sequential(torch.nn.Conv3d(4, 8, 3), torch.nn.InstanceNorm3d(8, affine=True))
    torch.manual_seed(0)
    scaled = torch.nn.Sequential(torch.nn.Conv3d(4, 8, 3), torch.nn.InstanceNorm3d(8, affine=True))
    torch.manual_seed(1)
    kaiming_init(plain, negative_slope=0.2)
    torch.manual_seed(1)
    kaiming_init(scaled, negative_slope=0.2, scale=0.1)
    torch.testing.assert_close(scaled[0].weight, 0.1 * plain[0].weight)
    assert not plain[0].bias.any() and bool((plain[1].weight == 1).all())
    std = float(plain[0].weight.detach().std())
    assert 0.5 * (2 / 1.04 / (4 * 27)) ** 0.5 < std < 1.5 * (2 / 1.04 / (4 * 27)) ** 0.5


def test_memory_format_auto_is_channels_last_on_cpu_only_and_converts_in_place():
    assert memory_format_for("auto", device="cpu") is torch.channels_last_3d
    assert memory_format_for("auto", device="cuda") is torch.contiguous_format
    assert memory_format_for("contiguous", device="cpu") is torch.contiguous_format
    with pytest.raises(InputError, match="option memory_format: 'nhwc' is not one of auto, channels-last"):
        memory_format_for("nhwc", device="cpu")
    net = torch.nn.Sequential(torch.nn.Conv3d(2, 4, 3), torch.nn.Conv3d(4, 1, 1))
    weight = net[0].weight
    optimiser = torch.optim.Adam(net.parameters())
    apply_memory_format([net], torch.channels_last_3d)
    assert net[0].weight is weight and weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert not weight.is_contiguous()
    net(torch.rand(1, 2, 6, 6, 6)).sum().backward()
    optimiser.step()  # the optimiser still holds the converted parameters
    assert optimiser.state[weight]["exp_avg"].shape == weight.shape
