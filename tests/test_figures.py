"""Qualitative figures: layout, pixel size, panel count, inputs, and the leaderboard link."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from srbench.errors import InputError
from srbench.figures import (
    bias_label,
    draw_comparison,
    figure_for_track,
    figure_layout,
    figure_size_px,
)
from srbench.interfaces import Volume
from srbench.io.hashing import sha256_file
from srbench.io.nifti import save_volume
from srbench.leaderboard.markdown import write_leaderboards
from srbench.predictions import prediction_path, reference_path
from srbench.plugins import get_plugin_manager
from srbench.results.store import ResultsStore, RunRecord, TrackRecord

PM = get_plugin_manager()


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def phantom(shape=(20, 24, 16), spacing=(1.0, 1.0, 1.0), seed=0) -> Volume:
    """A bright ellipsoid with texture on a dark background."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    inside = sum(g**2 for g in grids) < 0.6
    data = np.where(inside, 100.0 + 20.0 * np.sin(6 * grids[0]) * np.cos(4 * grids[1]), 5.0)
    data = data + rng.normal(0, 1, shape)
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = [-10.0, 5.0, 2.0]
    return Volume(torch.from_numpy(data.astype(np.float32)), affine, "phantom")


def noisy(volume: Volume, sigma: float, seed: int, shape=None) -> Volume:
    data = volume.data + torch.from_numpy(np.random.default_rng(seed).normal(0, sigma, volume.shape).astype(np.float32))
    if shape is not None:
        data = data[: shape[0], : shape[1], : shape[2]]
    return volume.with_data(data.contiguous())


def test_layout_and_size():
    assert figure_layout(1) == (3, 3)
    assert figure_layout(5) == (11, 3)
    assert figure_size_px(2) == (760, 980)
    with pytest.raises(ValueError):
        figure_layout(0)


def test_png_size_panels_and_determinism(tmp_path):
    hr = phantom()
    predictions = {"dcsrn": noisy(hr, 2.0, 1), "trilinear": noisy(hr, 6.0, 2), "trigan": noisy(hr, 4.0, 3)}
    result = draw_comparison(hr, predictions, tmp_path / "a.png", title="t")
    rows, cols = figure_layout(3)
    assert (result.rows, result.cols) == (rows, cols) == (7, 3)
    assert result.panels == rows * cols == 21
    assert result.axes == result.panels + 2  # two colour bars: intensity and absolute error
    assert result.methods == ("trilinear", "dcsrn", "trigan")  # trilinear first, then as given
    assert png_size(tmp_path / "a.png") == result.size_px == figure_size_px(3)
    again = draw_comparison(hr, predictions, tmp_path / "b.png", title="t")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]
    assert again.size_px == result.size_px


def test_anisotropic_and_cropped_odd_sizes(tmp_path):
    hr = phantom(shape=(25, 24, 9), spacing=(0.625, 0.625, 4.0))
    cropped = noisy(hr, 3.0, 0, shape=(24, 24, 9))  # odd size cropped by the degradation
    result = draw_comparison(hr, {"trilinear": cropped}, tmp_path / "k.png")
    assert png_size(tmp_path / "k.png") == figure_size_px(1)
    with pytest.raises(InputError, match="shape"):
        draw_comparison(hr, {"trilinear": noisy(hr, 1.0, 0, shape=(12, 24, 9))}, tmp_path / "bad.png")
    with pytest.raises(InputError):
        draw_comparison(hr, {}, tmp_path / "none.png")
    assert result.panels == 9


def _store(tmp_path: Path) -> ResultsStore:
    store = ResultsStore(tmp_path / "results.sqlite")
    store.register_track(TrackRecord("insample", "insample", "demo"))
    for method, psnr in (("trilinear", 30.0), ("dcsrn", 33.0)):
        key = store.register_run(RunRecord(method=method, degradation="paper-linear",
                                           intensity_convention="hr-minmax-01", scale=(2, 2, 2), config={}))
        store.add_subject(key, "insample", "s1", {"psnr": psnr}, {str(tmp_path / "s1.nii.gz"): "0" * 64})
    key = store.register_run(RunRecord(method="arssr", degradation="paper-linear",
                                       intensity_convention="hr-minmax-01", scale=(2, 2, 2), config={}))
    store.mark_not_applicable(key, "arssr", "insample", "no")
    return store


