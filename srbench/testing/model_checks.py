"""Conformance checks of :class:`~srbench.interfaces.SRModel` registrations.

Every check calls ``predict`` the way ``srbench evaluate`` does: with an LR
:class:`~srbench.interfaces.Volume` (synthetic, oblique affine, scanner-like
intensities) and nothing else.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import torch

from srbench import capabilities
from srbench import grid
from srbench.errors import InputError, ScaleNotSupported
from srbench.interfaces import InferenceSettings, SRModel, Volume
from srbench.testing.context import CheckContext, load_predictor, model_checkpoint, shared_predictor
from srbench.testing.failures import CheckFailed, CheckSkipped, require
from srbench.testing.registration import check_name, check_one_line, check_protocol
from srbench.testing.synthetic import lr_volume

#: LR sizes every model must handle: even, odd, and smaller than one inference patch
LR_SHAPES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("even", (8, 8, 8)),
    ("odd", (9, 7, 11)),
    ("smaller than one patch", (3, 4, 5)),
)
#: the paper's isotropic ×2 (required) and the knee track's in-plane ×2 (optional)
REQUIRED_SCALE = (2.0, 2.0, 2.0)
OPTIONAL_SCALES = ((2.0, 2.0, 1.0),)
#: small patches so that the even and odd volumes need several of them
SETTINGS = InferenceSettings(patch_size=6, overlap=2, batch_size=2, device="cpu")
#: the only parameters ``predict`` may have: the LR volume and two options
PREDICT_PARAMETERS = ("lr", "scale", "settings")


def _predict(predictor: Any, lr: Volume, scale: tuple[float, float, float], name: str) -> Volume:
    out = predictor.predict(lr, scale=scale, settings=SETTINGS)
    require(isinstance(out, Volume), f"model '{name}': predict returned {type(out).__name__}, expected srbench.interfaces.Volume")
    return out


def registration(model: Any, ctx: CheckContext) -> None:
    """A lowercase name, a one-line description, ``needs_checkpoint`` a bool, a ``load`` method."""
    check_name(model, "model")
    check_protocol(model, "model", SRModel)
    check_one_line(model, "model")
    require(isinstance(model.needs_checkpoint, bool), f"model '{model.name}': needs_checkpoint must be a bool")
    parameters = inspect.signature(model.load).parameters
    require({"checkpoint", "device"} <= set(parameters),
            f"model '{model.name}': load must accept checkpoint= and device= (has: {', '.join(parameters)})")


def predict_grid(model: Any, ctx: CheckContext) -> None:
    """SR shape is ``srbench.grid.sr_shape`` and the affine ``srbench.grid.sr_affine``, for even and odd
    LR sizes and one smaller than a patch, at ×2 (required) and (2, 2, 1) (or ScaleNotSupported)."""
    predictor = shared_predictor(ctx, model)
    for label, shape in LR_SHAPES:
        for scale in (REQUIRED_SCALE, *OPTIONAL_SCALES):
            lr = lr_volume(shape)
            try:
                out = _predict(predictor, lr, scale, model.name)
            except ScaleNotSupported:
                if scale == REQUIRED_SCALE:
                    raise CheckFailed(f"model '{model.name}' refuses the paper's scale {scale}") from None
                continue
            expected_shape = grid.sr_shape(shape, scale)
            require(out.shape == expected_shape,
                    f"model '{model.name}': LR {shape} ({label}) at scale {scale} gave shape {out.shape}, "
                    f"expected {expected_shape} (srbench.grid.sr_shape)")
            expected_affine = grid.sr_affine(lr.affine, grid.effective_scale(shape, scale))
            affine = np.asarray(out.affine, dtype=np.float64)
            require(affine.shape == (4, 4) and np.allclose(affine, expected_affine, atol=1e-5),
                    f"model '{model.name}': LR {shape} ({label}) at scale {scale} gave affine\n{affine}\n"
                    f"expected srbench.grid.sr_affine(lr.affine, scale) =\n{expected_affine}")


def predict_output(model: Any, ctx: CheckContext) -> None:
    """The SR voxels are a finite float32 torch tensor on the CPU."""
    predictor = shared_predictor(ctx, model)
    for label, shape in LR_SHAPES:
        out = _predict(predictor, lr_volume(shape), REQUIRED_SCALE, model.name)
        data = out.data
        require(isinstance(data, torch.Tensor), f"model '{model.name}': Volume.data is {type(data).__name__}, expected a torch.Tensor")
        require(data.dtype == torch.float32, f"model '{model.name}': LR {shape} ({label}) gave dtype {data.dtype}, expected torch.float32")
        require(data.device.type == "cpu", f"model '{model.name}': output is on {data.device}, expected the CPU")
        bad = int((~torch.isfinite(data)).sum())
        require(bad == 0, f"model '{model.name}': LR {shape} ({label}) gave {bad} NaN/Inf voxels")


def _patch_networks(predictor: Any) -> list[torch.nn.Module]:
    """The network of a :class:`~srbench.inference.NetworkPredictor` (whose contract is
    LR patch in, SR patch out); other predictors may legitimately run networks on
    interpolated volumes, so their inputs are not size-checked."""
    from srbench.inference import NetworkPredictor

    if isinstance(predictor, NetworkPredictor) and isinstance(predictor.network, torch.nn.Module):
        return [predictor.network]
    return []


def lr_only(model: Any, ctx: CheckContext) -> None:
    """The model sees only the LR volume: ``predict`` takes nothing but (lr, scale, settings),
    leaves it unchanged, predicts the same whatever the volume's source name, and a
    NetworkPredictor's network only receives LR-sized patches."""
    predictor = shared_predictor(ctx, model)
    parameters = inspect.signature(predictor.predict).parameters
    extra = [
        name for name, p in parameters.items()
        if name not in PREDICT_PARAMETERS or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    require(not extra, f"model '{model.name}': predict must take only (lr, *, scale, settings), it also takes: {', '.join(extra)}")
    shape = (12, 10, 14)
    lr = lr_volume(shape)
    original = lr.data.clone()
    hr_shape = grid.sr_shape(shape, REQUIRED_SCALE)
    seen: list[tuple[int, ...]] = []

    def record(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        seen.extend(tuple(a.shape) for a in args if isinstance(a, torch.Tensor) and a.dim() == 5)

    handles = [network.register_forward_pre_hook(record) for network in _patch_networks(predictor)]
    try:
        first = _predict(predictor, lr, REQUIRED_SCALE, model.name).data
    finally:
        for handle in handles:
            handle.remove()
    require(torch.equal(lr.data, original), f"model '{model.name}': predict modified its LR input volume in place")
    # the output is a function of the LR voxels and affine only, not of where they came from
    renamed = Volume(data=original.clone(), affine=lr.affine.copy(), source="sub-01/anat/sub-01_T1w.nii.gz")
    second = _predict(predictor, renamed, REQUIRED_SCALE, model.name).data
    require(torch.equal(first, second),
            f"model '{model.name}': the same LR voxels with another source name predict a different volume; "
            "a model must not look anything up from Volume.source")
    margin = 8  # voxels of padding a network may add around an LR patch
    for found in seen:
        spatial = found[-3:]
        too_big = any(n > m + margin for n, m in zip(spatial, shape, strict=True)) or all(
            n >= h for n, h in zip(spatial, hr_shape, strict=True)
        )
        require(not too_big,
                f"model '{model.name}': a network received an input of shape {found}, larger than the LR volume "
                f"{shape} (HR would be {hr_shape}); networks must only see LR data")


def determinism(model: Any, ctx: CheckContext) -> None:
    """Under a fixed seed, loading and predicting twice gives bitwise equal outputs."""
    lr = lr_volume((9, 7, 11))
    outputs = []
    for _ in range(2):
        torch.manual_seed(0)
        predictor = load_predictor(ctx, model)
        outputs.append(_predict(predictor, lr, REQUIRED_SCALE, model.name).data)
    torch.manual_seed(0)
    outputs.append(_predict(predictor, lr, REQUIRED_SCALE, model.name).data)
    require(torch.equal(outputs[0], outputs[1]),
            f"model '{model.name}': two loads under torch.manual_seed(0) predict different volumes "
            f"(max difference {float((outputs[0] - outputs[1]).abs().max()):.3g})")
    require(torch.equal(outputs[1], outputs[2]),
            f"model '{model.name}': predicting the same volume twice under the same seed differs "
            f"(max difference {float((outputs[1] - outputs[2]).abs().max()):.3g})")


def _other_method_copy(path: Any, directory: Any) -> Any:
    """A copy of the checkpoint at ``path`` whose metadata names another method."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata() or {})
    metadata["method"] = "srbench-conformance-other-method"
    target = directory / "other-method.safetensors"
    save_file(load_file(str(path)), str(target), metadata=metadata)
    return target


def checkpoint_roundtrip(model: Any, ctx: CheckContext) -> None:
    """Weights go through the safetensors checkpoint format: loading a file twice predicts the
    same, other weights predict differently, and a checkpoint of another method is refused."""
    if not model.needs_checkpoint:
        raise CheckSkipped(f"model '{model.name}' has no weights (needs_checkpoint is False)")
    lr = lr_volume((8, 8, 8))
    perturbed = model_checkpoint(ctx, model.name, perturbed=True)
    initial = model_checkpoint(ctx, model.name, perturbed=False)
    first = _predict(load_predictor(ctx, model, checkpoint=perturbed), lr, REQUIRED_SCALE, model.name).data
    again = _predict(load_predictor(ctx, model, checkpoint=perturbed), lr, REQUIRED_SCALE, model.name).data
    other = _predict(load_predictor(ctx, model, checkpoint=initial), lr, REQUIRED_SCALE, model.name).data
    require(torch.equal(first, again), f"model '{model.name}': the same checkpoint loaded twice predicts different volumes")
    require(not torch.equal(first, other),
            f"model '{model.name}': two checkpoints with different weights predict the same volume; "
            "load() does not seem to use the checkpoint's weights")
    foreign = _other_method_copy(perturbed, ctx.scratch("foreign", model.name))
    try:
        model.load(checkpoint=foreign, device=ctx.device)
    except InputError:
        return
    raise CheckFailed(
        f"model '{model.name}': load() accepted a checkpoint written by another method; refuse it with an "
        "InputError (srbench.io.checkpoint.load_checkpoint(path, method=NAME) does)"
    )


#: an LR voxel well inside the input-dependence volume, whose value the check lowers
_PROBE_SHAPE = (12, 12, 12)
_PROBE_VOXEL = (6, 5, 7)
#: SR voxels around the probe's SR location that count as "near" (3 SR voxels = 1.5 LR voxels)
_NEAR_RADIUS = 3.0


def input_dependence(model: Any, ctx: CheckContext) -> None:
    """The output is a function of the input: two different LR volumes predict different
    volumes, and lowering one LR voxel changes the SR volume near that voxel's SR location
    (at least a tenth of the largest change lies within 3 SR voxels of it)."""
    predictor = shared_predictor(ctx, model)
    first = lr_volume(_PROBE_SHAPE, seed=0)
    second = lr_volume(_PROBE_SHAPE, seed=1)
    out_first = _predict(predictor, first, REQUIRED_SCALE, model.name).data.to(torch.float64)
    out_second = _predict(predictor, second, REQUIRED_SCALE, model.name).data.to(torch.float64)
    spread = float(out_first.max() - out_first.min()) or 1.0
    require(float((out_first - out_second).abs().max()) > 1e-6 * spread,
            f"model '{model.name}': two different LR volumes predict the same SR volume; the output must be "
            "computed from the LR input (it looks like a function of the weights only)")
    # lower one voxel half-way to the volume's minimum: the minimum and the upper percentiles used
    # by intensity normalisation stay the same, so the change is local in the input
    probed = first.data.clone()
    value = float(probed[_PROBE_VOXEL])
    probed[_PROBE_VOXEL] = (value + float(probed.min())) / 2
    out_probed = _predict(predictor, Volume(data=probed, affine=first.affine.copy(), source=first.source),
                          REQUIRED_SCALE, model.name).data.to(torch.float64)
    change = (out_probed - out_first).abs()
    largest = float(change.max())
    require(largest > 1e-6 * spread,
            f"model '{model.name}': changing LR voxel {_PROBE_VOXEL} (from {value:.1f} to {float(probed[_PROBE_VOXEL]):.1f}) "
            "does not change the SR volume at all")
    factor = [n_out / n_in for n_out, n_in in zip(out_first.shape, _PROBE_SHAPE, strict=True)]
    centre = [(i + 0.5) * f - 0.5 for i, f in zip(_PROBE_VOXEL, factor, strict=True)]
    axes = [torch.arange(n, dtype=torch.float64) for n in out_first.shape]
    grids = torch.meshgrid(*axes, indexing="ij")
    distance = torch.sqrt(sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True)))
    near = float(change[distance <= _NEAR_RADIUS].max())
    where = [int(i) for i in torch.nonzero(change == change.max())[0]]
    require(near >= 0.1 * largest,
            f"model '{model.name}': changing LR voxel {_PROBE_VOXEL} changes the SR volume most at {tuple(where)}, "
            f"far from its SR location {tuple(round(c, 1) for c in centre)} (largest change within "
            f"{_NEAR_RADIUS:g} SR voxels: {near:.3g}, anywhere: {largest:.3g}); the output must follow the input's geometry")


class _Marker:
    """Pickles to a call that creates the file ``path`` when the pickle is executed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def pickle_refusal(model: Any, ctx: CheckContext) -> None:
    """``load()`` refuses a pickle file with an InputError and executes none of it: a
    ``torch.save`` file whose payload would create a marker file when unpickled is given
    as ``evil.pt`` and as ``evil.safetensors``; the marker must not appear."""
    if not model.needs_checkpoint:
        raise CheckSkipped(f"model '{model.name}' has no weights (needs_checkpoint is False)")
    directory = ctx.scratch("pickle", model.name)
    marker = directory / "executed.marker"
    for name in ("evil.pt", "evil.safetensors"):
        evil = directory / name
        torch.save({"state_dict": _Marker(str(marker))}, evil)
        error = ""
        try:
            model.load(checkpoint=evil, device=ctx.device)
        except InputError:
            refused = True
        except Exception as exc:  # noqa: BLE001 - reported below, after the marker check
            refused = False
            error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
        else:
            refused = False
            error = "it returned a predictor"
        require(not marker.exists(),
                f"model '{model.name}': load(checkpoint='{name}') executed the pickle's code (a marker file appeared); "
                "never torch.load(weights_only=False) or pickle.load a file you are given: load safetensors "
                "(srbench.io.checkpoint.load_checkpoint does)")
        require(refused,
                f"model '{model.name}': load(checkpoint='{name}') with a pickle file did not refuse it with an "
                f"InputError ({error})")


#: the receptive-field check's LR volume and the voxel it lowers (its centre)
_FIELD_SHAPE = (21, 21, 21)
_FIELD_VOXEL = (10, 10, 10)
#: a budget that holds any test-sized volume whole
_WHOLE_BUDGET = 64 * 1024**3


def _lowerable_near(volume: Volume, centre: tuple[int, int, int]) -> tuple[int, int, int]:
    """The voxel nearest ``centre`` whose value lies between the minimum and the 99th
    percentile: lowering it half-way to the minimum leaves the minimum and the 99.9th
    percentile (the intensity normalisation) unchanged, so the change stays local."""
    data = volume.data.to(torch.float64)
    ceiling = float(torch.quantile(data.flatten(), 0.99))
    usable = (data < ceiling) & (data > float(data.min()))
    grids = torch.meshgrid(*(torch.arange(n) for n in data.shape), indexing="ij")
    distance = sum((g - c).abs() for g, c in zip(grids, centre, strict=True)).to(torch.float64)
    distance[~usable] = float("inf")
    return tuple(int(i) for i in torch.unravel_index(torch.argmin(distance), data.shape))  # type: ignore[return-value]


def _lowered(volume: Volume, voxel: tuple[int, int, int]) -> Volume:
    """``volume`` with ``voxel`` lowered half-way to the minimum."""
    data = volume.data.clone()
    data[voxel] = (float(data[voxel]) + float(data.min())) / 2
    return Volume(data=data, affine=volume.affine.copy(), source=volume.source)


def receptive_field(model: Any, ctx: CheckContext) -> None:
    """A predictor declaring its receptive field (``context_need()``) does not under-declare
    it: lowering a voxel near the centre of a 21³ LR volume changes no SR voxel whose LR voxel lies
    farther (per axis) than the declared radius. When it also plans tiles
    (``inference_plan()``), tiles whose halo covers the radius give the whole-volume result
    (≤ 1e-5 of the intensity range) on a volume long enough for two tiles."""
    predictor = shared_predictor(ctx, model)
    if capabilities.context_need_method(predictor) is None:
        raise CheckSkipped(f"model '{model.name}' declares no receptive field (its predictor has no context_need())")
    need = predictor.context_need()
    whole = InferenceSettings(memory_budget=_WHOLE_BUDGET)
    first = lr_volume(_FIELD_SHAPE, seed=0)
    voxel = _lowerable_near(first, _FIELD_VOXEL)
    out_first = predictor.predict(first, scale=REQUIRED_SCALE, settings=whole).data.to(torch.float64)
    out_lowered = predictor.predict(_lowered(first, voxel), scale=REQUIRED_SCALE, settings=whole).data.to(torch.float64)
    changed = torch.nonzero(out_lowered != out_first)
    if not need.whole_volume and changed.numel():
        factor = torch.tensor([o / n for o, n in zip(out_first.shape, _FIELD_SHAPE, strict=True)], dtype=torch.float64)
        owner = torch.round((changed.to(torch.float64) + 0.5) / factor - 0.5)
        measured = (owner - torch.tensor(voxel, dtype=torch.float64)).abs().amax(dim=0)
        require(all(float(m) <= r for m, r in zip(measured, need.radius, strict=True)),
                f"model '{model.name}': declared receptive-field radius {need.radius} LR voxels, but lowering LR voxel "
                f"{voxel} changes SR voxels up to {tuple(int(m) for m in measured)} LR voxels away; tiles with that "
                "halo would show seams")
    if need.whole_volume or capabilities.inference_plan_method(predictor) is None:
        return
    radius = max(need.radius)
    long = lr_volume((6, 6, 4 * radius + 8), seed=2)
    plan_whole = predictor.inference_plan(long.shape, scale=REQUIRED_SCALE, settings=whole)
    if plan_whole is None:
        return
    budget = int(plan_whole.fixed_bytes + 0.85 * plan_whole.voxel_bytes * math.prod(long.shape)) + 1
    tiled = InferenceSettings(memory_budget=budget, halo=radius)
    plan = predictor.inference_plan(long.shape, scale=REQUIRED_SCALE, settings=tiled)
    if plan is not None and plan.tiles == 1 and plan.peak_bytes > budget:
        return  # a predictor that always runs whole volumes (its plan says so): nothing is stitched
    require(plan is not None and plan.tiles >= 2 and plan.exact,
            f"model '{model.name}': with halo {radius} and a budget of 85% of the whole volume's, the plan should have "
            f"two or more exact tiles, got {plan.describe() if plan is not None else None}")
    reference = predictor.predict(long, scale=REQUIRED_SCALE, settings=whole).data.to(torch.float64)
    stitched = predictor.predict(long, scale=REQUIRED_SCALE, settings=tiled).data.to(torch.float64)
    spread = float(reference.max() - reference.min()) or 1.0
    largest = float((stitched - reference).abs().max())
    require(largest <= 1e-5 * spread,
            f"model '{model.name}': {plan.describe()} differs from whole-volume inference by up to {largest:.3g} "
            f"({largest / spread:.2e} of the intensity range, allowed 1e-5): the tiles show seams")
