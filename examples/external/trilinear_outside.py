"""A method srbench does not know: trilinear up-sampling written with nibabel and scipy alone.

Reads an inputs export (``srbench inputs export --track NAME INPUTS``), writes one SR
volume per subject into PREDICTIONS as the manifest asks (``<subject>.nii.gz`` on the
subject's ``sr_shape`` and ``sr_affine``, float32, in the LR file's intensity units), and
imports nothing from srbench. Score the folder with
``srbench score --track NAME --predictions PREDICTIONS --name trilinear-scipy``.

``scipy.ndimage.zoom(order=1, grid_mode=True, mode="nearest")`` samples the LR volume at
the centres of the SR voxels, clamping at the edges: the same convention as torch's
``interpolate(mode="trilinear", align_corners=False)``, which srbench's trilinear
baseline uses, so its rows must equal that baseline's (docs/external.md says to what
tolerance, and why).

Usage: python trilinear_outside.py INPUTS PREDICTIONS
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import scipy.ndimage


def upsample(lr: np.ndarray, scale: list[float]) -> np.ndarray:
    """Trilinear interpolation of a ``(W, H, D)`` volume by per-axis integer factors."""
    return scipy.ndimage.zoom(lr, scale, order=1, grid_mode=True, mode="nearest")


def main(inputs: Path, predictions: Path) -> None:
    manifest = json.loads((inputs / "manifest.json").read_text(encoding="utf-8"))
    predictions.mkdir(parents=True, exist_ok=True)
    for entry in manifest["subjects"]:
        lr = nib.load(inputs / entry["lr_file"]).get_fdata(dtype=np.float64)
        sr = upsample(lr, manifest["scale"]).astype(np.float32)
        assert list(sr.shape) == entry["sr_shape"], (sr.shape, entry["sr_shape"])
        affine = np.array(entry["sr_affine"], dtype=np.float64)
        image = nib.Nifti1Image(sr, affine)
        image.set_qform(affine, code=1)
        image.set_sform(affine, code=1)
        nib.save(image, predictions / entry["prediction_file"])
        print(f"{entry['subject']}: {entry['lr_file']} -> {entry['prediction_file']}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(Path(sys.argv[1]), Path(sys.argv[2]))
