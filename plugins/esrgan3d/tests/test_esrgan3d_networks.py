"""ESRGAN-3D networks: the paper preset's layout, shapes and parameter counts; the blocks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srbench.training.config import resolve_config
from srbench_esrgan3d.algorithm import build_discriminator, build_generator
from srbench.nn.blocks import RRDB
from srbench_esrgan3d.networks import (
    PretextHead,
    RRDBGenerator3d,
    VGG19Features3d,
    VGGDiscriminator3d,
    count_parameters,
)
from srbench_esrgan3d.trainer import Esrgan3dTrainer

#: paper preset (README "Parameter counts"): generator 3 RRDBs × 2,157,120 + convs 1,792 +
#: 110,656 (trunk) + 885,248 (up) + 110,656 (HR) + 1,729 (last)
PAPER_GENERATOR = 7_581_441
#: discriminator: five stages 64→128→256→512→512 (3³ + 4³ stride-2 convs, batch norm) + 4096→100→1
PAPER_DISCRIMINATOR = 51_199_561
#: 3D VGG-19 up to conv5_4 (16 convs, width 64) with batch norm (11,008 of them)
PAPER_VGG = 60_069_696
PLAIN_VGG = 60_058_688


def paper_config():
    return resolve_config(Esrgan3dTrainer(), preset="paper", overrides={})


def dense_block_parameters(channels: int, growth: int) -> int:
    convs = sum(27 * (channels + k * growth) * growth + growth for k in range(4))
    return convs + 27 * (channels + 4 * growth) * channels + channels


def test_paper_generator_layout_shapes_and_parameter_count():
    cfg = paper_config()
    net = build_generator(cfg)
    assert (cfg.channels, cfg.growth, cfg.blocks, cfg.residual_scale, cfg.global_residual) == (64, 32, 3, 0.2, False)
    assert len(net.trunk) == 3 and all(isinstance(block, RRDB) for block in net.trunk)
    assert not any(isinstance(m, (nn.BatchNorm3d, nn.InstanceNorm3d)) for m in net.modules())
    assert net.conv_up.out_channels == 64 * 8
    assert count_parameters(net.trunk[0]) == 3 * dense_block_parameters(64, 32) == 2_157_120
    assert count_parameters(net) == PAPER_GENERATOR
    with torch.no_grad():
        out = net(torch.rand(1, 1, 5, 4, 3))
    assert out.shape == (1, 1, 10, 8, 6)


def test_paper_discriminator_layout_and_parameter_count():
    cfg = paper_config()
    net = build_discriminator(cfg)
    strided = [m for m in net.features if isinstance(m, nn.Conv3d) and m.stride == (2, 2, 2)]
    assert [m.out_channels for m in strided] == [64, 128, 256, 512, 512]
    assert all(m.kernel_size == (4, 4, 4) for m in strided)
    assert net.classifier[1].in_features == 512 * 2 * 2 * 2 and net.classifier[1].out_features == 100
    assert count_parameters(net) == PAPER_DISCRIMINATOR


def test_discriminator_gives_one_logit_per_patch():
    net = VGGDiscriminator3d(patch_size=16, channels=4, stages=3, hidden=8)
    assert net(torch.rand(3, 1, 16, 16, 16)).shape == (3, 1)
    with pytest.raises(ValueError, match="too small"):
        VGGDiscriminator3d(patch_size=16, channels=4, stages=5)


def test_paper_vgg_is_vgg19_cut_at_conv5_4_before_activation():
    cfg = paper_config()
    assert cfg.vgg_batch_norm
    vgg = VGG19Features3d(width=cfg.vgg_width, batch_norm=True)
    layers = list(vgg.features)
    convs = [m for m in layers if isinstance(m, nn.Conv3d)]
    assert len(convs) == 16 and sum(isinstance(m, nn.MaxPool3d) for m in layers) == 4
    assert [c.out_channels for c in convs] == [64] * 2 + [128] * 2 + [256] * 4 + [512] * 8
    assert len(layers) == 16 + 16 + 15 + 4  # conv5_4 → its batch norm, no ReLU after it
    assert isinstance(layers[-1], nn.BatchNorm3d) and layers[-2] is convs[-1]
    assert count_parameters(vgg) == PAPER_VGG
    plain = list(VGG19Features3d(width=64, batch_norm=False).features)
    assert len(plain) == 35 and isinstance(plain[-1], nn.Conv3d)  # torchvision's vgg19().features[:35]
    assert count_parameters(nn.Sequential(*plain)) == PLAIN_VGG
    small = VGG19Features3d(width=2)
    assert small(torch.rand(2, 1, 16, 32, 16)).shape == (2, 16, 1, 2, 1)
    head = PretextHead(in_channels=16, classes=4)
    assert head(torch.rand(2, 16, 1, 2, 1)).shape == (2, 4)


def test_global_residual_generator_starts_near_trilinear():
    net = RRDBGenerator3d(channels=4, growth=2, blocks=1, global_residual=True)
    lr = torch.rand(1, 1, 4, 5, 6)
    trilinear = F.interpolate(lr, scale_factor=2, mode="trilinear", align_corners=False)
    with torch.no_grad():
        out = net(lr)
    assert out.shape == trilinear.shape
    torch.testing.assert_close(out, trilinear)  # conv_last starts at zero
