"""ArSSR architecture: encoder choices, decoder layout, parameter counts, grid convention."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from srbench.training.config import resolve_config
from srbench_arssr.coordinates import lr_positions, owner_ranges
from srbench_arssr.network import ArSSRNetwork
from srbench_arssr.resample import area_downsample, area_matrix
from srbench_arssr.trainer import TRAINER, build_network

#: measured parameter counts of the ``paper`` preset per encoder (encoder + 364,676 decoder)
PAPER_PARAMETERS = {"rdn": 6_283_460, "rescnn": 2_579_588, "srresnet": 4_682_052}
DECODER_PARAMETERS = 364_676


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("encoder", sorted(PAPER_PARAMETERS))
def test_paper_preset_parameter_counts_and_feature_map(encoder):
    cfg = resolve_config(TRAINER, preset="paper", overrides={"encoder": encoder})
    net = build_network(cfg)
    assert count(net) == PAPER_PARAMETERS[encoder]
    assert count(net.decoder) == DECODER_PARAMETERS
    with torch.no_grad():
        features = net.encode(torch.rand(1, 1, 5, 6, 7))
    assert features.shape == (1, 128, 5, 6, 7)


def test_paper_decoder_is_two_stages_of_four_linear_relu_with_a_skip():
    net = build_network(resolve_config(TRAINER, preset="paper", overrides={}))
    linears = [[m for m in stage if isinstance(m, nn.Linear)] for stage in (net.decoder.stage1, net.decoder.stage2)]
    assert [len(stage) for stage in linears] == [4, 4]
    assert [(m.in_features, m.out_features) for m in linears[0]] == [(131, 256), (256, 256), (256, 256), (256, 131)]
    assert [(m.in_features, m.out_features) for m in linears[1]] == [(131, 256), (256, 256), (256, 256), (256, 1)]
    assert sum(isinstance(m, nn.ReLU) for m in net.decoder.stage1) == 4
    # the skip: the second stage sees input + first stage's output
    x = torch.rand(3, 131)
    with torch.no_grad():
        assert torch.allclose(net.decoder(x), net.decoder.stage2(x + net.decoder.stage1(x)))


def test_paper_network_outputs_non_negative_intensities_at_query_points():
    net = build_network(resolve_config(TRAINER, preset="paper", overrides={"encoder": "rescnn"}))
    with torch.no_grad():
        out = net(torch.rand(2, 1, 10, 10, 10), torch.rand(2, 50, 3) * 9)
    assert out.shape == (2, 50) and bool((out >= 0).all())


@pytest.mark.parametrize("coordinates", ["global", "local"])
def test_untrained_residual_network_reproduces_the_trilinear_baseline(coordinates):
    net = ArSSRNetwork(encoder="rescnn", feature_dim=4, encoder_channels=4, encoder_depth=1, decoder_width=8,
                       coordinates=coordinates, residual=True).eval()
    lr = torch.rand(1, 1, 5, 6, 7)
    out_shape = (10, 12, 14)
    axes = [lr_positions(n, 2.0) for n in out_shape]
    points = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(1, -1, 3)
    with torch.no_grad():
        values = net(lr, points).reshape(out_shape)
    expected = F.interpolate(lr, size=out_shape, mode="trilinear", align_corners=False)[0, 0]
    torch.testing.assert_close(values, expected, atol=1e-5, rtol=0)


def test_local_coordinates_are_the_offset_from_the_nearest_lr_voxel():
    net = ArSSRNetwork(encoder="rescnn", feature_dim=4, encoder_channels=4, encoder_depth=1, decoder_width=8,
                       coordinates="local")
    positions = torch.tensor([[[-0.25, 0.25, 1.75], [2.4, 3.0, 0.6]]])
    coords = net.coordinate_input(positions, frame_offset=torch.zeros(3), frame_size=torch.tensor([5.0, 5.0, 5.0]))
    torch.testing.assert_close(coords, torch.tensor([[[-0.25, 0.25, -0.25], [0.4, 0.0, -0.4]]]))


def test_global_coordinates_are_cell_centred_in_the_frame():
    net = ArSSRNetwork(encoder="rescnn", feature_dim=4, encoder_channels=4, encoder_depth=1, decoder_width=8)
    positions = torch.tensor([[[0.0, 4.0, -0.25]]])
    coords = net.coordinate_input(positions, frame_offset=torch.tensor([0.0, 0.0, 10.0]), frame_size=torch.tensor([5.0, 5.0, 20.0]))
    torch.testing.assert_close(coords, torch.tensor([[[-0.8, 0.8, (2 * 9.75 + 1) / 20 - 1]]]))


def test_area_downsampling_is_paper_linear_at_integer_scales_and_covers_fractional_cells():
    x = torch.rand(2, 1, 8, 6, 4)
    torch.testing.assert_close(area_downsample(x, (4, 3, 2)), F.avg_pool3d(x, 2))
    weights = area_matrix(25, 10, dtype=torch.float64)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(10, dtype=torch.float64))
    # LR voxel i covers HR edges [2.5·i, 2.5·(i+1)): HR voxels partly inside count by the covered fraction
    torch.testing.assert_close(weights[0, :4], torch.tensor([1.0, 1.0, 0.5, 0.0], dtype=torch.float64) / 2.5)
    torch.testing.assert_close(weights[1, :6], torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0, 0.0], dtype=torch.float64) / 2.5)
    # and SR voxel j is queried at LR index (j + 0.5)/2.5 − 0.5: the centre of LR voxel i is SR voxel 2.5·i + 0.75
    torch.testing.assert_close(lr_positions(25, 2.5)[[1, 6]], torch.tensor([0.1, 2.1]))
    torch.testing.assert_close(lr_positions(25, 2.5)[[3, 8]], torch.tensor([0.9, 2.9]))


def test_tiles_partition_the_output_axis():
    for n_in, scale, tile in ((11, 2.0, 4), (7, 2.5, 3), (9, 1.0, 5), (10, 1.5, 24)):
        n_out = round(n_in * scale)
        ranges = owner_ranges(n_out, n_in, n_out / n_in, cores=[(a, min(n_in, a + tile)) for a in range(0, n_in, tile)])
        assert ranges[0][2] == 0 and ranges[-1][3] == n_out
        assert all(a[3] == b[2] for a, b in zip(ranges[:-1], ranges[1:]))
        assert all(lo < hi <= n_in for lo, hi, _, _ in ranges)
