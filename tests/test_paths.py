"""The safe-path layer (srbench.io.paths) and the harness's checks on what a model returns."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from srbench import grid
from srbench.errors import InputError, PluginError
from srbench.interfaces import InferenceSettings, Volume
from srbench.io.paths import (
    check_creatable_dir,
    check_name,
    check_output_file,
    is_safe_name,
    path_component,
    regular_file,
    same_file,
)
from srbench.models import predict_checked
from srbench.cli.runner import run_cli


@pytest.mark.parametrize("name", ["insample", "paper-knee", "sub-01_ses-a", "v1.2", "a+b"])
def test_safe_names_pass_unchanged(name):
    assert is_safe_name(name)
    assert check_name(name, kind="track") == name
    assert path_component(name) == name


@pytest.mark.parametrize(
    "name", ["../../../escaped", "/abs", "..", ".", "", "a/b", "a\nb", "-x", ".hidden", "a..b", "x" * 200, "é"]
)
def test_unsafe_names_are_refused_or_encoded(name, tmp_path):
    assert not is_safe_name(name)
    with pytest.raises(InputError) as info:
        check_name(name, kind="track", source=tmp_path / "datasets.toml")
    assert "\n" not in str(info.value)
    component = path_component(name)
    assert "/" not in component and component not in ("", ".", "..") and component.isprintable()
    target = (tmp_path / component).resolve()
    assert target.parent == tmp_path.resolve()


def test_path_component_is_injective():
    names = ["a/b", "a%2Fb", "a b", "a_b", "..", "%2E%2E", "x.y", "x%2Ey"]
    encoded = [path_component(n) for n in names]
    assert len(set(encoded)) == len(names)


def test_output_aliasing_an_input_is_refused(tmp_path):
    source = tmp_path / "in.nii.gz"
    source.write_bytes(b"data")
    (tmp_path / "sub").mkdir()
    os.symlink(source, tmp_path / "link.nii.gz")
    os.link(source, tmp_path / "hard.nii.gz")
    for alias in (source, tmp_path / "sub" / ".." / "in.nii.gz", tmp_path / "link.nii.gz", tmp_path / "hard.nii.gz"):
        assert same_file(alias, source)
        with pytest.raises(InputError, match="same file as the input"):
            check_output_file(alias, inputs=[source])
    assert check_output_file(tmp_path / "out.nii.gz", inputs=[source]) == tmp_path / "out.nii.gz"


def test_output_folder_problems_are_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(InputError, match="does not exist"):
        check_output_file(tmp_path / "missing" / "out.nii.gz")
    with pytest.raises(InputError, match="not a directory"):
        check_output_file(afile / "out.nii.gz")
    with pytest.raises(InputError, match="expected a file name to write"):
        check_output_file(tmp_path)
    with pytest.raises(InputError, match="a parent is a file"):
        check_creatable_dir(afile / "deeper" / "run")
    assert check_creatable_dir(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert not (tmp_path / "new").exists()


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "volume.nii.gz"
    os.mkfifo(fifo)
    outcome = {}

    def probe():
        try:
            regular_file(fifo, what="NIfTI volume")
        except InputError as exc:
            outcome["message"] = str(exc)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "regular_file blocked on a FIFO"
    assert "FIFO" in outcome["message"]
    with pytest.raises(InputError, match="a directory"):
        regular_file(tmp_path, what="checkpoint")
    with pytest.raises(InputError, match="character device"):
        regular_file("/dev/zero", what="checkpoint")
    with pytest.raises(InputError, match="not found"):
        regular_file(tmp_path / "nope", what="checkpoint")


class _Shifted:
    """A predictor that returns the right voxels on a grid shifted by ``shift`` mm, or NaNs."""

    def __init__(self, *, shift: float = 0.0, nan: bool = False, shape_delta: int = 0):
        self.shift, self.nan, self.shape_delta = shift, nan, shape_delta

    def predict(self, lr, *, scale, settings):
        shape = grid.sr_shape(lr.shape, scale)
        shape = (shape[0] + self.shape_delta, shape[1], shape[2])
        data = torch.full(shape, float("nan") if self.nan else 1.0)
        affine = grid.sr_affine(lr.affine, scale).copy()
        affine[0, 3] += self.shift
        return Volume(data=data, affine=affine)


@pytest.mark.parametrize(
    ("predictor", "error", "message"),
    [
        (_Shifted(shift=0.5), PluginError, "off the SR grid"),
        (_Shifted(shape_delta=1), PluginError, "output shape"),
        (_Shifted(nan=True), InputError, "NaN or infinite"),
    ],
)
def test_the_harness_owns_the_output_grid(predictor, error, message, tmp_path):
    lr = Volume(data=torch.rand(6, 5, 4), affine=np.diag([2.0, 2.0, 2.0, 1.0]))
    with pytest.raises(error, match=message) as info:
        predict_checked(
            predictor, lr, scale=(2.0, 2.0, 2.0), settings=InferenceSettings(), method="mymethod",
            checkpoint=tmp_path / "w.safetensors", subject="sub-01",
        )
    text = str(info.value)
    assert "mymethod" in text and "w.safetensors" in text and "sub-01" in text
    good = predict_checked(
        _Shifted(), lr, scale=(2.0, 2.0, 2.0), settings=InferenceSettings(), method="m", checkpoint=None, subject="s"
    )
    assert good.shape == (12, 10, 8)


def test_options_that_cannot_apply_are_refused(tmp_path):
    """--patch-size for trilinear (no patches) and --seed for a degradation without noise: exit 2, one line."""
    import nibabel as nib

    lr = tmp_path / "lr.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((8, 8, 6)).astype(np.float32), np.eye(4)), lr)
    for argv in (
        ["predict", "trilinear", "--input", str(lr), "--output", str(tmp_path / "sr.nii.gz"), "--patch-size", "16"],
        ["degrade", "--input", str(lr), "--output", str(tmp_path / "lr2.nii.gz"), "--seed", "3"],
    ):
        result = run_cli(*argv, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error:"), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr.nii.gz"]