def test_leaderboard_figures(tmp_path):
    store = _store(tmp_path)
    root = tmp_path / "predictions"
    hr = phantom()
    for subject in ("s1", "s2"):
        reference = reference_path(root, track="insample", subject=subject)
        reference.parent.mkdir(parents=True)
        save_volume(hr, reference)
    save_volume(noisy(hr, 5.0, 0), prediction_path(root, track="insample", method="trilinear", subject="s1"))
    save_volume(noisy(hr, 2.0, 1), prediction_path(root, track="insample", method="dcsrn", subject="s1"))
    save_volume(noisy(hr, 2.0, 1), prediction_path(root, track="insample", method="dcsrn", subject="s2"))
    save_volume(noisy(hr, 2.0, 1), prediction_path(root, track="insample", method="arssr", subject="s1"))
    files = write_leaderboards(store, tmp_path / "boards", figures=True, predictions_dir=root, today="2025-01-01", pm=PM)
    figure = tmp_path / "boards" / "figures" / "insample.png"
    assert files.figures == {"insample": figure}
    # s1 has trilinear; rows: ground truth, dcsrn, trilinear and their error maps (arssr is not applicable)
    assert png_size(figure) == figure_size_px(2)
    assert "![insample: ground truth, trilinear and each method, with error maps](figures/insample.png)" in (
        files.tracks["insample"].read_text()
    )


def test_figure_inputs_and_reasons(tmp_path):
    store = _store(tmp_path)
    root = tmp_path / "predictions"
    assert "no saved predictions" in figure_for_track(store, "insample", predictions_dir=root, out_path=tmp_path / "f.png")
    hr = phantom()
    path = prediction_path(root, track="insample", method="trilinear", subject="s1")
    path.parent.mkdir(parents=True)
    save_volume(noisy(hr, 5.0, 0), path)
    # no saved reference: the input recorded in the store is used, but only with a matching sha256
    save_volume(hr, tmp_path / "s1.nii.gz")
    reason = figure_for_track(store, "insample", predictions_dir=root, out_path=tmp_path / "f.png")
    assert isinstance(reason, str) and "changed since it was evaluated" in reason
    other = ResultsStore(tmp_path / "other.sqlite")
    key = other.register_run(RunRecord(method="trilinear", degradation="paper-linear",
                                       intensity_convention="hr-minmax-01", scale=(2, 2, 2), config={}))
    other.add_subject(key, "insample", "s1", {"psnr": 1.0}, {str(tmp_path / "s1.nii.gz"): sha256_file(tmp_path / "s1.nii.gz")})
    result = figure_for_track(other, "insample", predictions_dir=root, out_path=tmp_path / "f.png")
    assert not isinstance(result, str)
    assert result.subject == "s1" and result.methods == ("trilinear",)
    assert png_size(tmp_path / "f.png") == figure_size_px(1)
    files = write_leaderboards(store, tmp_path / "boards", figures=True, predictions_dir=tmp_path / "nowhere",
                               today="2025-01-01", pm=PM)
    assert files.figures == {} and any("no saved predictions" in note for note in files.notes)
    assert "## Figure" not in files.tracks["insample"].read_text()


def test_each_method_row_states_its_bias(tmp_path):
    from srbench.data.foreground import foreground_bias
    from srbench.metrics.convention import scale_pair

    hr = phantom()
    brighter = hr.with_data(hr.data + 5.0)
    result = draw_comparison(hr, {"trilinear": noisy(hr, 2.0, 1), "bright": brighter}, tmp_path / "f.png")
    sr01, hr01 = scale_pair(brighter.data, hr.data)
    assert result.biases["bright"] == foreground_bias(sr01, hr01)  # the store's bias column of that subject
    assert 0.03 < result.biases["bright"] < 5.0 / 110.0  # +5 on a range of about 120, less where clipped
    assert abs(result.biases["trilinear"]) < 0.005
    assert bias_label(0.0421) == "bias +4.21 %" and bias_label(-0.005) == "bias -0.50 %"
