"""The small typed contracts between the core and its plugins.

Tensor layout everywhere: a volume is ``(W, H, D)`` (nibabel's voxel order i, j, k),
a batch of patches is ``(B, C, W, H, D)``. Affines are 4×4 ``float64`` voxel→world (mm).
A *scale* is a per-axis up-sampling factor ``(sx, sy, sz)``; ``(2, 2, 2)`` is the paper's
isotropic ×2 and ``(2, 2, 1)`` the knee track's in-plane ×2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch

Scale = tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class Volume:
    """A 3D image with its voxel→world affine.

    Attributes:
        data: ``(W, H, D)`` float32 tensor of intensities (arbitrary scanner units).
        affine: ``(4, 4)`` float64 voxel→world matrix; world units are mm.
        source: where the volume came from (a file path, or a description), for messages.
    """

    data: torch.Tensor
    affine: np.ndarray
    source: str = ""

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.data.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size along each array axis, in mm."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    def with_data(self, data: torch.Tensor, *, affine: np.ndarray | None = None, source: str | None = None) -> Volume:
        """A copy with new voxels (and optionally a new affine / source)."""
        return Volume(
            data=data,
            affine=self.affine if affine is None else affine,
            source=self.source if source is None else source,
        )


@dataclasses.dataclass(frozen=True)
class InferenceSettings:
    """How full-volume inference runs.

    By default the volume is cut into tiles planned from the model's receptive field and
    ``memory_budget`` (see :mod:`srbench.tiling`): each tile is computed with a halo of
    context and only its centre is kept, so where the halo covers the receptive field the
    result equals one whole-volume forward pass. ``patch_size``/``overlap`` switch to the
    fixed overlapping-patch scheme instead (Hann-blended patches, see
    :func:`srbench.inference.run_patch_inference`).

    Attributes:
        patch_size: edge of the cubic LR patch of the fixed scheme, in LR voxels (clipped to
            the volume size per axis); ``None`` = planned tiles.
        overlap: overlap between neighbouring LR patches of the fixed scheme, in LR voxels
            (even number); ``None`` = 8 when ``patch_size`` is given, planned otherwise.
        batch_size: patches per forward pass of the fixed scheme (planned tiles run one by one).
        device: torch device string (``"cpu"``, ``"cuda"``).
        blend: ``"hann"`` (smooth weights) or ``"average"`` (flat weights) for the overlap
            of the fixed scheme.
        memory_format: layout of a network's activations: ``"channels-last"``
            (``torch.channels_last_3d``), ``"contiguous"``, or ``"auto"`` = channels-last
            on the CPU (measured faster there, outputs equal to float32 rounding; see
            benchmarks/README.md) and contiguous elsewhere.
        precision: ``"float32"``, or ``"bfloat16"`` autocast (about twice as fast on CPUs
            with AVX-512 BF16, but outputs change: opt-in, never on leaderboards).
        memory_budget: bytes one planned tile's forward pass may hold (activations);
            ``None`` = :func:`srbench.tiling.default_memory_budget` for the device.
        halo: LR voxels of context per side of a planned tile; ``None`` = the planner's
            choice (the receptive field when affordable, else the effective radius).
    """

    patch_size: int | None = None
    overlap: int | None = None
    batch_size: int = 4
    device: str = "cpu"
    blend: str = "hann"
    # speed settings whose defaults keep the float32 results
    memory_format: str = "auto"
    precision: str = "float32"
    memory_budget: int | None = None
    halo: int | None = None

    def __post_init__(self) -> None:
        """Every way of building settings (command line, :mod:`srbench.api`, a stored run
        that ``verify`` replays) goes through the same checks.

        Raises:
            srbench.errors.InvalidSetting: a value out of range, naming the field.
        """
        from srbench.errors import InvalidSetting

        def integer(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        for name in ("patch_size", "overlap", "memory_budget", "halo"):
            value = getattr(self, name)
            if value is not None and not integer(value):
                raise InvalidSetting(name, f"must be a whole number, got {value!r}")
        if not integer(self.batch_size) or self.batch_size < 1:
            raise InvalidSetting("batch_size", f"must be at least 1, got {self.batch_size!r}")
        size, overlap = self.patch_geometry()
        if size < 4:
            raise InvalidSetting("patch_size", f"must be at least 4, got {size}")
        if self.overlap is not None and (overlap < 0 or overlap >= size):  # the default is clipped to the patch
            raise InvalidSetting("overlap", f"must be in [0, patch size {size}), got {overlap}")
        if self.halo is not None and self.halo < 0:
            raise InvalidSetting("halo", f"must be at least 0, got {self.halo}")
        if self.memory_budget is not None and self.memory_budget <= 0:
            raise InvalidSetting("memory_budget", f"must be a positive number of bytes, got {self.memory_budget}")
        if self.fixed_patches and (self.memory_budget is not None or self.halo is not None):
            raise InvalidSetting("memory_budget", "planned tiles (memory_budget, halo) and fixed patches (patch_size, "
                                 "overlap) exclude each other")
        for name, allowed in (("blend", ("hann", "average")), ("precision", ("float32", "bfloat16")),
                              ("memory_format", ("auto", "channels-last", "contiguous"))):
            if getattr(self, name) not in allowed:
                raise InvalidSetting(name, f"must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if not isinstance(self.device, str) or not self.device:
            raise InvalidSetting("device", f"must be a device name such as 'cpu', got {self.device!r}")

    @property
    def fixed_patches(self) -> bool:
        """True when the fixed overlapping-patch scheme was asked for (``patch_size``/``overlap``)."""
        return self.patch_size is not None or self.overlap is not None

    def patch_geometry(self) -> tuple[int, int]:
        """``(patch_size, overlap)`` of the fixed scheme, with its defaults (32, 8) filled in."""
        return (32 if self.patch_size is None else int(self.patch_size), 8 if self.overlap is None else int(self.overlap))


@dataclasses.dataclass(frozen=True)
class ContextNeed:
    """How much LR context a model needs around an output voxel.

    Attributes:
        radius: receptive-field radius per axis ``(x, y, z)``, in LR voxels per side: an SR
            voxel inside LR voxel ``p`` depends on LR voxels within ``p ± radius`` only.
        whole_volume: True when the output depends on the whole volume (e.g. global
            normalisation); tiling is then never exact, and ``radius`` is the halo to use
            when the whole volume does not fit the memory budget.
        effective: radius beyond which the output's sensitivity to the input is below
            :data:`srbench.receptive_field.SENSITIVITY_TOLERANCE` of its total (measured),
            ``None`` = ``radius``. The planner falls back to it when no tile of halo
            ``radius`` fits the memory budget.
        unmeasured: why the receptive field could not be measured ('' when it was measured
            or declared); such a need is treated as ``whole_volume`` and every plan and
            board says so.
        alignment: the model's total stride per axis, in LR voxels (API 1.2): its output
            shifts with its input only by multiples of it (a 3D U-Net with two stride-2
            stages has 4), so a tile's input must start on a multiple of it for the tile
            to equal the whole-volume pass. ``(1, 1, 1)`` for a stride-1 network; the
            receptive-field probe measures it.
    """

    radius: tuple[int, int, int]
    whole_volume: bool = False
    effective: tuple[int, int, int] | None = None
    unmeasured: str = ""
    alignment: tuple[int, int, int] = (1, 1, 1)

    def __post_init__(self) -> None:
        radius = tuple(int(r) for r in self.radius)
        if len(radius) != 3 or min(radius) < 0:
            raise ValueError(f"ContextNeed radius must be three non-negative integers, got {self.radius!r}")
        object.__setattr__(self, "radius", radius)
        alignment = tuple(int(a) for a in self.alignment)
        if len(alignment) != 3 or min(alignment) < 1:
            raise ValueError(f"ContextNeed alignment must be three positive integers, got {self.alignment!r}")
        object.__setattr__(self, "alignment", alignment)
        if self.effective is not None:
            object.__setattr__(self, "effective", tuple(min(int(e), r) for e, r in zip(self.effective, radius, strict=True)))

    @property
    def fallback(self) -> tuple[int, int, int]:
        """The halo used when ``radius`` does not fit: ``effective`` or ``radius``."""
        return self.radius if self.effective is None else self.effective  # type: ignore[return-value]

    def record(self) -> dict[str, Any]:
        """JSON-ready form (stored with each run's inference plan)."""
        return {"radius": list(self.radius), "whole_volume": self.whole_volume,
                "effective": None if self.effective is None else list(self.effective),
                **({"unmeasured": self.unmeasured} if self.unmeasured else {}),
                **({"alignment": list(self.alignment)} if self.alignment != (1, 1, 1) else {})}


@runtime_checkable
class Predictor(Protocol):
    """A loaded model, ready to super-resolve.

    Optional extension: ``native_scales``, the per-axis scales (factors that differ
    between axes, e.g. ``[(2, 2, 1)]``) that ``predict`` was made or trained for, or
    ``"any"`` for a method defined at every scale (the trilinear baseline). On a track
    with such a scale the harness calls ``predict`` with it as it is (the *native* path).
    Absent or empty (the default): the harness calls ``predict`` at the isotropic scale of
    the largest factor and averages the sub-voxel phases along the other axes itself (the
    *adapter*; for ``(2, 2, 1)``: ×2, then the two phases along axis 2 averaged). Declare a
    scale only when the method is trained for it. The rule is :mod:`srbench.scale_path`;
    each stored row records the path it took and leaderboards state it.
    """

    def predict(self, lr: Volume, *, scale: Scale, settings: InferenceSettings) -> Volume:
        """Super-resolve ``lr`` by ``scale``.

        Returns a volume on the HR grid (see :mod:`srbench.grid`): shape
        ``round(lr.shape * scale)`` and affine :func:`srbench.grid.sr_affine`. The input
        is only ever an LR volume; a model never sees the HR reference.

        Raises:
            srbench.errors.ScaleNotSupported: when the model cannot do ``scale``.
        """
        ...


# A predictor may also define (optional, checked by the conformance kit when present; every optional
# capability of every plugin object, with its default, is listed in srbench.capabilities.OPTIONAL):
#
#     def context_need(self) -> ContextNeed: ...
#         the receptive field its predictions have (the kit checks the declared radius is
#         not smaller than the one it measures by perturbing an input voxel);
#     def inference_plan(self, shape, *, scale, settings) -> srbench.tiling.TilePlan | None: ...
#         how predict() would tile an LR volume of ``shape`` (recorded with each run);
#     native_scales: Collection[Scale] | Literal["any"]
#         the per-axis scales predict() is trained for and gets as they are; any other
#         per-axis scale goes through the harness adapter (see Predictor above; API 1.2).


@runtime_checkable
class SRModel(Protocol):
    """A super-resolution method's inference side, registered by ``register_models``.

    Attributes:
        name: unique method name used on the command line (``srbench predict NAME``).
        description: one line for ``srbench plugins``.
        needs_checkpoint: True for learned methods (``predict`` then needs trained weights).
    """

    name: str
    description: str
    needs_checkpoint: bool

    def load(self, *, checkpoint: Path | None, device: str = "cpu") -> Predictor:
        """Build a predictor, loading ``checkpoint`` (a safetensors file) when given."""
        ...


@dataclasses.dataclass
class PatchBatch:
    """One training batch of paired patches, intensities normalised (see srbench.data.intensity).

    Attributes:
        lr: ``(B, 1, w, h, d)`` float32 LR patches, cut from the training volume degraded
            whole as evaluation degrades it (:mod:`srbench.training.patches`).
        hr: ``(B, 1, W, H, D)`` float32 HR patches, ``W = w * sx`` etc.
        scale: the per-axis scale between them.
    """

    lr: torch.Tensor
    hr: torch.Tensor
    scale: Scale


class Algorithm(Protocol):
    """A training algorithm: networks, optimisers and one optimisation step.

    The core's generic loop (:func:`srbench.training.loop.run_training`) owns everything
    else: patch sampling, checkpoints, exact resume, logging, progress and
    multi-process gradient averaging.

    Attributes:
        modules: every network whose weights are saved, by name (e.g. ``generator``).
        optimizers: every optimiser whose state is saved, by name.
        inference_module: the key of ``modules`` used by ``predict`` after training.
    """

    modules: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    inference_module: str

    def step(self, batch: PatchBatch, *, iteration: int, total: int, generator: torch.Generator) -> dict[str, float]:
        """Run one iteration (0-based) of ``total``; return the scalars to log.

        All randomness inside the step must come from ``generator`` (seeded per iteration
        by the loop), so that a resumed run is bitwise identical to an uninterrupted one.
        A loss not computed in some phase is reported as NaN until it is; once a scalar has
        been finite, a NaN or infinite value (or a non-finite weight) stops the run.
        """
        ...


@runtime_checkable
class Trainer(Protocol):
    """A method's training side, registered by ``register_trainers``.

    Attributes:
        name: the method name (the same as its :class:`SRModel`).
        config_class: a dataclass subclassing :class:`srbench.training.config.TrainingConfig`.
        presets: preset name → field overrides of ``config_class`` (``paper`` and ``cpu``).
    """

    name: str
    config_class: type
    presets: Mapping[str, Mapping[str, Any]]

    def build(self, config: Any, *, device: str = "cpu") -> Algorithm:
        """Create the networks and optimisers for ``config`` (seeded by the caller).

        Optional extension: a trainer may also define ``prepare(config, *, volumes,
        degradation, run_dir, resume, device, progress) -> dict``; the core loop calls it
        before ``build`` (e.g. ESRGAN-3D pretrains its VGG there, cached in the run
        directory) and passes the returned mapping to ``build`` as keyword arguments.
        """
        ...


@dataclasses.dataclass(frozen=True)
class SubjectFile:
    """One subject of a dataset: its id and the NIfTI file holding its volume."""

    subject: str
    path: Path


@runtime_checkable
class DatasetReader(Protocol):
    """Turns a ``[datasets.NAME]`` table into subject files, registered by ``register_datasets``.

    Attributes:
        name: the reader's name; a dataset picks it with ``reader = "NAME"``, or by
            having the reader's ``key`` (e.g. ``paths`` or ``bids``).
        key: the datasets.toml key that selects this reader implicitly.
        options: the extra keys this reader accepts in a dataset table.
    """

    name: str
    key: str
    options: Sequence[str]

    def subjects(self, table: Mapping[str, Any], *, base: Path, dataset: str) -> list[SubjectFile]:
        """List the dataset's subjects, sorted by id; raise InputError naming the problem."""
        ...


@dataclasses.dataclass(frozen=True)
class ColumnDisplay:
    """How leaderboards show one output column of a metric (every field optional).

    Attributes:
        label: the column's name in tables (``SNR``, ``SNR axial``); empty: the column
            name with spaces for underscores.
        group: the headline column this one details (``snr`` for ``snr_axial``); a
            detail column follows its headline and is left out of per-subject tables.
            Empty: the column is a headline itself.
        order: position among the columns, lower first (ties by group, then name).
        unit: unit of the values, named where changes are explained (``dB``).
        percent: values are fractions, shown × 100 under a ``%`` header.
        key: a key column, compared between an in-sample track and its acquisition
            tracks in the leaderboard index.
        setup: ``(label, text)`` stated in the header of every track showing the column
            (``("SNR planes", "sagittal, coronal, axial, and their mean")``).
    """

    label: str = ""
    group: str = ""
    order: int = 1000
    unit: str = ""
    percent: bool = False
    key: bool = False
    setup: tuple[str, str] | None = None


@runtime_checkable
class Metric(Protocol):
    """An image-quality metric, registered by ``register_metrics``.

    Attributes:
        name: the metric's name.
        outputs: column name → its direction: True when higher is better, False when
            lower is better, or None for a *diagnostic*: a signed quantity with no better
            direction (e.g. ``bias``, the mean signed error, where 0 is ideal and the sign
            says which way a method is off). Leaderboards rank, bold the best of and test
            against the best of every column with a direction; a diagnostic is shown
            signed, never ranked, and only tested against the baseline. A metric may
            report several columns, e.g. LPIPS per plane and their mean.
        symmetric: whether ``compute(a, b) == compute(b, a)``.

    Optional extensions: ``description`` (one line; leaderboards explain a diagnostic
    column with it) and ``display``, a mapping of output column → :class:`ColumnDisplay`
    (columns it leaves out get the defaults). Evaluation stores both with the results,
    so a leaderboard renders them without the plugin installed.

    The evaluation mask (API 1.2): evaluation scores inside a mask derived from the HR
    reference alone (:mod:`srbench.metrics.mask`). A metric without ``masked`` (or with
    ``masked = False``) receives ``sr`` with every voxel outside the mask replaced by
    ``hr``'s value, so nothing a method writes into the background can change its
    value; a metric that declares ``masked = True`` receives the unreplaced ``sr`` and a
    keyword ``mask``, a ``(W, H, D)`` bool tensor, and must report its headline columns
    inside the mask (it may add whole-volume columns, as the built-in ``psnr_volume``).
    ``mask=None`` (a direct call) means every voxel.
    """

    name: str
    outputs: Mapping[str, bool | None]
    symmetric: bool

    def compute(self, sr: torch.Tensor, hr: torch.Tensor, *, affine: np.ndarray) -> dict[str, float]:
        """Compare ``sr`` with ``hr``, both ``(W, H, D)`` float32 already scaled to [0, 1]
        by the intensity convention (:mod:`srbench.metrics.convention`); ``affine`` is the
        HR affine (used to name anatomical planes). With ``masked = True`` also ``mask``."""
        ...


@runtime_checkable
class Degradation(Protocol):
    """HR → LR simulation, registered by ``register_degradations``.

    Attributes:
        name: the degradation's name (``paper-linear`` is the default).
        description: one line for leaderboards and ``srbench plugins``.

    Optional extension: ``with_options(options: Mapping[str, Any]) -> Degradation``
    returns a copy configured by a track's ``degradation_options`` table (TOML scalars,
    e.g. ``{snr = 20}``) and raises :class:`srbench.errors.InputError` naming an unknown
    option or a bad value. Configuration validates options with it before anything is
    written; a degradation without it accepts no options. All randomness (noise) must
    come from the ``generator`` argument, which evaluation seeds per subject from the
    track's ``seed`` (:func:`srbench.data.pairs.subject_seed`).

    Optional attribute: ``uses_seed`` (bool; taken as True when absent): False declares
    that the degradation, as configured, draws no noise, so a seed changes nothing;
    ``srbench degrade`` then refuses ``--seed`` and leaderboards print no noise seed
    (built-in ``kspace``: True only with ``snr``).
    """

    name: str
    description: str

    def degrade(self, hr: torch.Tensor, *, scale: tuple[int, int, int], generator: torch.Generator | None) -> torch.Tensor:
        """Degrade ``(B, C, W, H, D)`` HR patches (each size divisible by its scale) to
        ``(B, C, W/sx, H/sy, D/sz)`` LR patches on the grid of :func:`srbench.grid.lr_affine`."""
        ...


CommandRegistrar = Callable[[Any], None]
