"""Training patches: grid locations, foreground filter, deterministic stream, rank shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from srbench.data.degradations import BlurNoise, PaperLinear
from srbench.data.intensity import normalisation_range
from srbench.errors import InputError
from srbench.interfaces import Volume
from srbench.testing.synthetic import smooth_volume
from srbench.training.patches import BatchPrefetcher, PatchSource, grid_locations, padded_shape
from tests.training_toy import toy_volumes


def source(volumes=None, **kwargs) -> PatchSource:
    options = dict(patch_size=8, stride=4, scale=(2, 2, 2), degradation=PaperLinear(), min_foreground=0.2, seed=3)
    options.update(kwargs)
    return PatchSource(toy_volumes() if volumes is None else volumes, **options)


def test_grid_matches_the_paper_sliding_window_with_end_padding():
    # 208×300×320 HR, 64³ windows, stride 16: 300 is padded to 304 so the windows tile it
    assert padded_shape((208, 300, 320), patch_size=64, stride=16) == (208, 304, 320)
    corners = grid_locations((208, 300, 320), patch_size=64, stride=16)
    assert len(corners) == 10 * 16 * 17
    assert corners.max(axis=0).tolist() == [144, 240, 256]
    assert not (corners % 16).any()
    # a volume smaller than one window gets one zero-padded window
    assert grid_locations((5, 6, 7), patch_size=8, stride=4).tolist() == [[0, 0, 0]]


def test_batches_are_pure_functions_of_seed_and_iteration():
    a, b = source(), source()
    for iteration in (0, 5, 123):
        x, y = a.batch(iteration, 4), b.batch(iteration, 4)
        assert torch.equal(x.hr, y.hr) and torch.equal(x.lr, y.lr)
    assert not torch.equal(source(seed=4).batch(0, 4).hr, a.batch(0, 4).hr)
    assert not torch.equal(a.batch(1, 4).hr, a.batch(0, 4).hr)


def test_shapes_normalisation_and_paper_linear_lr():
    src = source()
    batch = src.batch(2, 4)
    assert batch.hr.shape == (4, 1, 8, 8, 8) and batch.lr.shape == (4, 1, 4, 4, 4)
    assert batch.hr.dtype == torch.float32 and batch.scale == (2.0, 2.0, 2.0)
    assert torch.allclose(batch.lr, F.avg_pool3d(batch.hr, 2))
    # normalisation by the degraded LR volume's (min, 99.9th percentile)
    volume = toy_volumes()[0]
    lo, hi = normalisation_range(F.avg_pool3d(volume.data[None, None], 2)[0, 0])
    assert src.ranges[0] == pytest.approx((lo, hi))
    position = src.positions(2, 4)[0]
    window = int(src.permutation(0)[position])
    number, i, j, k = src.index[window].tolist()
    expected = (src.volumes[number].data[i : i + 8, j : j + 8, k : k + 8] - src.ranges[number][0]) / (
        src.ranges[number][1] - src.ranges[number][0]
    )
    region = batch.hr[0, 0, : expected.shape[0], : expected.shape[1], : expected.shape[2]]
    assert torch.allclose(region, expected)


def test_each_epoch_visits_every_window_once():
    src = source()
    n = len(src)
    positions = [p for it in range(n) for p in src.positions(it, 1)]
    first = [int(src.permutation(p // n)[p % n]) for p in positions]
    assert sorted(first) == list(range(n))
    assert not torch.equal(src.permutation(0), src.permutation(1))


def test_rank_shares_concatenate_to_the_global_batch():
    src = source(degradation=BlurNoise())  # random degradation: noise keyed by stream position
    whole = src.batch(7, 4)
    parts = [src.batch(7, 4, rank=r, world_size=2) for r in range(2)]
    assert torch.equal(torch.cat([p.hr for p in parts]), whole.hr)
    assert torch.equal(torch.cat([p.lr for p in parts]), whole.lr)
    with pytest.raises(InputError, match="batch_size: 3 is not divisible by the number of processes 2"):
        src.batch(0, 3, rank=0, world_size=2)


def test_foreground_filter_drops_empty_windows():
    data = torch.zeros(16, 16, 16)
    data[:8, :8, :8] = torch.rand(8, 8, 8) + 1.0
    volume = Volume(data=data, affine=np.eye(4), source="cube")
    src = source([volume], min_foreground=0.5)
    assert len(src) < len(grid_locations((16, 16, 16), patch_size=8, stride=4))
    assert src.index[:, 1:].max() <= 4  # windows starting in the empty half are gone
    assert len(source([volume], min_foreground=0.0)) == 27
    with pytest.raises(InputError, match="option min_foreground: no 8-voxel training patch"):
        source([Volume(data=torch.zeros(16, 16, 16), affine=np.eye(4), source="empty")])


def test_bad_geometry_is_an_input_error():
    with pytest.raises(InputError, match="option patch_stride: 3"):
        source(stride=3)
    with pytest.raises(InputError, match="option patch_size: 9 is not divisible"):
        source(patch_size=9, stride=5)


def test_prefetcher_returns_the_same_batches_and_measures_waiting():
    src = source()
    prefetcher = BatchPrefetcher(src, batch_size=2)
    try:
        for iteration in range(3):
            batch, waited = prefetcher.get(iteration)
            assert waited >= 0.0
            assert torch.equal(batch.hr, src.batch(iteration, 2).hr)
    finally:
        prefetcher.close()


def test_volume_sizes_not_divisible_by_the_scale_are_handled():
    volume = Volume(data=smooth_volume((17, 19, 21), seed=5, border=2), affine=np.eye(4), source="odd")
    batch = source([volume], scale=(2, 2, 1)).batch(0, 2)
    assert batch.hr.shape == (2, 1, 8, 8, 8) and batch.lr.shape == (2, 1, 4, 4, 8)
