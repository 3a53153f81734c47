"""ArSSR on the knee track: the harness adapter, the native query, and context across thick slices.

The knee track (``datasets.toml``: ``[tracks.knee]``, scale ``[2, 2, 1]``, the demo knee
at 0.625 × 0.625 × 4 mm) keeps every slice along its scale-1 axis: the LR already holds
those slices exactly, and only the in-plane axes are up-sampled. This script measures, as
``srbench evaluate`` would score them, three predictions of that track's subject:

- ``trilinear``;
- ``ArSSR, harness adapter``: the ArSSR model (by default the shipped ``cpu``-preset
  weights trained on the in-sample track) on the whole LR volume, by the path
  ``srbench evaluate`` takes (:mod:`srbench.scale_path`: ArSSR declares no per-axis scale
  native, so it is predicted at ×2 isotropic and the two sub-voxel phases along the
  scale-1 axis are averaged);
- ``ArSSR, native query``: the same weights queried at the track's scale itself (factor 1
  along that axis), by calling the predictor directly; how the track was scored before
  the harness adapter became every method's default;
- ``ArSSR, native query, slices alone``: the native query fed each LR slice on its own,
  repeated 3× along the scale-1 axis (so the encoder sees no neighbouring slice), keeping
  the middle output slice. Each such input is normalised by its own min / 99.9th
  percentile (the predictor's per-input normalisation), the only other difference from
  the native query.

Every volume goes through the project's API: the track's subject and degradation from the
configuration, :func:`srbench.data.pairs.degrade_volume` with the subject's seed (as
:func:`srbench.evaluation.evaluate_subject`), the model plugins through
:func:`srbench.models.load_predictor` / :func:`srbench.models.predict_checked` with the
default inference settings of ``srbench evaluate`` (the native queries call ``predict``
directly, with the same checks of shape and grid), and the ``psnr`` metric plugin on the
volumes mapped by the benchmark's intensity convention
(:func:`srbench.metrics.convention.scale_pair`, HR min/max → [0, 1], SR clipped).

Printed per prediction: PSNR (dB) and the RMSE of each slice along the scale-1 axis
(on the same [0, 1] volumes): min, median and max. Then the least-squares fit of the
native query's change to trilinear, ``d = (arssr − trilinear) / (max HR − min HR)`` (not clipped), on
every voxel off the volume's border:

- ``z only``: ``d ≈ a · lap_z + c``, where ``lap_z`` is the trilinear volume (same
  scaling) minus the mean of its two neighbours along the scale-1 axis (there the
  trilinear volume is the LR slices, in-plane interpolated), i.e. how much ArSSR sharpens
  across slices;
- ``z + in-plane``: ``d ≈ a · lap_z + b · lap_xy + c`` with ``lap_xy`` the voxel minus
  the mean of its four in-plane neighbours;

with R² of each fit. ``--brain`` adds the same measurement on the in-sample track's first
test head (the model's own anatomy, 1 mm slices) at scale ``[2, 2, 1]``: whether ArSSR
beats trilinear there, where slices are thin.

Usage (from the repository root)::

    python benchmarks/arssr_slice_context.py [--brain] [--checkpoint PATH] [--threads 1]

The markdown tables go to stdout, progress to stderr. About 3.5 minutes for the knee with
two threads (2-core machine with other jobs running; the harness adapter's ×2 pass is
most of the added time); ``--brain`` adds the same predictions of a brain head (about 3
minutes before the adapter row was added; not re-timed since).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from cpu_info import cpu_model


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def show_scale(scale) -> str:
    return "[" + ", ".join(f"{float(s):g}" for s in scale) + "]"


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


class NativeQuery:
    """``predictor`` queried at the scale it is given, whatever it declares: hides its
    ``native_scales`` from the harness's rule (:mod:`srbench.scale_path`)."""

    native_scales = "any"

    def __init__(self, predictor) -> None:
        self.predictor = predictor

    def predict(self, lr, *, scale, settings):
        return self.predictor.predict(lr, scale=scale, settings=settings)


