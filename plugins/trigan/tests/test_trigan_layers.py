"""The three-player GAN's own block: the 3D ResNet basic block of its feature extractor."""

from __future__ import annotations

import torch

from srbench_trigan.layers import BasicBlock3d


def test_basic_block_downsamples_with_a_projection():
    block = BasicBlock3d(4, 8, stride=2)
    assert block(torch.randn(2, 4, 8, 8, 6)).shape == (2, 8, 4, 4, 3)
    dilated = BasicBlock3d(8, 8, dilation=2)
    assert dilated(torch.randn(2, 8, 5, 5, 5)).shape == (2, 8, 5, 5, 5)
    assert not any(buffer.numel() for buffer in dilated.buffers() if buffer.dtype.is_floating_point)
