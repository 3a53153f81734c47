"""DCSRN architecture: the paper's layout, shapes, parameter count and the trilinear input."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srbench.training.config import resolve_config
from srbench_dcsrn.network import DCSRN
from srbench_dcsrn.trainer import TRAINER, build_network

#: measured on the ``paper`` preset; see the README (first conv 1,344; units 31,224 + 46,824 +
#: 62,424 + 78,024; 1×1×1 output 145)
PAPER_PARAMETERS = 219_985


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def paper_network() -> DCSRN:
    return build_network(resolve_config(TRAINER, preset="paper", overrides={}))


def test_paper_preset_layout_and_parameter_count():
    net = paper_network()
    assert net.first.in_channels == 1 and net.first.out_channels == 48 and net.first.kernel_size == (3, 3, 3)
    assert len(net.block.units) == 4
    for i, unit in enumerate(net.block.units):
        assert isinstance(unit.norm, nn.BatchNorm3d) and unit.norm.num_features == 48 + 24 * i
        assert unit.conv.out_channels == 24 and unit.conv.kernel_size == (3, 3, 3)
    assert net.last.in_channels == 48 + 4 * 24 and net.last.out_channels == 1 and net.last.kernel_size == (1, 1, 1)
    assert not net.residual
    assert count(net) == PAPER_PARAMETERS


def test_lr_batch_maps_to_hr_batch_on_odd_sizes():
    net = paper_network().eval()
    with torch.no_grad():
        out = net(torch.rand(2, 1, 5, 7, 3))
    assert out.shape == (2, 1, 10, 14, 6)


def test_dense_block_concatenates_every_feature_map():
    net = DCSRN(first_channels=6, growth=3, units=2)
    x = torch.rand(1, 6, 4, 4, 4)
    out = net.block(x)
    assert out.shape == (1, 6 + 2 * 3, 4, 4, 4)
    assert torch.equal(out[:, :6], x)  # the block input is passed through unchanged


def test_untrained_residual_network_is_exactly_the_trilinear_baseline():
    net = DCSRN(first_channels=4, growth=2, units=2, residual=True).eval()
    lr = torch.rand(1, 1, 5, 6, 7)
    expected = F.interpolate(lr, size=(10, 12, 14), mode="trilinear", align_corners=False)
    with torch.no_grad():
        assert torch.equal(net(lr), expected)