def slices_alone(predictor, lr, *, scale, axis: int, settings, checkpoint, subject: str) -> torch.Tensor:
    """Each LR slice along ``axis`` (where the scale is 1) super-resolved on its own, repeated 3×."""
    from srbench.interfaces import Volume
    from srbench.models import predict_checked

    out = []
    for k in range(lr.shape[axis]):
        piece = lr.data.narrow(axis, k, 1)
        repeats = [1, 1, 1]
        repeats[axis] = 3
        volume = Volume(data=piece.repeat(*repeats).contiguous(), affine=lr.affine, source=f"{lr.source} slice {k}")
        sr = predict_checked(predictor, volume, scale=scale, settings=settings, method="arssr",
                             checkpoint=checkpoint, subject=f"{subject} slice {k}")
        out.append(sr.data.narrow(axis, 1, 1))
    return torch.cat(out, dim=axis)


def per_slice_rmse(sr01: torch.Tensor, hr01: torch.Tensor, axis: int) -> np.ndarray:
    other = tuple(i for i in range(3) if i != axis)
    return ((sr01.double() - hr01.double()) ** 2).mean(dim=other).sqrt().numpy()


def correction_fit(arssr: torch.Tensor, trilinear: torch.Tensor, hr: torch.Tensor, axis: int) -> dict[str, float]:
    """Least squares of ArSSR's change to trilinear on the cross-slice and in-plane second differences."""
    lo, hi = float(hr.min()), float(hr.max())
    span = hi - lo if hi > lo else 1.0
    a = np.moveaxis(arssr.double().numpy(), axis, 2)
    t = np.moveaxis(trilinear.double().numpy(), axis, 2) / span
    d = a / span - t
    inner = (slice(1, -1),) * 3
    lap_z = t[inner] - 0.5 * (t[1:-1, 1:-1, :-2] + t[1:-1, 1:-1, 2:])
    lap_xy = t[inner] - 0.25 * (t[:-2, 1:-1, 1:-1] + t[2:, 1:-1, 1:-1] + t[1:-1, :-2, 1:-1] + t[1:-1, 2:, 1:-1])
    y = d[inner].ravel()
    ones = np.ones_like(y)
    result = {"rms_change": float(np.sqrt((d**2).mean()))}
    for name, columns in (("z", [lap_z.ravel(), ones]), ("zxy", [lap_z.ravel(), lap_xy.ravel(), ones])):
        x = np.stack(columns, axis=1)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        residual = y - x @ coef
        result[f"{name}_r2"] = float(1.0 - residual.var() / y.var())
        result[f"{name}_a"] = float(coef[0])
        if name == "zxy":
            result["zxy_b"] = float(coef[1])
    return result


