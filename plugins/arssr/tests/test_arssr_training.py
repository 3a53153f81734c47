"""ArSSR training: per-patch random scales and a real step (checkpoint round trip and exact
resume are checked by the conformance kit, test_arssr_conformance.py)."""

from __future__ import annotations

import numpy as np
import torch

from srbench.data.degradations import PaperLinear
from srbench.interfaces import Volume
from srbench.testing.synthetic import smooth_volume
from srbench.training.config import resolve_config
from srbench.training.patches import PatchSource
from srbench_arssr.network import sample
from srbench_arssr.resample import area_downsample
from srbench_arssr.trainer import TRAINER, draw_samples, draw_scales

TINY = {
    "feature_dim": "4", "encoder_channels": "4", "encoder_depth": "1", "decoder_width": "8", "lr_patch": "4",
    "samples": "64", "patch_size": "16", "patch_stride": "16", "batch_size": "2", "min_foreground": "0",
    "checkpoint_every": "2", "learning_rate": "1e-2",
}


def volumes() -> list[Volume]:
    """One smooth 20³ volume."""
    return [Volume(data=smooth_volume((20, 20, 20), seed=0), affine=np.eye(4), source="toy")]


def config(**changes):
    return resolve_config(TRAINER, preset="cpu", overrides={**TINY, **{k: str(v) for k, v in changes.items()}})


def batch(cfg, iteration):
    source = PatchSource(volumes(), patch_size=cfg.patch_size, stride=cfg.patch_stride, scale=cfg.scale,
                         degradation=PaperLinear(), min_foreground=0.0, seed=cfg.seed)
    return source.batch(iteration, cfg.batch_size)


def test_samples_cover_the_scale_range_and_sit_on_the_crop_grid():
    cfg = config(lr_patch=4, samples=50, scale_min=2.0, scale_max=4.0, per_axis_probability=0, unit_axis_probability=0)
    hr = torch.rand(32, 1, 16, 16, 16)
    samples = draw_samples(hr, config=cfg, generator=torch.Generator().manual_seed(0))
    assert samples.lr.shape == (32, 1, 4, 4, 4) and samples.positions.shape == (32, 50, 3) and samples.targets.shape == (32, 50)
    assert samples.scales.shape == (32, 3) and bool((samples.scales == samples.scales[:, :1]).all())  # the paper's: isotropic
    assert bool((samples.scales >= 2.0).all() and (samples.scales <= 4.0).all()) and samples.scales.std() > 0.3
    again = draw_samples(hr, config=cfg, generator=torch.Generator().manual_seed(0))
    assert torch.equal(samples.positions, again.positions) and torch.equal(samples.targets, again.targets)
    # an HR ramp at an integer scale: the block-averaged LR interpolated at a sample position
    # equals the HR value there (linear functions are reproduced exactly inside the patch),
    # so LR grid, sample positions and targets agree
    ramp = torch.arange(16, dtype=torch.float32)[:, None, None].expand(16, 16, 16)[None, None].contiguous()
    fixed = config(lr_patch=4, samples=50, scale_min=3.0, scale_max=3.0)
    one = draw_samples(ramp, config=fixed, generator=torch.Generator().manual_seed(5))
    inside = ((one.positions >= 0) & (one.positions <= 3)).all(dim=-1)
    values = sample(one.lr, one.positions)[..., 0]
    torch.testing.assert_close(values[inside], one.targets[inside], atol=1e-4, rtol=0)
    n = round(float(one.scales[0, 0]) * 4)
    offset = one.targets[0][0] - (one.positions[0, 0, 0] + 0.5) * n / 4 + 0.5  # crop corner along axis 0
    assert 0 <= float(offset) <= 16 - n and abs(float(offset) - round(float(offset))) < 1e-4


def test_per_axis_scales_with_unit_axes_are_sampled_as_configured_and_reproducibly():
    cfg = config(scale_min=2.0, scale_max=4.0, per_axis_probability=0.5, unit_axis_probability=0.25)
    generator = torch.Generator().manual_seed(3)
    drawn = torch.tensor([draw_scales(cfg, generator) for _ in range(4000)])
    unit = drawn == 1.0
    rest = drawn[~unit]
    assert bool((rest >= 2.0).all() and (rest <= 4.0).all())
    with_unit = unit.any(dim=1)
    assert abs(float(with_unit.float().mean()) - 0.25) < 0.03 and not bool(unit.all(dim=1).any())  # never all three
    counts = unit[with_unit].sum(dim=1)
    assert abs(float((counts == 1).float().mean()) - 0.5) < 0.05  # one or two axes, equally likely
    assert all(abs(float(unit[:, a].float().mean()) - 0.25 * 1.5 / 3) < 0.03 for a in range(3))  # no favoured axis
    plain = drawn[~with_unit]
    isotropic = (plain == plain[:, :1]).all(dim=1)
    assert abs(float(isotropic.float().mean()) - 0.5) < 0.04  # per-axis draws half of the time
    again = torch.tensor([draw_scales(cfg, torch.Generator().manual_seed(3)) for _ in range(1)])
    assert torch.equal(again[0], drawn[0])
    # a patch with a unit axis: that axis is cropped to lr_patch voxels and its samples sit on LR voxel centres
    ramp = torch.arange(16, dtype=torch.float32)[None, None, None, :].expand(1, 16, 16, 16)[None].contiguous()
    only_unit = config(lr_patch=4, samples=50, scale_min=3.0, scale_max=3.0, per_axis_probability=0, unit_axis_probability=1)
    many = draw_samples(ramp.expand(64, 1, 16, 16, 16), config=only_unit, generator=torch.Generator().manual_seed(1))
    flat = many.scales[:, 2] == 1.0
    assert bool(flat.any()) and bool(((many.scales == 1.0) | (many.scales == 3.0)).all())
    positions = many.positions[flat][..., 2]
    torch.testing.assert_close(positions, positions.round())
    torch.testing.assert_close(sample(many.lr[flat], many.positions[flat])[..., 0], many.targets[flat], atol=1e-4, rtol=0)


