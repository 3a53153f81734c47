"""Per-axis scales take one harness-owned path per method (:mod:`srbench.scale_path`).

On a track such as the knee's ``[2, 2, 1]`` a method runs natively only when its predictor
declares that scale (``native_scales``); otherwise the harness runs it at ×2 isotropic and
averages the two sub-voxel phases along the slice axis. Every stored row records which,
and the board's Inference section states it from the stored record alone (an export,
no plugins).
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import pytest
import torch

from srbench.errors import PluginError
from srbench.inference import NetworkPredictor, average_phases, predict_on_path
from srbench.interfaces import InferenceSettings, Volume
from srbench.leaderboard.inference import describe_inference
from srbench.models import predict_checked
from srbench.scale_path import ADAPTER, ANY_SCALE, NATIVE, RECORD_KEY, adapter_for, choose_path, declares_native, plan_record
from srbench.testing.synthetic import lr_volume, oblique_affine, smooth_volume

KNEE_SCALE = (2.0, 2.0, 1.0)
SETTINGS = InferenceSettings()


class Recording:
    """A predictor that remembers the scales ``predict`` was called with (trilinear inside)."""

    def __init__(self, native_scales=None) -> None:
        if native_scales is not None:
            self.native_scales = native_scales
        self.calls: list[tuple[float, ...]] = []

    def predict(self, lr: Volume, *, scale, settings) -> Volume:
        from srbench.builtins.trilinear import TrilinearPredictor

        self.calls.append(tuple(float(s) for s in scale))
        return TrilinearPredictor().predict(lr, scale=scale, settings=settings)


def test_the_adapter_is_the_default_and_a_declaration_picks_the_native_path():
    assert adapter_for(KNEE_SCALE) == ((2.0, 2.0, 2.0), ((2, 2),))
    assert adapter_for((4, 4, 2)) == ((4.0, 4.0, 4.0), ((2, 2),))
    assert adapter_for((2, 2, 2)) is None and adapter_for((2.5, 2.5, 1.25)) is None and adapter_for((3, 3, 2)) is None
    undeclared = choose_path(Recording(), KNEE_SCALE)
    assert (undeclared.kind, undeclared.predict_scale, undeclared.declared) == (ADAPTER, (2.0, 2.0, 2.0), False)
    assert choose_path(Recording(native_scales=()), KNEE_SCALE).kind == ADAPTER
    assert choose_path(Recording(native_scales=[(2, 2, 2)]), KNEE_SCALE).kind == ADAPTER
    for declared in ([(2, 2, 1)], ANY_SCALE):
        path = choose_path(Recording(native_scales=declared), KNEE_SCALE)
        assert (path.kind, path.predict_scale, path.declared) == (NATIVE, KNEE_SCALE, True)
    # an isotropic scale is always passed as it is, and has no path to record
    iso = choose_path(Recording(), (2, 2, 2))
    assert iso.kind == NATIVE and not iso.per_axis and plan_record(None, iso) is None
    assert plan_record({"tiles": 1}, undeclared) == {"tiles": 1, RECORD_KEY: undeclared.record()}


@pytest.mark.parametrize("declared", ["all", [(2, 2)], 3, [("a", 2, 1)]])
def test_a_malformed_declaration_is_a_plugin_error(declared):
    with pytest.raises(PluginError, match="native_scales"):
        declares_native(Recording(native_scales=declared), KNEE_SCALE)


def test_predict_checked_runs_the_adapter_for_an_undeclared_predictor_and_the_native_scale_otherwise():
    lr = lr_volume((6, 5, 7))
    undeclared, declared = Recording(), Recording(native_scales=[KNEE_SCALE])
    kwargs = {"settings": SETTINGS, "method": "m", "checkpoint": None, "subject": "s"}
    adapted = predict_checked(undeclared, lr, scale=KNEE_SCALE, **kwargs)
    native = predict_checked(declared, lr, scale=KNEE_SCALE, **kwargs)
    assert undeclared.calls == [(2.0, 2.0, 2.0)] and declared.calls == [KNEE_SCALE]
    for sr in (adapted, native):
        assert sr.shape == (12, 10, 7)
        torch.testing.assert_close(torch.as_tensor(sr.affine), torch.as_tensor(native.affine), rtol=0, atol=1e-9)
    x2 = Recording().predict(lr, scale=(2, 2, 2), settings=SETTINGS).data
    assert torch.equal(adapted.data, average_phases(x2, axes=(2,)))
    assert not torch.equal(adapted.data, native.data)  # the two paths really differ


def test_a_network_predictor_called_directly_at_221_is_the_harness_adapter():
    network = torch.nn.Upsample(scale_factor=2, mode="trilinear", align_corners=False)
    predictor = NetworkPredictor(network, native_scale=(2, 2, 2))
    assert choose_path(predictor, KNEE_SCALE).kind == ADAPTER
    lr = lr_volume((8, 8, 6))
    direct = predictor.predict(lr, scale=KNEE_SCALE, settings=SETTINGS)
    assert torch.equal(direct.data, predict_on_path(predictor, lr, scale=KNEE_SCALE, settings=SETTINGS).data)
    assert predictor.supports(KNEE_SCALE) and predictor.supports((2, 1, 1)) and not predictor.supports((3, 3, 1))
    # a network trained at (2, 2, 1) declares it, and runs natively there
    assert choose_path(NetworkPredictor(network, native_scale=(2, 2, 1)), KNEE_SCALE).kind == NATIVE


def test_the_board_states_the_path_and_says_when_it_was_not_recorded():
    tiles = {"tiles": 1, "halo": [0, 0, 0], "receptive_field": {"radius": [1, 1, 1]}, "redundancy": 1.0, "exact": True}
    adapter = plan_record(tiles, choose_path(Recording(), KNEE_SCALE))
    native = plan_record(None, choose_path(Recording(native_scales=ANY_SCALE), KNEE_SCALE))
    text = describe_inference(None, [adapter], per_axis=True)
    assert text.startswith("harness adapter for scale 2×2×1: predicted at ×2 isotropic, then the 2 sub-voxel phases "
                           "averaged along axis 2; the whole volume in one pass")
    assert describe_inference(None, [native], per_axis=True).startswith(
        "native per-axis scale 2×2×1 (declared by the method's native_scales); the method's own inference")
    assert "scale path not recorded" in describe_inference(None, [tiles], per_axis=True)
    assert "scale path not recorded" in describe_inference(None, [], per_axis=True)
    assert describe_inference(None, [tiles]) == "the whole volume in one pass (receptive field 1 LR voxels; exact)"


# -- every registered model on a [2, 2, 1] track, end to end ---------------------------------
KNEE_TRACK = """
[datasets.knee]
paths = ["data/knee.nii.gz"]
contrast = "PD"
anatomy = "knee"

