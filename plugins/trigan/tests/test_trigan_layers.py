"""3D sub-pixel shuffles and the dense / residual blocks."""

from __future__ import annotations

import pytest
import torch

from srbench_trigan.layers import RRDB, BasicBlock3d, DenseBlock, PixelShuffle3d, pixel_shuffle_3d, pixel_unshuffle_3d


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


def test_basic_block_downsamples_with_a_projection():
    block = BasicBlock3d(4, 8, stride=2)
    assert block(torch.randn(2, 4, 8, 8, 6)).shape == (2, 8, 4, 4, 3)
    dilated = BasicBlock3d(8, 8, dilation=2)
    assert dilated(torch.randn(2, 8, 5, 5, 5)).shape == (2, 8, 5, 5, 5)
    assert not any(buffer.numel() for buffer in dilated.buffers() if buffer.dtype.is_floating_point)
