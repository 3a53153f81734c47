"""Generate the corpus of bad (and borderline valid) inputs used by ``tests/test_bad_inputs.py``.

Nothing in the corpus is a hand-edited binary: every file is written by :func:`generate`
from seeded arrays, so the corpus can be rebuilt at any time::

    python tests/data/make_bad_inputs.py            # writes tests/data/bad/
    python tests/data/make_bad_inputs.py --out DIR  # writes DIR/

The test suite calls :func:`generate` into a temporary directory at session start, so the
repository holds only this script. :data:`FILES` documents what is wrong with each file;
``tests/test_bad_inputs.py`` says which command each one is fed to and what must happen.

Volumes are tiny (at most 16 voxels per axis) so that the whole corpus runs in seconds.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path

import numpy as np

#: file name → what is wrong with it (or why it is a valid borderline input)
FILES: dict[str, str] = {
    # valid inputs the corpus derives its bad ones from
    "good_hr.nii.gz": "valid HR volume 16x16x12, 1 mm, oblique affine",
    "good_lr.nii.gz": "valid LR volume 8x8x6, 2 mm",
    "good_int16.nii.gz": "valid LR volume stored as int16",
    "good_flipped.nii.gz": "valid LR volume with a flipped, oblique, anisotropic affine",
    "good_4d_singleton.nii.gz": "valid LR volume stored as 4D with a last dimension of 1",
    # NIfTI files that must be refused
    "truncated.nii.gz": "gzip stream cut in the middle of the voxel data",
    "truncated_header.nii": "uncompressed file shorter than the 348-byte NIfTI-1 header",
    "truncated_data.nii": "uncompressed file with a complete header but half of its voxels",
    "wrong_magic.nii": "NIfTI-1 header whose magic string is 'xyz' instead of 'n+1'",
    "wrong_magic.nii.gz": "gzip-compressed NIfTI-1 header whose magic string is 'xyz'",
    "not_nifti.nii": "a text file with a .nii name",
    "not_nifti.nii.gz": "a gzip-compressed text file with a .nii.gz name",
    "image_2d.nii.gz": "2D image 8x8",
    "image_4d.nii.gz": "4D image 8x8x6x3 (a time series)",
    "zero_dim.nii.gz": "3D image with a zero-sized dimension (8x0x6)",
    "nan_voxels.nii.gz": "3 NaN voxels in an otherwise valid volume",
    "inf_voxels.nii.gz": "+inf and -inf voxels in an otherwise valid volume",
    "singular_affine.nii.gz": "sform with a zero column (degenerate axis), qform unset",
    "nonfinite_affine.nii.gz": "sform with an infinite voxel size, qform unset",
    "nan_affine.nii.gz": "sform with a NaN origin, qform unset",
    "complex64.nii.gz": "complex64 voxels",
    "rgb24.nii.gz": "RGB24 voxels (a colour image)",
    "unreadable.nii.gz": "valid volume with permissions 000 (only refused when not running as root)",
    "directory.nii.gz": "a directory with a NIfTI name",
    "one_slice_hr.nii.gz": "HR volume 8x8x1: nothing is left along the last axis after the x2 crop",
    "not_nifti_name.txt": "valid NIfTI bytes under a .txt name",
    # valid borderline inputs: commands must succeed
    "constant.nii.gz": "all-constant LR volume 6x6x4 (valid: normalisation must not divide by zero)",
    "odd_hr.nii.gz": "HR volume 11x9x7 (valid: the trailing slice of each axis is cropped)",
    "tiny_lr.nii.gz": "LR volume 3x3x2, smaller than one inference patch (valid: the patch is clipped)",
    # configuration files
    "malformed.toml": "TOML syntax error (unterminated table header)",
    "unknown_key.toml": "valid TOML whose track has the misspelt key 'tset'",
    "unknown_dataset.toml": "a track whose test dataset is not declared",
    "missing_volume.toml": "a dataset listing a file that does not exist",
    "bad_volume.toml": "a dataset whose only test volume has NaN voxels",
    "code_in_config.toml": "string values that would run code if the file were evaluated",
    "good.toml": "a valid config over the corpus' good volumes (track 'corpus')",
    # checkpoints
    "pickle_payload.safetensors": "a torch.save (pickle) file renamed .safetensors whose unpickling would create MARKER",
    "pickle_state.pt": "a plain torch.save'd state dict (.pt): a pickle, refused",
    "not_a_checkpoint.safetensors": "random bytes with a .safetensors name",
    "truncated_raw.safetensors": "a safetensors file cut in the middle of its tensor data",
}

#: name of the file that the pickle payload would create if it were ever unpickled
MARKER = "PICKLE_PAYLOAD_EXECUTED"

#: checkpoint files that need ``srbench.training.checkpoint`` to be written
CHECKPOINT_FILES: dict[str, str] = {
    "other_method.safetensors": "a valid checkpoint saved for another method",
    "truncated.safetensors": "a valid srbench checkpoint cut in the middle of its tensor data",
}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _smooth_volume(shape: tuple[int, ...], *, seed: int) -> np.ndarray:
    """A smooth positive test volume (a blob plus mild noise), float32, values ≈ 0..1000."""
    grids = np.meshgrid(*[np.linspace(-1.0, 1.0, n) for n in shape], indexing="ij")
    radius2 = sum(g**2 for g in grids)
    noise = _rng(seed).normal(0.0, 0.02, size=shape)
    return (1000.0 * (np.exp(-2.0 * radius2) + noise).clip(0.0)).astype(np.float32)


def _oblique_affine(spacing: tuple[float, float, float], *, angle_deg: float = 10.0, flip: bool = False) -> np.ndarray:
    theta = np.deg2rad(angle_deg)
    rotation = np.array(
        [[np.cos(theta), -np.sin(theta), 0.0], [np.sin(theta), np.cos(theta), 0.0], [0.0, 0.0, 1.0]]
    )
    scales = np.diag(spacing)
    if flip:
        scales[0, 0] *= -1.0
    affine = np.eye(4)
    affine[:3, :3] = rotation @ scales
    affine[:3, 3] = (-90.0, 12.5, -40.25)
    return affine


def _save(array: np.ndarray, affine: np.ndarray | None, path: Path, *, header_affine: np.ndarray | None = None) -> None:
    """Write a NIfTI-1 file. ``header_affine`` puts a raw (possibly broken) sform in the header."""
    import nibabel as nib

    image = nib.Nifti1Image(array, affine)
    if header_affine is not None:
        image.header.set_sform(header_affine, code=1)
        image.header.set_qform(np.eye(4), code=0)
    nib.save(image, str(path))


def _nifti_bytes(array: np.ndarray, affine: np.ndarray) -> bytes:
    import nibabel as nib

    image = nib.Nifti1Image(array, affine)
    return image.to_bytes()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _write_volumes(out: Path) -> None:
    hr_affine = _oblique_affine((1.0, 1.0, 1.0))
    lr_affine = _oblique_affine((2.0, 2.0, 2.0))
    lr = _smooth_volume((8, 8, 6), seed=2)

    _save(_smooth_volume((16, 16, 12), seed=1), hr_affine, out / "good_hr.nii.gz")
    _save(lr, lr_affine, out / "good_lr.nii.gz")
    _save(lr.round().astype(np.int16), lr_affine, out / "good_int16.nii.gz")
    _save(lr, _oblique_affine((2.0, 1.5, 3.0), angle_deg=-25.0, flip=True), out / "good_flipped.nii.gz")
    _save(lr[..., None], lr_affine, out / "good_4d_singleton.nii.gz")

    raw = _nifti_bytes(lr, lr_affine)
    compressed = _gzip(raw)
    (out / "truncated.nii.gz").write_bytes(compressed[: len(compressed) // 2])
    (out / "truncated_header.nii").write_bytes(raw[:200])
    (out / "truncated_data.nii").write_bytes(raw[: 352 + lr.nbytes // 2])
    broken = bytearray(raw)
    broken[344:348] = b"xyz\0"
    (out / "wrong_magic.nii").write_bytes(bytes(broken))
    (out / "wrong_magic.nii.gz").write_bytes(_gzip(bytes(broken)))
    text = b"subject,age\nsub-01,42\nthis is a CSV table, not a NIfTI image\n" * 8
    (out / "not_nifti.nii").write_bytes(text)
    (out / "not_nifti.nii.gz").write_bytes(_gzip(text))
    (out / "not_nifti_name.txt").write_bytes(raw)

    _save(lr[:, :, 0], lr_affine, out / "image_2d.nii.gz")
    _save(np.stack([lr, lr, lr], axis=-1), lr_affine, out / "image_4d.nii.gz")
    _save(np.zeros((8, 0, 6), np.float32), lr_affine, out / "zero_dim.nii.gz")

    nan = lr.copy()
    nan[1, 2, 3] = nan[4, 4, 4] = nan[7, 0, 5] = np.nan
    _save(nan, lr_affine, out / "nan_voxels.nii.gz")
    inf = lr.copy()
    inf[0, 0, 0], inf[5, 5, 5] = np.inf, -np.inf
    _save(inf, lr_affine, out / "inf_voxels.nii.gz")

    singular = lr_affine.copy()
    singular[:3, 1] = 0.0
    _save(lr, None, out / "singular_affine.nii.gz", header_affine=singular)
    infinite = lr_affine.copy()
    infinite[0, 0] = np.inf
    _save(lr, None, out / "nonfinite_affine.nii.gz", header_affine=infinite)
    nan_origin = lr_affine.copy()
    nan_origin[1, 3] = np.nan
    _save(lr, None, out / "nan_affine.nii.gz", header_affine=nan_origin)

    _save(lr.astype(np.complex64), lr_affine, out / "complex64.nii.gz")
    rgb = np.zeros(lr.shape, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["R"] = (lr / 4).astype(np.uint8)
    _save(rgb, lr_affine, out / "rgb24.nii.gz")

    unreadable = out / "unreadable.nii.gz"
    if unreadable.exists():
        unreadable.chmod(0o600)
    _save(lr, lr_affine, unreadable)
    unreadable.chmod(0o000)
    (out / "directory.nii.gz").mkdir(exist_ok=True)
    _save(_smooth_volume((8, 8, 1), seed=3), hr_affine, out / "one_slice_hr.nii.gz")

    _save(np.full((6, 6, 4), 250.0, np.float32), lr_affine, out / "constant.nii.gz")
    _save(_smooth_volume((11, 9, 7), seed=4), hr_affine, out / "odd_hr.nii.gz")
    _save(_smooth_volume((3, 3, 2), seed=5), lr_affine, out / "tiny_lr.nii.gz")


GOOD_TOML = """\
# A valid configuration over the corpus' good volumes.
[datasets.corpus-train]
paths = ["good_hr.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[datasets.corpus-test]
paths = ["odd_hr.nii.gz"]
contrast = "T1w"
anatomy = "brain"

[tracks.corpus]
kind = "insample"
train = "corpus-train"
test = "corpus-test"
"""


def _write_configs(out: Path) -> None:
    (out / "good.toml").write_text(GOOD_TOML)
    (out / "malformed.toml").write_text('[datasets.corpus-test\npaths = ["odd_hr.nii.gz"]\n')
    (out / "unknown_key.toml").write_text(GOOD_TOML.replace('test = "corpus-test"', 'tset = "corpus-test"'))
    (out / "unknown_dataset.toml").write_text(GOOD_TOML.replace('test = "corpus-test"', 'test = "corpus-tset"'))
    (out / "missing_volume.toml").write_text(GOOD_TOML.replace('paths = ["odd_hr.nii.gz"]', 'paths = ["missing_subject.nii.gz"]'))
    (out / "bad_volume.toml").write_text(GOOD_TOML.replace('paths = ["odd_hr.nii.gz"]', 'paths = ["nan_voxels.nii.gz"]'))
    injection = f"__import__('pathlib').Path('{MARKER}').touch()"
    (out / "code_in_config.toml").write_text(
        GOOD_TOML.replace('contrast = "T1w"\nanatomy = "brain"\n\n[datasets.corpus-test]', f'contrast = "{injection}"\nanatomy = "brain"\n\n[datasets.corpus-test]')
        .replace('paths = ["odd_hr.nii.gz"]', f'paths = ["{injection}"]')
    )


class _PicklePayload:
    """Unpickling this object calls ``open(path, "w")``: it creates the marker file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _write_checkpoints(out: Path, *, method: str) -> list[str]:
    """Write the checkpoint files; returns the names of :data:`CHECKPOINT_FILES` not written.

    ``other_method.safetensors`` is saved for :func:`other_method` of ``method`` and
    ``truncated.safetensors`` for ``method``, the method the test feeds them to.
    """
    import torch
    from safetensors.torch import save_file

    torch.save({"generator": _PicklePayload(str(out / MARKER)), "weight": torch.zeros(2)}, out / "pickle_payload.safetensors")
    torch.save({"conv.weight": torch.zeros(4, 1, 3, 3, 3), "conv.bias": torch.zeros(4)}, out / "pickle_state.pt")
    (out / "not_a_checkpoint.safetensors").write_bytes(_rng(6).bytes(4096))
    raw = out / "truncated_raw.safetensors"
    save_file({"generator.conv.weight": torch.ones(8, 1, 3, 3, 3)}, str(raw), metadata={"format": "pt"})
    data = raw.read_bytes()
    raw.write_bytes(data[: len(data) - 300])

    try:
        from srbench.training.checkpoint import save_checkpoint
    except ImportError:
        return sorted(CHECKPOINT_FILES)
    network = torch.nn.Conv3d(1, 1, 3, padding=1)
    for name, saved_for in (("other_method.safetensors", other_method(method)), ("truncated.safetensors", method)):
        save_checkpoint(
            out / name,
            method=saved_for,
            kind="model",
            config={"method": saved_for},
            modules={"generator": network},
            iteration=1,
        )
    data = (out / "truncated.safetensors").read_bytes()
    (out / "truncated.safetensors").write_bytes(data[: len(data) - 64])
    return []


def other_method(method: str) -> str:
    """The method named inside ``other_method.safetensors`` when the corpus targets ``method``."""
    return "esrgan3d" if method != "esrgan3d" else "trigan"


def generate(out: Path, *, checkpoint_method: str = "trigan") -> list[str]:
    """Write the whole corpus into ``out`` (created if needed).

    Args:
        out: the directory to fill.
        checkpoint_method: the learned method the checkpoint cases are fed to.

    Returns the names of files that could not be written in this checkout (the
    checkpoint files that need ``srbench.training.checkpoint``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_volumes(out)
    _write_configs(out)
    return _write_checkpoints(out, method=checkpoint_method)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="trigan", help="learned method the checkpoint cases target (default: trigan)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "bad", help="directory to write (default: tests/data/bad next to this script)")
    args = parser.parse_args(argv)
    missing = generate(args.out, checkpoint_method=args.method)
    written = sorted(p.name for p in args.out.iterdir())
    print(f"wrote {len(written)} corpus entries to {args.out}", file=sys.stderr)
    for name in missing:
        print(f"skipped {name}: srbench.training.checkpoint is not available", file=sys.stderr)
    if os.geteuid() == 0:
        print("note: running as root, so unreadable.nii.gz is still readable", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