[tracks.knee]
kind = "ood"
test = "knee"
scale = [2, 2, 1]
"""


@pytest.fixture(scope="module")
def knee_store(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Every registered model evaluated on a small [2, 2, 1] track (the shipped weights of
    learned methods); returns the store and method → the path its declaration implies."""
    from srbench.api import evaluate
    from srbench.models import load_predictor
    from srbench.plugins import get_plugin_manager
    from srbench.weights import find_shipped

    root = tmp_path_factory.mktemp("knee")
    (root / "data").mkdir()
    volume = smooth_volume((24, 24, 12), seed=4).numpy()
    nib.save(nib.Nifti1Image(volume, oblique_affine((0.625, 0.625, 4.0))), str(root / "data" / "knee.nii.gz"))
    (root / "datasets.toml").write_text(KNEE_TRACK)
    pm = get_plugin_manager()
    expected = {}
    for name in pm.names("model"):
        model = pm.get("model", name)
        weights = None
        if model.needs_checkpoint:
            shipped = find_shipped(pm, name, track="insample")
            assert shipped is not None, f"model '{name}' ships no weights to evaluate it with"
            weights = shipped.path
        predictor = load_predictor(model, checkpoint=weights, device="cpu")
        expected[name] = NATIVE if declares_native(predictor, KNEE_SCALE) else ADAPTER
        rows = evaluate("knee", methods=[name], checkpoint=weights, results=root / "results.sqlite",
                        config=root / "datasets.toml", runs_root=root / "runs", metrics=["psnr"], pm=pm)
        assert list(rows["status"]) == ["ok"], (name, rows)
    return root / "results.sqlite", expected


