"""Qualitative figures like the paper's Figures 4–5: the same zoomed region of one test
subject for the ground truth, trilinear and each method, with absolute-error maps.

Layout (:func:`figure_layout`): three columns (sagittal, coronal, axial planes through
the crop centre) and ``1 + 2 * n_methods`` rows: the ground truth, one row per method,
then one ``|SR − HR|`` row per method sharing one colour scale. Intensities follow the
metrics' convention (:func:`srbench.metrics.convention.scale_pair`: both volumes scaled
by the HR reference's min and max to [0, 1], SR clipped), so the error maps show what the
metrics compare. Each method's row label gives its intensity bias on the whole subject
(:func:`srbench.data.foreground.foreground_bias`, mean SR − HR over the HR foreground in % of
the HR range: the ``bias`` column of the results store), which an absolute-error map
cannot show.
Volumes are shown in RAS orientation with their voxel aspect ratio. The PNG has a fixed
size in pixels (:func:`figure_size_px`) so that it is reproducible.

Predictions are read from the layout that ``srbench evaluate`` writes (one subject per
track by default): :func:`prediction_path` for each method and :func:`reference_path`
for the HR reference it was compared with.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from srbench.defaults import BASELINE_METHOD
from srbench.errors import InputError, file_error
from srbench.interfaces import Volume
from srbench.io.atomic import atomic_path
from srbench.io.paths import path_component
from srbench.predictions import REFERENCE_NAME, prediction_path, reference_path

#: dots per inch of the PNG; with the inch sizes below every size is a whole number of pixels
DPI = 100
CELL_IN = 1.8
LEFT_IN = 1.3
RIGHT_IN = 0.9
TOP_IN = 0.6
BOTTOM_IN = 0.2
#: blank margin around each panel inside its cell
PAD_IN = 0.05
PLANES = ("sagittal", "coronal", "axial")
#: file stem of the saved HR reference beside the predictions
#: fraction of each axis of the field of view covered by the zoomed crop (a quarter of a plane's area)
CROP_FRACTION = 0.5
#: largest shape difference (voxels per axis) between an SR volume and its HR reference
#: that is treated as the documented cropping of odd sizes
MAX_SHAPE_DIFFERENCE = 4


@dataclasses.dataclass(frozen=True)
class FigureResult:
    """A written figure.

    Attributes:
        path: the PNG.
        rows, cols: the grid of image panels (:func:`figure_layout`).
        panels: number of image panels drawn (``rows * cols``).
        axes: number of axes on the figure: the panels plus two colour bars.
        size_px: ``(width, height)`` of the PNG in pixels.
        methods: the methods shown, in row order.
        subject: the subject shown.
        biases: method → its intensity bias on the subject (fraction of the HR range, as
            the ``bias`` metric; shown in % in its row label).
    """

    path: Path
    rows: int
    cols: int
    panels: int
    axes: int
    size_px: tuple[int, int]
    methods: tuple[str, ...]
    subject: str
    biases: Mapping[str, float] = dataclasses.field(default_factory=dict)


def bias_label(bias: float) -> str:
    """``bias +4.20 %``: a bias (fraction of the HR range) as a row label shows it."""
    return f"bias {100.0 * bias:+.2f} %" if math.isfinite(bias) else "bias —"


def figure_layout(n_methods: int) -> tuple[int, int]:
    """``(rows, cols)`` of image panels for ``n_methods`` SR volumes (trilinear counted)."""
    if n_methods < 1:
        raise ValueError("a figure needs at least one method")
    return 1 + 2 * n_methods, len(PLANES)


def figure_size_px(n_methods: int) -> tuple[int, int]:
    """``(width, height)`` of the PNG in pixels for ``n_methods`` SR volumes."""
    rows, cols = figure_layout(n_methods)
    width = LEFT_IN + cols * CELL_IN + RIGHT_IN
    height = TOP_IN + rows * CELL_IN + BOTTOM_IN
    return round(width * DPI), round(height * DPI)


def _to_ras(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Reorient ``(W, H, D)`` voxels to the closest RAS axes; return them and their spacing (mm)."""
    import nibabel as nib

    ornt = nib.orientations.io_orientation(affine)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    ras_spacing = [0.0, 0.0, 0.0]
    for axis, (world, _flip) in enumerate(ornt):
        ras_spacing[int(world)] = float(spacing[axis])
    return nib.orientations.apply_orientation(array, ornt), tuple(ras_spacing)  # type: ignore[return-value]