def measure(label: str, subject, *, scale, degradation, seed: int, predictors: dict, checkpoint, pm, settings) -> tuple[list[list[str]], dict]:
    from srbench.data.pairs import degrade_volume
    from srbench.io.nifti import load_volume
    from srbench.metrics.convention import scale_pair
    from srbench.models import predict_checked

    psnr_metric = pm.get("metric", "psnr")
    hr_raw = load_volume(subject.path)
    hr, lr = degrade_volume(hr_raw, degradation=degradation, scale=scale, seed=seed)
    ones = [i for i, s in enumerate(scale) if float(s) == 1.0]
    if len(ones) != 1:
        raise SystemExit(f"{label}: scale {scale} needs exactly one axis at scale 1")
    axis = ones[0]
    log(f"{label}: {subject.path}, HR {tuple(hr.shape)}, LR {tuple(lr.shape)}, scale {show_scale(scale)}, scale-1 axis {axis}")
    who = f"subject '{subject.subject}' ({subject.path})"
    srs: dict[str, torch.Tensor] = {}
    native = NativeQuery(predictors["arssr"])
    for name, method, predictor in (("trilinear", "trilinear", predictors["trilinear"]),
                                    ("ArSSR, harness adapter", "arssr", predictors["arssr"]),
                                    ("ArSSR, native query", "arssr", native)):
        start = time.perf_counter()
        srs[name] = predict_checked(predictor, lr, scale=scale, settings=settings, method=method,
                                    checkpoint=checkpoint if method == "arssr" else None, subject=who).data
        log(f"{label}: {name} {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    srs["ArSSR, native query, each LR slice fed alone"] = slices_alone(native, lr, scale=scale, axis=axis,
                                                                       settings=settings, checkpoint=checkpoint, subject=who)
    log(f"{label}: ArSSR slices alone ({lr.shape[axis]} slices) {time.perf_counter() - start:.1f} s")
    rows = []
    for name, sr in srs.items():
        sr01, hr01 = scale_pair(sr, hr.data)
        value = psnr_metric.compute(sr01, hr01, affine=hr.affine)["psnr"]
        r = per_slice_rmse(sr01, hr01, axis)
        rows.append([label, show_scale(scale), name, f"{float(value):.2f}",
                     f"{r.min():.3f}", f"{np.median(r):.3f}", f"{r.max():.3f}"])
    fit = correction_fit(srs["ArSSR, native query"], srs["trilinear"], hr.data, axis)
    return rows, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="knee", help="the track measured (its scale needs one axis at 1)")
    parser.add_argument("--brain", action="store_true",
                        help="also the in-sample track's first test head at scale [2, 2, 1] (a few minutes more)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="ArSSR weights (default: the shipped cpu-preset weights trained on the in-sample track)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from srbench.config import load_config
    from srbench.config.document import configure
    from srbench.data.pairs import subject_seed
    from srbench.interfaces import InferenceSettings
    from srbench.io.hashing import sha256_file
    from srbench.metrics.convention import CONVENTION_NAME
    from srbench.models import load_predictor
    from srbench.plugins import get_plugin_manager
    from srbench.weights import find_shipped

    pm = get_plugin_manager()
    config = load_config(None, pm=get_plugin_manager())
    checkpoint = args.checkpoint
    described = str(checkpoint)
    if checkpoint is None:
        shipped = find_shipped(pm, "arssr", track="insample")
        if shipped is None:
            raise SystemExit("no shipped ArSSR weights for the in-sample track: pass --checkpoint")
        checkpoint = shipped.path
        described = f"shipped {shipped.preset} preset, trained on track {shipped.track}"
    settings = InferenceSettings()  # the defaults of `srbench evaluate`
    predictors = {
        "trilinear": load_predictor(pm.get("model", "trilinear"), checkpoint=None, device=settings.device),
        "arssr": load_predictor(pm.get("model", "arssr"), checkpoint=checkpoint, device=settings.device),
    }

    jobs = []
    (track,) = config.select_tracks(args.track)
    subject = config.subjects(track.test, pm)[0]
    jobs.append((f"{track.name} {subject.subject}", subject, tuple(track.scale), track))
    if args.brain:
        (insample,) = config.select_tracks("insample")
        head = config.subjects(insample.test, pm)[0]
        jobs.append((f"{insample.name} {head.subject}", head, (2, 2, 1), insample))

    started = time.perf_counter()
    rows, fits = [], []
    for label, subj, scale, spec in jobs:
        degradation = configure(pm.get("degradation", spec.degradation), spec.degradation_options)
        seed = subject_seed(track_seed=spec.seed, subject=subj.subject)
        r, fit = measure(label, subj, scale=scale, degradation=degradation, seed=seed, predictors=predictors,
                         checkpoint=checkpoint, pm=pm, settings=settings)
        rows += r
        fits.append([label, show_scale(scale), f"{fit['rms_change']:.4f}", f"{fit['z_a']:+.2f}", f"{fit['z_r2']:.2f}",
                     f"{fit['zxy_a']:+.2f}", f"{fit['zxy_b']:+.2f}", f"{fit['zxy_r2']:.2f}"])

    print(f"# ArSSR and context across slices ({args.track} track, scale {show_scale(track.scale)})")
    print()
    print(f"machine: {cpu_model()} ({platform.machine()}), torch {torch.__version__}, {args.threads} thread(s); "
          f"ArSSR weights {described} (sha256 {sha256_file(checkpoint)[:12]}); "
          f"inference patch {settings.patch_size}, overlap {settings.overlap}; intensity convention {CONVENTION_NAME}; "
          f"wall {time.perf_counter() - started:.0f} s")
    print()
    print(markdown(["volume", "scale", "prediction", "PSNR (dB)", "per-slice RMSE min", "median", "max"], rows))
    print()
    print("Per-slice RMSE: RMSE of each slice along the scale-1 axis, intensities scaled by the HR min/max to [0, 1].")
    print()
    print(markdown(["volume", "scale", "RMS of native ArSSR − trilinear", "z only: a", "R²", "z + in-plane: a", "b", "R²"], fits))
    print()
    print("Fit of d = (ArSSR native query − trilinear) / HR range ≈ a · (voxel − mean of its 2 neighbours along the scale-1 axis) "
          "[+ b · (voxel − mean of its 4 in-plane neighbours)] + c, on the trilinear volume, border voxels excluded.")


if __name__ == "__main__":
    main()