def test_every_model_takes_the_path_its_declaration_says_and_the_row_records_it(knee_store):
    from srbench.results.store import ResultsStore

    path, expected = knee_store
    store = ResultsStore(path)
    methods = {key: method for key, method in zip(store.runs()["run_key"], store.runs()["method"], strict=True)}
    recorded = {methods[key]: plan[RECORD_KEY] for (key, track, _), plan in store.inference_plans().items() if track == "knee"}
    assert set(recorded) == set(expected) >= {"trilinear", "arssr"}
    for method, record in recorded.items():
        assert record["kind"] == expected[method], method
        assert record["scale"] == list(KNEE_SCALE)
        assert record["predict_scale"] == ([2.0, 2.0, 2.0] if expected[method] == ADAPTER else list(KNEE_SCALE))
    # ArSSR can query any scale but declares none native (isotropic training): the adapter
    assert recorded["arssr"] == {"kind": ADAPTER, "scale": [2.0, 2.0, 1.0], "predict_scale": [2.0, 2.0, 2.0],
                                 "phase_average": [[2, 2]], "declared": False}
    assert recorded["trilinear"]["kind"] == NATIVE and recorded["trilinear"]["declared"]


def test_the_board_rendered_from_an_export_states_every_rows_path(knee_store, tmp_path):
    from srbench.leaderboard.board import build_boards
    from srbench.leaderboard.markdown import render_track
    from srbench.results.export import read_export, store_from_records, write_export
    from srbench.results.store import ResultsStore

    path, expected = knee_store
    export = tmp_path / "results.jsonl"
    write_export(ResultsStore(path), export)
    alone = ResultsStore(store_from_records(read_export(export), tmp_path / "imported.sqlite"))
    (board,) = build_boards(alone, pm=None)  # no plugin: the store alone
    text = render_track(board, today="2026-12-01", srbench_version="0")
    section = text.split("## Inference", 1)[1].split("\n## ", 1)[0]
    # a row is labelled "method" or "method (row label)" (TrainingConfig.row_label)
    lines = {line.split("**")[1].split(" (")[0]: line for line in section.splitlines() if line.startswith("- **")}
    assert set(lines) == set(expected)
    for method, line in lines.items():
        wanted = ("harness adapter for scale 2×2×1: predicted at ×2 isotropic, then the 2 sub-voxel phases averaged along axis 2"
                  if expected[method] == ADAPTER else "native per-axis scale 2×2×1 (declared by the method's native_scales)")
        assert wanted in line, line


def test_srbench_predict_takes_the_same_path_and_says_which(tmp_path):
    from srbench.plugins import get_plugin_manager
    from srbench.cli.runner import run_cli
    from srbench.weights import find_shipped

    lr = tmp_path / "lr.nii.gz"
    nib.save(nib.Nifti1Image(smooth_volume((10, 9, 6), seed=5).numpy(), oblique_affine((1.25, 1.25, 4.0))), str(lr))
    weights = find_shipped(get_plugin_manager(), "arssr", track="insample")
    assert weights is not None
    result = run_cli("predict", "arssr", "--checkpoint", str(weights.path), "--scale", "2,2,1", "--input", str(lr),
                     "--output", str(tmp_path / "sr.nii.gz"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("scale path: harness adapter for scale 2×2×1: predicted at ×2 isotropic, then the 2 sub-voxel phases "
            "averaged along axis 2") in result.stderr
    assert nib.load(str(tmp_path / "sr.nii.gz")).shape == (20, 18, 6)