def test_area_downsampled_training_lr_matches_paper_linear_at_scale_two():
    hr = torch.rand(1, 1, 8, 8, 8)
    torch.testing.assert_close(area_downsample(hr, (4, 4, 4)), PaperLinear().degrade(hr, scale=(2, 2, 2)))


def test_one_real_step_logs_finite_numbers_and_changes_weights():
    cfg = config()
    torch.manual_seed(0)
    algorithm = TRAINER.build(cfg)
    before = {k: v.clone() for k, v in algorithm.modules["network"].state_dict().items()}
    scalars = algorithm.step(batch(cfg, 0), iteration=0, total=1, generator=torch.Generator().manual_seed(0))
    assert set(scalars) == {"loss", "l1_trilinear", "mean_scale"} and all(np.isfinite(list(scalars.values())))
    assert abs(scalars["loss"] - scalars["l1_trilinear"]) < 1e-6  # residual network starts as trilinear
    after = algorithm.modules["network"].state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert "decoder.stage2.6.weight" in changed


def test_scale_probabilities_outside_zero_one_are_refused():
    import pytest

    from srbench.errors import InputError

    for name in ("per_axis_probability", "unit_axis_probability"):
        with pytest.raises(InputError, match=f"option {name}: must lie in \\[0, 1\\]"):
            config(**{name: 1.5})


def test_the_lr_source_follows_the_track_degradation_and_refuses_what_it_cannot_honour():
    import pytest

    from srbench.data.degradations import KSpaceTruncation
    from srbench.errors import InputError
    from srbench_arssr.trainer import AREA, TRACK, lr_source

    cfg = config()
    assert lr_source(cfg, None) == AREA and lr_source(cfg, PaperLinear()) == AREA  # the paper's continuous scales
    kspace = KSpaceTruncation()
    assert lr_source(cfg, kspace) == TRACK and lr_source(cfg, kspace.with_options({"snr": 20})) == TRACK
    refusal = ("option per_axis_probability: random scales need the 'paper-linear' degradation; degradation 'kspace' "
               r"is applied to whole training volumes at the track's scale \(2, 2, 2\) only")
    with pytest.raises(InputError, match=refusal):
        lr_source(config(per_axis_probability=0.5), kspace)
    with pytest.raises(InputError, match="option unit_axis_probability"):
        lr_source(config(unit_axis_probability=0.25), kspace)
    with pytest.raises(InputError, match=r"option scale_min/scale_max: \[3, 4\] does not hold the track's scale \(2, 2, 2\)"):
        lr_source(config(scale_min=3.0), kspace)
    assert lr_source(config(per_axis_probability=0.5), PaperLinear()) == AREA


def test_a_non_default_degradation_is_honoured_through_the_training_loop(tmp_path):
    """A kspace track: prepare hands the degradation to build, every step trains at the
    track's scale on LR boxes cut from the core's whole-volume degraded LR patches."""
    import csv

    from srbench.data.degradations import KSpaceTruncation
    from srbench.training.loop import run_training
    from srbench_arssr.trainer import TRACK, cut_samples

    kspace = KSpaceTruncation().with_options({"snr": 20})
    cfg = config(lr_patch=8, samples=64, iterations=2, scale_max=2.0)  # LR patch 16/2 = 8: the box is all of it
    algorithm = TRAINER.build(cfg, **TRAINER.prepare(cfg, volumes=volumes(), degradation=kspace, run_dir=tmp_path,
                                                      resume=False, progress=False))
    assert algorithm.lr_source == TRACK
    source = PatchSource(volumes(), patch_size=cfg.patch_size, stride=cfg.patch_stride, scale=cfg.scale,
                         degradation=kspace, min_foreground=0.0, seed=cfg.seed)
    paired = source.batch(0, cfg.batch_size)
    samples = cut_samples(paired.lr, paired.hr, scale=(2, 2, 2), config=cfg, generator=torch.Generator().manual_seed(0))
    assert torch.equal(samples.lr, paired.lr)  # the degradation's LR, not an area average of the HR
    assert not torch.allclose(samples.lr, area_downsample(paired.hr, (8, 8, 8)), atol=1e-3)
    assert bool((samples.scales == 2.0).all())
    # targets are the HR voxels at the sampled positions: HR index = (u + 0.5)·2 − 0.5
    hr_index = ((samples.positions.double() + 0.5) * 2 - 0.5).round().long()
    for b in range(len(hr_index)):
        i, j, k = hr_index[b].T
        assert torch.equal(paired.hr[b, 0, i, j, k], samples.targets[b])
    # a smaller box sits at a random LR offset and covers its HR box
    small = config(lr_patch=4, samples=64)
    boxes = cut_samples(paired.lr, paired.hr, scale=(2, 2, 2), config=small, generator=torch.Generator().manual_seed(1))
    assert boxes.lr.shape == (2, 1, 4, 4, 4)
    # through srbench's loop: prepare is called with the track's degradation, mean_scale is the track's
    run_training(trainer=TRAINER, config=cfg, volumes=volumes(), degradation=kspace, run_dir=tmp_path / "run",
                 resume=False, progress=False, data_files=[])
    with open(tmp_path / "run" / "losses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["mean_scale"]) for r in rows] == [2.0, 2.0]
