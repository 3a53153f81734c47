"""Tile planning, valid-region stitching, receptive-field and memory probes, and the
planned inference of NetworkPredictor (small volumes, small random networks)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from srbench.activation_memory import activation_memory, peak_bytes
from srbench.errors import InputError
from srbench.inference import NetworkPredictor
from srbench.interfaces import ContextNeed, InferenceSettings, Volume
from srbench.nn.layers import PixelShuffle3d
from srbench.nn.slabs import run_head
from srbench.receptive_field import probe_context
from srbench.tiling import parse_memory_size, plan_tiles, run_tiled


def conv_stack(depth: int, *, channels: int = 4, upsample: bool = True, seed: int = 0) -> nn.Sequential:
    """``depth`` 3³ convs on the LR grid (+ pixel shuffle ×2 and one SR conv): radius
    ``depth`` (+ 1 with the SR conv's one SR voxel rounding up to one LR voxel)."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Conv3d(1, channels, 3, padding=1), nn.LeakyReLU(0.2)]
    for _ in range(depth - 1):
        layers += [nn.Conv3d(channels, channels, 3, padding=1), nn.LeakyReLU(0.2)]
    if upsample:
        layers += [nn.Conv3d(channels, 8, 1), PixelShuffle3d(2), nn.Conv3d(1, 1, 3, padding=1)]
    else:
        layers += [nn.Conv3d(channels, 1, 1)]
    return nn.Sequential(*layers).eval()


class GlobalMean(nn.Module):
    """Adds the volume's mean: every output depends on every input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + x.mean(dim=(2, 3, 4), keepdim=True)


def test_probe_measures_the_receptive_field_of_known_networks():
    assert probe_context(conv_stack(3, upsample=False), out_scale=(1, 1, 1)).radius == (3, 3, 3)
    assert probe_context(conv_stack(5), out_scale=(2, 2, 2)).radius == (6, 6, 6)
    deep = probe_context(conv_stack(20, upsample=False).double(), out_scale=(1, 1, 1))
    assert deep.radius == (20, 20, 20)
    assert deep.effective is not None and all(0 < e <= 20 for e in deep.effective)
    assert probe_context(GlobalMean(), out_scale=(1, 1, 1)).whole_volume
    pooled = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.MaxPool3d(2), nn.Upsample(scale_factor=2, mode="trilinear"),
                           nn.Conv3d(4, 1, 3, padding=1))  # fails on a one-voxel line: probed on a thicker one
    context = probe_context(pooled, out_scale=(1, 1, 1))
    assert not context.whole_volume and all(3 <= r <= 8 for r in context.radius)


def test_plans_respect_the_budget_and_prefer_exact_halos():
    context = ContextNeed(radius=(6, 6, 6), effective=(2, 2, 2))
    shape = (40, 50, 60)
    whole = plan_tiles(shape, context=context, voxel_bytes=100.0, budget=10**9)
    assert whole.tiles == 1 and whole.exact and whole.redundancy == 1.0
    for budget in (40_000_00, 10_000_00, 3_000_00):
        plan = plan_tiles(shape, context=context, voxel_bytes=100.0, budget=budget)
        assert plan.peak_bytes <= budget
        assert plan.computed_voxels == sum(math.prod(b - a for a, b in box) for _, box in plan.boxes())
        covered = torch.zeros(shape, dtype=torch.int64)
        for core, _ in plan.boxes():
            covered[tuple(slice(a, b) for a, b in core)] += 1
        assert bool((covered == 1).all())
    exact = plan_tiles(shape, context=context, voxel_bytes=100.0, budget=10_000_00, max_exact_redundancy=10.0)
    cheap = plan_tiles(shape, context=context, voxel_bytes=100.0, budget=10_000_00, max_exact_redundancy=1.0)
    assert exact.exact and exact.halo == (6, 6, 6)
    assert not cheap.exact and cheap.halo == (2, 2, 2) and cheap.redundancy < exact.redundancy
    assert plan_tiles(shape, context=context, voxel_bytes=100.0, budget=10_000_00, halo=3).halo == (3, 3, 3)
    with pytest.raises(InputError, match="too small"):
        plan_tiles(shape, context=context, voxel_bytes=100.0, budget=50)


def test_stitched_tiles_equal_a_whole_volume_pass_when_the_halo_covers_the_field():
    network = conv_stack(4)
    radius = probe_context(network, out_scale=(2, 2, 2)).radius
    x = torch.rand(1, 1, 14, 17, 23)
    with torch.inference_mode():
        whole = network(x)
        for halo in (radius, (1, 1, 1)):
            context = ContextNeed(radius=radius)
            plan = plan_tiles(x.shape[2:], context=context, voxel_bytes=1.0, budget=2000, halo=halo[0])
            assert plan.tiles > 1
            stitched = run_tiled(x, network, plan=plan, out_scale=(2, 2, 2))
            difference = float((stitched - whole).abs().max())
            if plan.exact:
                assert difference <= 1e-5
            else:  # too little context: the seams are there
                assert difference > 1e-4


def test_the_head_in_slabs_equals_the_head_in_one_piece():
    torch.manual_seed(0)
    head = nn.Sequential(nn.Conv3d(4, 32, 3, padding=1), PixelShuffle3d(2), nn.LeakyReLU(0.2),
                         nn.Conv3d(4, 4, 3, padding=1), nn.Conv3d(4, 1, 3, padding=1)).eval()
    features = torch.rand(1, 4, 9, 10, 40)
    with torch.no_grad():
        sliced = run_head(head, features, scale=(2, 2, 2))
    with torch.enable_grad():
        whole = run_head(head, features, scale=(2, 2, 2)).detach()
    torch.testing.assert_close(sliced, whole, rtol=0, atol=1e-6)


def test_activation_memory_bounds_the_measured_peak_of_a_larger_tile():
    network = conv_stack(3, channels=8)
    voxel_bytes, fixed_bytes = activation_memory(network)
    larger = torch.rand(1, 1, 20, 24, 28)
    assert peak_bytes(network, larger) <= fixed_bytes + voxel_bytes * larger[0, 0].numel()
    assert voxel_bytes >= 8 * 4  # at least one 8-channel float32 activation per voxel


def test_a_convolution_counts_its_output_and_the_larger_of_input_and_output_as_scratch():
    narrow_to_wide, wide_to_narrow = nn.Conv3d(2, 16, 3, padding=1), nn.Conv3d(16, 2, 3, padding=1)
    x2, x16 = torch.rand(1, 2, 6, 7, 8), torch.rand(1, 16, 6, 7, 8)
    voxel = 4 * 6 * 7 * 8
    assert peak_bytes(narrow_to_wide, x2) == 16 * voxel + 16 * voxel
    assert peak_bytes(wide_to_narrow, x16) == 2 * voxel + 16 * voxel


RSS_PROBE = """
import torch
from torch import nn
from srbench.activation_memory import activation_memory

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

torch.set_num_threads(1)
torch.manual_seed(0)
net = nn.Sequential(nn.Conv3d(1, 48, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv3d(48, 48, 3, padding=1),
                    nn.LeakyReLU(0.2), nn.Conv3d(48, 1, 3, padding=1)).eval()
voxel_bytes, fixed_bytes = activation_memory(net)
x = torch.rand(1, 1, 64, 64, 64)
with torch.inference_mode():
    net(x[..., :8])
    base = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    y = net(x)
    print(status("VmHWM") - base, fixed_bytes + voxel_bytes * x.numel())
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's resettable peak RSS")
def test_activation_memory_covers_the_resident_memory_a_convolution_network_adds():
    """In a fresh process, the peak RSS growth of a 48-channel network on 64³ voxels
    stays within 10 % of the estimate (allocator noise); without the convolutions'
    scratch the growth is 1.3–1.5× the estimate."""
    result = subprocess.run([sys.executable, "-c", RSS_PROBE], capture_output=True, text=True, check=True)
    grown, estimate = (float(v) for v in result.stdout.split())
    assert grown <= 1.1 * estimate, (grown, estimate)


def test_network_predictor_plans_exact_tiles_and_keeps_the_fixed_scheme():
    predictor = NetworkPredictor(conv_stack(3), native_scale=(2, 2, 2))
    assert predictor.context_need().radius == (4, 4, 4)
    lr = Volume(data=torch.rand(12, 13, 30) * 500, affine=np.eye(4))
    whole = predictor.predict(lr, scale=(2, 2, 2), settings=InferenceSettings()).data
    plan = predictor.inference_plan(lr.shape, scale=(2, 2, 2), settings=InferenceSettings())
    assert plan is not None and plan.tiles == 1 and plan.exact
    budget = int(0.7 * plan.peak_bytes)
    tiled_settings = InferenceSettings(memory_budget=budget, halo=4)
    tiled_plan = predictor.inference_plan(lr.shape, scale=(2, 2, 2), settings=tiled_settings)
    assert tiled_plan.tiles > 1 and tiled_plan.exact and tiled_plan.peak_bytes <= budget
    tiled = predictor.predict(lr, scale=(2, 2, 2), settings=tiled_settings).data
    assert float((tiled - whole).abs().max()) <= 1e-5 * float(whole.max() - whole.min())
    fixed = InferenceSettings(patch_size=8, overlap=2)
    assert predictor.inference_plan(lr.shape, scale=(2, 2, 2), settings=fixed) is None
    assert predictor.predict(lr, scale=(2, 2, 2), settings=fixed).shape == (24, 26, 60)


@pytest.mark.parametrize(
    ("text", "size"), [("2GiB", 2 * 1024**3), ("1500MB", 1_500_000_000), ("800m", 800_000_000), ("1.5 GiB", 3 * 1024**3 // 2), (4_000_000, 4_000_000)]
)
def test_memory_sizes_parse(text, size):
    assert parse_memory_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "2 parsecs", "-1GiB", "12", "nanGB"])
def test_bad_memory_sizes_are_refused(text):
    with pytest.raises(InputError, match="memory size"):
        parse_memory_size(text)


def test_plans_are_stored_exported_merged_and_shown_on_the_board(tmp_path):
    from srbench.leaderboard.inference import describe_inference
    from srbench.results.export import store_from_records, export_records
    from srbench.results.merge import merge
    from srbench.results.store import ResultsStore, RunRecord

    plan = plan_tiles((40, 50, 60), context=ContextNeed(radius=(6, 6, 6), effective=(2, 2, 2)), voxel_bytes=100.0,
                      budget=10_000_00, max_exact_redundancy=1.0)
    paths = []
    for index, record in enumerate((plan.record(), {**plan.record(), "halo": [3, 3, 3]})):
        store = ResultsStore(tmp_path / f"s{index}.sqlite")
        key = store.register_run(RunRecord.create(method="m", degradation="d", intensity_convention="c", scale=(2, 2, 2),
                                                  config={}, checkpoint=None, plugin_versions={}))
        store.add_subject(key, track="t", subject="a", values={"psnr": 30.0}, inputs={}, plan=record)
        paths.append(store.path)
    stored = ResultsStore(paths[0]).inference_plans()
    assert list(stored.values()) == [json_ready(plan.record())]
    copy = store_from_records(export_records(ResultsStore(paths[0])), tmp_path / "copy.sqlite")
    assert ResultsStore(copy).inference_plans() == stored
    report = merge(paths, tmp_path / "merged.sqlite")
    assert any("inference plan" in note and "kept the first" in note for note in report.notes)
    text = describe_inference(None, list(stored.values()))
    assert "halo 2 LR voxels (receptive field 6)" in text and "approximate" in text
    assert describe_inference({"patch_size": 32, "overlap": 8, "blend": "hann"}, []) == "fixed 32³ LR patches, overlap 8, hann blending"


def json_ready(record):
    import json

    return json.loads(json.dumps(record))


def test_command_line_inference_settings():
    import click

    from srbench.cli.inference_options import inference_settings

    planned = inference_settings(patch_size=None, overlap=None, batch_size=4, device="cpu", memory_budget="1GiB", halo=3,
                                 precision="bf16")
    assert (planned.memory_budget, planned.halo, planned.precision, planned.fixed_patches) == (1024**3, 3, "bfloat16", False)
    fixed = inference_settings(patch_size=16, overlap=None, batch_size=2, device="cpu")
    assert fixed.fixed_patches and fixed.patch_geometry() == (16, 8) and fixed.precision == "float32"
    with pytest.raises(click.BadParameter, match="exclude each other"):
        inference_settings(patch_size=16, overlap=None, batch_size=2, device="cpu", halo=2)
    with pytest.raises(click.BadParameter, match="memory size"):
        inference_settings(patch_size=None, overlap=None, batch_size=2, device="cpu", memory_budget="lots")


@pytest.mark.parametrize("hardware", [True, False])
def test_bf16_on_a_cpu_without_bf16_instructions_warns(monkeypatch, capsys, hardware):
    from srbench.cli.inference_options import inference_settings

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: hardware)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    settings = inference_settings(patch_size=None, overlap=None, batch_size=4, device="cpu", precision="bf16")
    assert settings.precision == "bfloat16"
    warned = capsys.readouterr().err
    assert ("neither AVX-512 BF16 nor AMX" in warned) is not hardware
    inference_settings(patch_size=None, overlap=None, batch_size=4, device="cpu")
    assert capsys.readouterr().err == ""


class _InPlaceNet(nn.Module):
    """Changes its input in place (the receptive-field probe cannot differentiate through it)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(1, 8, 3, padding=1)
        self.shuffle = PixelShuffle3d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.mul_(1.0)
        return self.shuffle(self.conv(x))


def test_a_failed_receptive_field_probe_is_said_on_stderr_in_the_plan_and_on_the_board(capsys):
    from srbench.leaderboard.inference import describe_inference

    predictor = NetworkPredictor(_InPlaceNet(), native_scale=(2, 2, 2), device="cpu")
    need = predictor.context_need()
    assert need.whole_volume and need.unmeasured
    assert "could not be measured" in capsys.readouterr().err
    plan = predictor.inference_plan((12, 12, 12), scale=(2, 2, 2), settings=InferenceSettings())
    assert "not measured" in plan.describe() and plan.record()["receptive_field"]["unmeasured"]
    assert "receptive field not measured" in describe_inference(None, [plan.record()])


class StridedUNet(nn.Module):
    """A small 3D U-Net with two stride-2 stages (total stride 4) and a ×2 sub-pixel head;
    it pads its input to a multiple of 4 itself, as third-party U-Nets do."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv3d(1, 4, 3, padding=1)
        self.down1 = nn.Conv3d(4, 4, 3, stride=2, padding=1)
        self.down2 = nn.Conv3d(4, 4, 3, stride=2, padding=1)
        self.up = nn.Upsample(scale_factor=4, mode="nearest")
        self.fuse = nn.Conv3d(8, 8, 3, padding=1)
        self.shuffle = PixelShuffle3d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, h, d = x.shape[2:]
        padded = nn.functional.pad(x, (0, -d % 4, 0, -h % 4, 0, -w % 4))
        skip = torch.relu(self.stem(padded))
        deep = self.up(torch.relu(self.down2(torch.relu(self.down1(skip)))))
        out = self.shuffle(self.fuse(torch.cat([skip, deep], dim=1)))
        return out[:, :, : 2 * w, : 2 * h, : 2 * d]


def test_a_strided_network_is_probed_for_its_alignment_and_tiled_exactly():
    """Tiles of a stride-4 U-Net that start anywhere differ from its whole-volume pass; the
    probe measures the stride and the planner starts every tile on a multiple of it, so a
    plan labelled exact is exact."""
    network = StridedUNet().eval()
    context = probe_context(network, out_scale=(2, 2, 2))
    assert context.alignment == (4, 4, 4) and not context.whole_volume
    assert context.record()["alignment"] == [4, 4, 4]
    lr = Volume(torch.rand(38, 30, 26, generator=torch.Generator().manual_seed(1)), np.eye(4), "random")
    predictor = NetworkPredictor(network, native_scale=(2, 2, 2))
    whole = predictor.predict(lr, scale=(2, 2, 2), settings=InferenceSettings(memory_budget=1 << 34))
    small = InferenceSettings(memory_budget=4 << 20, halo=8)
    plan = predictor.inference_plan(lr.shape, scale=(2, 2, 2), settings=small)
    assert plan.tiles > 1 and plan.exact
    assert all(start % 4 == 0 for _, box in plan.boxes() for start, _ in box)
    tiled = predictor.predict(lr, scale=(2, 2, 2), settings=small)
    assert float((tiled.data - whole.data).abs().max()) < 1e-5
    # the same plan without alignment (as before): tiles start off the stride and differ
    from dataclasses import replace

    from srbench.tiling import run_tiled as run

    unaligned = replace(plan, context=replace(plan.context, alignment=(1, 1, 1)))
    assert any(start % 4 for _, box in unaligned.boxes() for start, _ in box)
    with torch.no_grad():
        off = run(lr.data[None, None], network, plan=unaligned, out_scale=(2, 2, 2))[0, 0]
        direct = network(lr.data[None, None])[0, 0]
    assert float((off - direct).abs().max()) > 1e-3