def _crop_box(hr: np.ndarray) -> tuple[slice, slice, slice]:
    """A box of :data:`CROP_FRACTION` of each axis around the centre of the foreground bounding box."""
    lo = float(hr.min())
    high = float(np.percentile(hr, 99.0))
    mask = hr > lo + 0.1 * (high - lo)
    if not mask.any():
        mask = np.ones_like(hr, dtype=bool)
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        present = np.flatnonzero(mask.any(axis=other))
        centre = (present[0] + present[-1]) / 2.0
        size = hr.shape[axis]
        edge = min(size, max(4, int(round(size * CROP_FRACTION))))
        start = int(round(centre - edge / 2.0))
        start = min(max(start, 0), size - edge)
        box.append(slice(start, start + edge))
    return box[0], box[1], box[2]


def _planes(volume: np.ndarray, box: tuple[slice, slice, slice]) -> list[np.ndarray]:
    """The three cropped planes through the box centre, each ``(rows, cols)`` for ``origin='lower'``."""
    cx, cy, cz = ((s.start + s.stop - 1) // 2 for s in box)
    bx, by, bz = box
    return [
        volume[cx, by, bz].T,  # sagittal: rows superior, cols anterior
        volume[bx, cy, bz].T,  # coronal: rows superior, cols right
        volume[bx, by, cz].T,  # axial: rows anterior, cols right
    ]


def _aspects(spacing: tuple[float, float, float]) -> list[float]:
    sx, sy, sz = spacing
    return [sz / sy, sz / sx, sy / sx]


def draw_comparison(
    hr: Volume,
    predictions: Mapping[str, Volume],
    out_path: str | Path,
    *,
    title: str = "",
    subject: str = "",
) -> FigureResult:
    """Draw the figure for one subject and write it atomically as PNG.

    Args:
        hr: the ground-truth volume ``(W, H, D)`` with its affine.
        predictions: method → SR volume on the HR grid (trilinear is drawn first when
            present, the others in the given order). A volume up to
            :data:`MAX_SHAPE_DIFFERENCE` voxels smaller per axis (odd sizes cropped by the
            degradation) is compared with the same corner of the HR volume.
        out_path: the PNG file (its directory must exist).
        title: the figure title.
        subject: the subject's id, for the result.

    Raises:
        InputError: no predictions, or a prediction whose shape does not match the HR grid.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not predictions:
        raise InputError("a figure needs at least one prediction")
    methods = sorted(predictions, key=lambda m: (m != BASELINE_METHOD, list(predictions).index(m)))
    shape = np.array(hr.shape)
    for method in methods:
        sr_shape = np.array(predictions[method].shape)
        if np.any(sr_shape > shape) or np.any(shape - sr_shape > MAX_SHAPE_DIFFERENCE):
            raise file_error(
                predictions[method].source or method,
                f"prediction of '{method}' has shape {tuple(sr_shape)}, the HR reference has {tuple(shape)}",
            )
        shape = np.minimum(shape, sr_shape)
    crop = tuple(slice(0, int(n)) for n in shape)
    from srbench.data.foreground import foreground_bias
    from srbench.metrics.convention import scale_pair

    hr_crop = hr.data[crop]
    hr01 = scale_pair(hr_crop, hr_crop)[1]
    hr_ras, spacing = _to_ras(hr01.cpu().numpy(), hr.affine)
    box = _crop_box(hr_ras)
    hr_planes = _planes(hr_ras, box)
    sr_planes: dict[str, list[np.ndarray]] = {}
    biases: dict[str, float] = {}
    for m in methods:  # one scaled SR volume at a time
        sr01 = scale_pair(predictions[m].data[crop], hr_crop)[0]
        biases[m] = foreground_bias(sr01, hr01)
        sr_planes[m] = _planes(_to_ras(sr01.cpu().numpy(), hr.affine)[0], box)
    err_planes = {m: [np.abs(s - h) for s, h in zip(sr_planes[m], hr_planes)] for m in methods}
    shown = np.concatenate([p.ravel() for p in hr_planes])
    vmin, vmax = (float(v) for v in np.percentile(shown, [0.5, 99.5]))
    if vmax <= vmin:
        vmax = vmin + 1e-6
    emax = max(float(np.percentile(np.concatenate([e.ravel() for m in methods for e in err_planes[m]]), 99.5)), 1e-6)

    rows, cols = figure_layout(len(methods))
    width_px, height_px = figure_size_px(len(methods))
    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    aspects = _aspects(spacing)
    grid_rows = [("ground truth", hr_planes, "gray", (vmin, vmax))]
    grid_rows += [(f"{m}\n{bias_label(biases[m])}", sr_planes[m], "gray", (vmin, vmax)) for m in methods]
    grid_rows += [(f"|{m} − GT|", err_planes[m], "magma", (0.0, emax)) for m in methods]
    panels = 0
    images = {}
    for r, (label, planes, cmap, (low, high)) in enumerate(grid_rows):
        for c, plane in enumerate(planes):
            left = (LEFT_IN + c * CELL_IN + PAD_IN) / (width_px / DPI)
            bottom = 1.0 - (TOP_IN + (r + 1) * CELL_IN - PAD_IN) / (height_px / DPI)
            inner = CELL_IN - 2 * PAD_IN
            ax = fig.add_axes((left, bottom, inner / (width_px / DPI), inner / (height_px / DPI)))
            images[cmap] = ax.imshow(plane, cmap=cmap, vmin=low, vmax=high, origin="lower",
                                     aspect=aspects[c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(PLANES[c], fontsize=10)
            if c == 0:
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center", labelpad=6)
            panels += 1
    bar_left = (LEFT_IN + cols * CELL_IN + 0.15) / (width_px / DPI)
    bar_width = 0.15 / (width_px / DPI)
    for cmap, first_row, n_rows, label in (("gray", 0, 1 + len(methods), "intensity (HR min–max = 0–1)"),
                                           ("magma", 1 + len(methods), len(methods), "absolute error")):
        top = 1.0 - (TOP_IN + first_row * CELL_IN) / (height_px / DPI)
        bottom = 1.0 - (TOP_IN + (first_row + n_rows) * CELL_IN) / (height_px / DPI)
        cax = fig.add_axes((bar_left, bottom + 0.1 * CELL_IN / (height_px / DPI), bar_width,
                            top - bottom - 0.2 * CELL_IN / (height_px / DPI)))
        fig.colorbar(images[cmap], cax=cax)
        cax.tick_params(labelsize=7)
        cax.set_ylabel(label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11, y=1.0 - 0.15 / (height_px / DPI), va="top")

    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    return FigureResult(path=out_path, rows=rows, cols=cols, panels=panels, axes=len(fig.axes), size_px=(width_px, height_px),
                        methods=tuple(methods), subject=subject, biases=biases)


def _pick_subject(root: Path, track: str, methods: Sequence[str] | None) -> tuple[str, list[str]] | None:
    """The subject with predictions for the most methods (trilinear preferred, then by id)."""
    folder = root / path_component(track)
    if not folder.is_dir():
        return None
    found: dict[str, list[str]] = {}
    for subject_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        stems = sorted(f.name[: -len(".nii.gz")] for f in subject_dir.glob("*.nii.gz"))
        stems = [s for s in stems if s != REFERENCE_NAME and (methods is None or s in methods)]
        if stems:
            found[subject_dir.name] = stems
    if not found:
        return None
    subject = sorted(found, key=lambda s: (BASELINE_METHOD not in found[s], -len(found[s]), s))[0]
    shown = found[subject]
    if methods is not None:
        shown = [m for m in methods if m in shown]
    return subject, shown


def figure_for_track(
    store: object,
    track: str,
    *,
    predictions_dir: str | Path,
    out_path: str | Path,
    methods: Sequence[str] | None = None,
) -> FigureResult | str:
    """Draw ``track``'s figure from saved predictions; return the result, or why there is none.

    The subject is the one with predictions for the most methods (one with trilinear
    preferred; ties broken by id). The ground truth is the saved reference
    (:func:`reference_path`); when it is absent, the subject's input file recorded in the
    results store (``ResultsStore.inputs``) is used after checking its stored sha256.

    Args:
        store: a :class:`srbench.results.store.ResultsStore`.
        methods: methods to show, in order (default: every saved prediction).
    """
    from srbench.io.hashing import sha256_file
    from srbench.io.nifti import load_volume

    root = Path(predictions_dir)
    picked = _pick_subject(root, track, None if methods is None else list(dict.fromkeys(methods)))
    if picked is None:
        return f"no saved predictions under {root / path_component(track)} (srbench evaluate saves them)"
    subject, shown = picked
    predictions = {m: load_volume(prediction_path(root, track=track, method=m, subject=subject)) for m in shown}
    title = f"{track}: subject {subject}"
    saved = reference_path(root, track=track, subject=subject)
    if saved.is_file():
        return draw_comparison(load_volume(saved), predictions, out_path, title=title, subject=subject)
    inputs = store.inputs(track=track, subject=subject)  # type: ignore[attr-defined]
    if inputs.empty:
        return f"no reference {saved} and the results store records no input file for subject '{subject}'"
    reasons = []
    for path, digests in inputs.groupby("path")["sha256"]:
        candidate = Path(path)
        if not candidate.is_file():
            reasons.append(f"ground truth {candidate} not found")
        elif sha256_file(candidate) not in set(digests):
            reasons.append(f"ground truth {candidate} changed since it was evaluated (sha256 differs)")
        else:
            return draw_comparison(load_volume(candidate), predictions, out_path, title=title, subject=subject)
    return "; ".join(reasons)
