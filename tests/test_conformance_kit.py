"""The conformance battery catches what it claims to catch (each check fails on a plugin
object with exactly that defect) and passes srbench's own built-ins."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from srbench.builtins.trilinear import Trilinear, TrilinearPredictor
from srbench.errors import InputError
from srbench.plugins import get_plugin_manager
from srbench.testing import checks, data_checks, metric_checks, model_checks, trainer_checks
from srbench.testing.context import CheckContext
from srbench.testing.failures import CheckFailed, CheckSkipped
from srbench.training.config import TrainingConfig


class Registry:
    """The part of a PluginManager the checks use, holding hand-made objects."""

    def __init__(self, **objects):
        self.objects = {kind.replace("_", " "): {o.name: o for o in items} for kind, items in objects.items()}
        self.objects.setdefault("degradation", {})["paper-linear"] = get_plugin_manager().get("degradation", "paper-linear")

    def names(self, kind):
        return sorted(self.objects.get(kind, {}))

    def get(self, kind, name):
        return self.objects[kind][name]


@pytest.fixture
def ctx(tmp_path):
    return CheckContext(pm=Registry(), workdir=tmp_path)


# -- models ------------------------------------------------------------------------------
class BrokenPredictor(TrilinearPredictor):
    def __init__(self, defect):
        self.defect = defect
        self.calls = 0

    def predict(self, lr, *, scale, settings):
        out = super().predict(lr, scale=scale, settings=settings)
        self.calls += 1
        if self.defect == "affine":
            return out.with_data(out.data, affine=lr.affine)
        if self.defect == "shape":
            return out.with_data(F.pad(out.data, (0, 1)))
        if self.defect == "float64":
            return out.with_data(out.data.double())
        if self.defect == "nan":
            data = out.data.clone()
            data[0, 0, 0] = float("nan")
            return out.with_data(data)
        if self.defect == "in-place":
            lr.data.mul_(1.0001)
        if self.defect == "clock":
            return out.with_data(out.data + (time.perf_counter_ns() % 997) * 1e-3)
        if self.defect == "source" and "sub-01" in lr.source:
            return out.with_data(out.data + 1)
        if self.defect == "refuses-x2":
            from srbench.errors import ScaleNotSupported

            raise ScaleNotSupported("no")
        return out


class HRPeekingPredictor(TrilinearPredictor):
    def predict(self, lr, *, scale, settings, hr=None):
        return super().predict(lr, scale=scale, settings=settings)


@dataclasses.dataclass(frozen=True)
class BrokenModel:
    defect: str
    name: str = "broken"
    description: str = "a model with a defect"
    needs_checkpoint: bool = False

    def load(self, *, checkpoint=None, device="cpu"):
        return HRPeekingPredictor() if self.defect == "hr-argument" else BrokenPredictor(self.defect)


@pytest.mark.parametrize(
    ("check", "defect", "message"),
    [
        (model_checks.predict_grid, "affine", "expected srbench.grid.sr_affine"),
        (model_checks.predict_grid, "shape", "expected (16, 16, 16) (srbench.grid.sr_shape)"),
        (model_checks.predict_grid, "refuses-x2", "refuses the paper's scale"),
        (model_checks.predict_output, "float64", "expected torch.float32"),
        (model_checks.predict_output, "nan", "gave 1 NaN/Inf voxels"),
        (model_checks.lr_only, "hr-argument", "it also takes: hr"),
        (model_checks.lr_only, "in-place", "modified its LR input volume in place"),
        (model_checks.lr_only, "source", "must not look anything up from Volume.source"),
        (model_checks.determinism, "clock", "predict different volumes"),
    ],
)
def test_model_checks_catch_defects(ctx, check, defect, message):
    with pytest.raises(CheckFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(BrokenModel(defect), ctx)


def test_model_registration_rejects_bad_names(ctx):
    with pytest.raises(CheckFailed, match="must be a lowercase word"):
        model_checks.registration(dataclasses.replace(Trilinear(), name="Tri Linear"), ctx)
    with pytest.raises(CheckFailed, match="single line"):
        model_checks.registration(dataclasses.replace(Trilinear(), description="two\nlines"), ctx)


def test_network_predictor_inputs_must_be_lr_patches(ctx):
    from srbench.inference import NetworkPredictor

    class Upsample(torch.nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2, mode="nearest")

    class PeekingPredictor(NetworkPredictor):
        """Runs its network on a tensor of the HR size (here: the whole SR grid)."""

        def predict(self, lr, *, scale, settings):
            up = F.interpolate(lr.data[None, None], scale_factor=2, mode="trilinear")
            self.network(up)
            return super().predict(lr, scale=scale, settings=settings)

    @dataclasses.dataclass(frozen=True)
    class Model:
        name: str = "peeking"
        description: str = "runs its network on an HR-sized tensor"
        needs_checkpoint: bool = False

        def load(self, *, checkpoint=None, device="cpu"):
            return PeekingPredictor(Upsample(), native_scale=(2, 2, 2))

    with pytest.raises(CheckFailed, match="networks must only see LR data"):
        model_checks.lr_only(Model(), ctx)
    honest = dataclasses.replace(Model(), name="honest")
    object.__setattr__(honest, "load", lambda **kw: NetworkPredictor(Upsample(), native_scale=(2, 2, 2)))
    model_checks.lr_only(honest, ctx)


# -- learned models and trainers ---------------------------------------------------------
@dataclasses.dataclass
class TinyConfig(TrainingConfig):
    """No options beyond the shared ones."""


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(1, 1, 3, padding=1)

    def forward(self, lr):
        up = F.interpolate(lr, scale_factor=2, mode="trilinear")
        return up + self.conv(up)


class Algorithm:
    inference_module = "generator"

    def __init__(self, defect):
        self.defect = defect
        net = Net()
        self.modules = {"generator": net}
        self.optimizers = {"generator": torch.optim.Adam(net.parameters(), lr=1e-2)}
        self.hidden_steps = 0

    def step(self, batch, *, iteration, total, generator):
        net, opt = self.modules["generator"], self.optimizers["generator"]
        loss = F.l1_loss(net(batch.lr), batch.hr)
        opt.zero_grad()
        loss.backward()
        if self.defect == "debug-file":  # a trainer that leaves a file in the current directory
            Path("debug-step.txt").write_text(str(iteration))
        if self.defect == "hidden-state":  # a learning-rate schedule kept outside the checkpoint
            self.hidden_steps += 1
            for group in opt.param_groups:
                group["lr"] = 1e-2 / self.hidden_steps
        opt.step()
        return {"loss": float("inf") if self.defect == "inf" else float(loss.detach())}


@dataclasses.dataclass(frozen=True)
class TinyTrainer:
    defect: str = ""
    name: str = "tiny"
    config_class: type = TinyConfig
    presets: dict = dataclasses.field(default_factory=lambda: {
        "cpu": {"iterations": 2, "batch_size": 1, "patch_size": 16, "patch_stride": 16, "min_foreground": 0.0}})

    def build(self, config, *, device="cpu"):
        return Algorithm(self.defect)


@dataclasses.dataclass(frozen=True)
class TinyModel:
    ignore_weights: bool = False
    name: str = "tiny"
    description: str = "tiny learned model"
    needs_checkpoint: bool = True

    def load(self, *, checkpoint=None, device="cpu"):
        from srbench.inference import NetworkPredictor
        from srbench.models import CheckpointModel

        if self.ignore_weights:
            torch.manual_seed(0)
            return NetworkPredictor(Net(), native_scale=(2, 2, 2))
        return CheckpointModel(name="tiny", description="", config_class=TinyConfig, build_network=lambda config: Net()).load(
            checkpoint=checkpoint
        )


def test_learned_model_and_trainer_pass(tmp_path):
    ctx = CheckContext(pm=Registry(model=[TinyModel()], trainer=[TinyTrainer()]), workdir=tmp_path)
    for check in (model_checks.predict_grid, model_checks.checkpoint_roundtrip, model_checks.determinism):
        check(TinyModel(), ctx)
    for check in (trainer_checks.registration, trainer_checks.presets, trainer_checks.step,
                  trainer_checks.state_roundtrip, trainer_checks.train_resume):
        check(TinyTrainer(), ctx)


def test_checkpoint_check_catches_ignored_weights(tmp_path):
    ctx = CheckContext(pm=Registry(model=[TinyModel(True)], trainer=[TinyTrainer()]), workdir=tmp_path)
    with pytest.raises(CheckFailed, match="does not seem to use the checkpoint's weights"):
        model_checks.checkpoint_roundtrip(TinyModel(True), ctx)


def test_learned_model_without_trainer_is_skipped(ctx):
    with pytest.raises(CheckSkipped, match="no trainer named 'tiny'"):
        model_checks.predict_grid(TinyModel(), ctx)


@pytest.mark.parametrize(
    ("check", "defect", "message"),
    [
        (trainer_checks.step, "inf", "logged loss=inf"),
        (trainer_checks.state_roundtrip, "hidden-state", "after restoring a checkpoint the next step differs"),
        (trainer_checks.train_resume, "hidden-state", "interrupted after 1 then resumed give different weights"),
        (trainer_checks.train_resume, "debug-file", "training wrote debug-step.txt into the current directory"),
    ],
)
def test_trainer_checks_catch_defects(tmp_path, check, defect, message):
    ctx = CheckContext(pm=Registry(model=[TinyModel()], trainer=[TinyTrainer(defect)]), workdir=tmp_path)
    with pytest.raises(CheckFailed, match=message):
        check(TinyTrainer(defect), ctx)


def test_trainer_registration_needs_a_model_and_a_cpu_preset(tmp_path):
    ctx = CheckContext(pm=Registry(trainer=[TinyTrainer()]), workdir=tmp_path)
    with pytest.raises(CheckFailed, match="trains no registered model"):
        trainer_checks.registration(TinyTrainer(), ctx)
    no_cpu = dataclasses.replace(TinyTrainer(), presets={"paper": {}})
    ctx = CheckContext(pm=Registry(model=[TinyModel()], trainer=[no_cpu]), workdir=tmp_path)
    with pytest.raises(CheckFailed, match="needs a 'cpu' preset"):
        trainer_checks.registration(no_cpu, ctx)


# -- metrics ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Metric:
    kind: str
    name: str = "m"
    symmetric: bool = True
    outputs: dict = dataclasses.field(default_factory=lambda: {"m": False})

    def compute(self, sr, hr, *, affine):
        if self.kind == "mae":
            return {"m": float((sr - hr).abs().mean())}
        if self.kind == "relative":  # |sr - hr| / hr: not symmetric
            return {"m": float(((sr - hr).abs() / (hr.abs() + 0.1)).mean())}
        if self.kind == "correlation":  # NaN for constant volumes
            a, b = sr - sr.mean(), hr - hr.mean()
            return {"m": float((a * b).sum() / (a.norm() * b.norm()))}
        if self.kind == "columns":
            return {"other": 0.0}
        if self.kind == "signed":  # mean signed error: a diagnostic, 0 for identical volumes
            return {"m": float((sr - hr).mean())}
        if self.kind == "log-ratio":  # -log |sr - hr|: infinite for identical volumes
            return {"m": float(-torch.log((sr - hr).abs().mean()))}
        raise AssertionError(self.kind)


@pytest.mark.parametrize(
    ("check", "metric", "message"),
    [
        (metric_checks.symmetry, Metric("relative"), "declares symmetric = True but m is"),
        (metric_checks.constant_volumes, Metric("correlation", outputs={"m": True}), "column m is NaN for two constant volumes"),
        (metric_checks.identical_optimal, Metric("mae", outputs={"m": True}), "identical volumes must score best"),
        (metric_checks.columns, Metric("columns"), r"returned columns \['other'\]"),
        (metric_checks.registration, Metric("mae", outputs={"m": "lower"}), "must be a bool"),
        (metric_checks.identical_optimal, Metric("log-ratio", outputs={"m": None}),
         r"diagnostic column\(s\) \['m'\] are infinite for identical volumes"),
    ],
)
def test_metric_checks_catch_defects(ctx, check, metric, message):
    with pytest.raises(CheckFailed, match=message):
        check(metric, ctx)


def test_metric_checks_pass_a_correct_metric_and_accept_declared_asymmetry(ctx):
    for check in (metric_checks.registration, metric_checks.columns, metric_checks.symmetry,
                  metric_checks.identical_optimal, metric_checks.constant_volumes):
        check(Metric("mae"), ctx)
    with pytest.raises(CheckSkipped, match="declares symmetric = False"):
        metric_checks.symmetry(Metric("relative", symmetric=False), ctx)


def test_metric_checks_accept_a_diagnostic_column(ctx):
    """A column declared None (no better direction) is not held to 'identical scores best'."""
    signed = Metric("signed", outputs={"m": None}, symmetric=False)
    for check in (metric_checks.registration, metric_checks.columns, metric_checks.identical_optimal,
                  metric_checks.constant_volumes):
        check(signed, ctx)
    # declared higher-is-better, the same signed column fails: the noisy copy (noise clamped to [0, 1])
    # has a positive mean error, which then beats the 0 of identical volumes
    with pytest.raises(CheckFailed, match="identical volumes must score best"):
        metric_checks.identical_optimal(Metric("signed", outputs={"m": True}, symmetric=False), ctx)


# -- degradations and readers ------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Degradation:
    kind: str
    name: str = "d"
    description: str = "a degradation"

    def degrade(self, hr, *, scale, generator=None):
        lr = F.avg_pool3d(hr, kernel_size=scale, stride=scale)
        if self.kind == "global-rng":
            return lr + 0.01 * torch.randn(lr.shape)
        if self.kind == "in-place":
            hr.mul_(0.5)
        return lr


@pytest.mark.parametrize(
    ("check", "kind", "message"),
    [
        (data_checks.degrade_determinism, "global-rng", "draw random numbers from the generator argument"),
        (data_checks.degrade_shapes, "in-place", "modified its HR input in place"),
    ],
)
def test_degradation_checks_catch_defects(ctx, check, kind, message):
    with pytest.raises(CheckFailed, match=message):
        check(Degradation(kind), ctx)


def test_degradation_shape_check_catches_rounded_up_sizes(ctx):
    with pytest.raises(CheckFailed, match=r"HR \(2, 1, 8, 12, 6\) at scale \(2, 2, 2\) gave \(2, 1, 5, 7, 4\), expected \(2, 1, 4, 6, 3\)"):
        data_checks.degrade_shapes(_OddCeil(), ctx)


@dataclasses.dataclass(frozen=True)
class _OddCeil:
    name: str = "ceil"
    description: str = "rounds LR sizes up"

    def degrade(self, hr, *, scale, generator=None):
        padded = F.pad(hr, (0, 1, 0, 1, 0, 1))
        return F.avg_pool3d(padded, kernel_size=scale, stride=scale, ceil_mode=True)


@dataclasses.dataclass(frozen=True)
class Reader:
    kind: str
    name: str = "r"
    key: str = "folder"
    options: tuple = ()

    def subjects(self, table, *, base, dataset):
        if self.kind == "keyerror":
            return {}["missing"]
        if self.kind == "silent":
            return []
        raise InputError(f"{base / table['folder']}: not found (dataset '{dataset}')")


def test_reader_checks(ctx):
    data_checks.reader_missing_data(Reader("good"), ctx)
    with pytest.raises(CheckFailed, match="raised KeyError"):
        data_checks.reader_missing_data(Reader("keyerror"), ctx)
    with pytest.raises(CheckFailed, match="returned 0 subjects for a folder that does not exist"):
        data_checks.reader_missing_data(Reader("silent"), ctx)
    with pytest.raises(CheckFailed, match="key must be a datasets.toml key"):
        data_checks.reader_registration(dataclasses.replace(Reader("good"), key="two words"), ctx)


# -- the battery over srbench's built-ins -----------------------------------------------------
def test_builtins_pass_the_battery(tmp_path):
    """Every built-in but LPIPS (seconds per check on the CPU; `srbench plugins --check metrics` covers it)."""
    pm = get_plugin_manager()
    core = [p for p in checks.select_plugins(pm, ["srbench-mri"]) if p.problem is None]
    ctx = CheckContext(pm=pm, workdir=tmp_path)
    names = [name for p in core for registered in p.registers.values() for name in registered if name != "lpips"]
    outcomes = [checks.run_case(case, ctx) for case in checks.collect_cases(pm, core, targets=names)]
    failed = [checks.format_outcome(o) for o in outcomes if o.status == "failed"]
    assert not failed, "\n".join(failed)
    ran = {(o.case.check.kind, o.case.target) for o in outcomes if o.status == "passed"}
    assert {("model", "trilinear"), ("degradation", "paper-linear"), ("dataset reader", "nifti")} <= ran


def test_case_ids_and_selection():
    pm = get_plugin_manager()
    cases = checks.collect_cases(pm, checks.select_plugins(pm, ["trilinear"]), quick_only=True)
    assert [c.id for c in cases][:3] == ["plugin-trilinear-loads", "model-trilinear-registration", "model-trilinear-predict-grid"]
    with pytest.raises(InputError, match="did you mean 'trilinear'"):
        checks.select_plugins(pm, ["trilinaer"])
    assert all(c.check.quick for c in cases)
    assert {c.check.name for c in checks.collect_cases(pm, checks.select_plugins(pm, ["trilinear"]))} >= {"predict-grid"}


# -- blind spots closed: input dependence, seeds, pickles -------------------------------
class WeightsOnlyPredictor(TrilinearPredictor):
    """Returns the same volume for every input of a shape (a function of its weights)."""

    def predict(self, lr, *, scale, settings):
        out = super().predict(lr, scale=scale, settings=settings)
        return out.with_data(torch.ones_like(out.data))


class FarAwayPredictor(TrilinearPredictor):
    """Answers a change of the input 8 SR voxels away."""

    def predict(self, lr, *, scale, settings):
        out = super().predict(lr, scale=scale, settings=settings)
        return out.with_data(torch.roll(out.data, shifts=8, dims=0).contiguous())


@pytest.mark.parametrize(("predictor", "message"), [
    (WeightsOnlyPredictor(), "two different LR volumes predict the same SR volume"),
    (FarAwayPredictor(), "far from its SR location"),
])
def test_input_dependence_catches_inputless_and_displaced_outputs(ctx, predictor, message):
    model = dataclasses.replace(TinyModel(), name="inputless", needs_checkpoint=False)
    object.__setattr__(model, "load", lambda **kw: predictor)
    with pytest.raises(CheckFailed, match=message):
        model_checks.input_dependence(model, ctx)
    model_checks.input_dependence(Trilinear(), ctx)


@dataclasses.dataclass(frozen=True)
class SeedingTrainer(TinyTrainer):
    seeding: str = ""

    def build(self, config, *, device="cpu"):
        import os

        if self.seeding == "fixed":
            torch.manual_seed(1234)
        elif self.seeding == "urandom":
            torch.manual_seed(int.from_bytes(os.urandom(4), "little"))
        algorithm = Algorithm("")
        if self.seeding == "zero-init":
            with torch.no_grad():
                for parameter in algorithm.modules["generator"].parameters():
                    parameter.zero_()
        return algorithm


@pytest.mark.parametrize(("seeding", "message"), [
    ("fixed", "builds with seeds 0 and 1 leave torch's random generator in the same state"),
    ("urandom", "two builds with seed 0 give different initial weights"),
    ("zero-init", None),  # a deterministic initialisation is allowed: the seed still orders the patches
])
def test_seed_checks_catch_ignored_and_unseeded_seeds(tmp_path, seeding, message):
    trainer = SeedingTrainer(seeding=seeding)
    ctx = CheckContext(pm=Registry(model=[TinyModel()], trainer=[trainer]), workdir=tmp_path)
    if message is None:
        trainer_checks.seed(trainer, ctx)
        trainer_checks.train_seed(trainer, ctx)
        return
    with pytest.raises(CheckFailed, match=message):
        trainer_checks.seed(trainer, ctx)
    if seeding == "urandom":
        with pytest.raises(CheckFailed, match="two runs with seed 0 train different weights"):
            trainer_checks.train_seed(trainer, ctx)
    trainer_checks.seed(SeedingTrainer(), ctx)
    trainer_checks.train_seed(SeedingTrainer(), ctx)


def test_pickle_refusal_catches_a_load_that_unpickles(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class UnpicklingModel(TinyModel):
        def load(self, *, checkpoint=None, device="cpu"):
            torch.load(checkpoint, weights_only=False)
            return super().load(checkpoint=checkpoint, device=device)

    ctx = CheckContext(pm=Registry(model=[TinyModel()], trainer=[TinyTrainer()]), workdir=tmp_path)
    model_checks.pickle_refusal(TinyModel(), ctx)
    with pytest.raises(CheckFailed, match="executed the pickle's code"):
        model_checks.pickle_refusal(UnpicklingModel(), ctx)


def test_receptive_field_check_catches_an_under_declared_radius(ctx):
    import torch
    from torch import nn

    from srbench.inference import NetworkPredictor
    from srbench.interfaces import ContextNeed
    from srbench.nn.layers import PixelShuffle3d

    torch.manual_seed(0)
    network = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv3d(4, 4, 3, padding=1),
                            nn.Conv3d(4, 8, 1), PixelShuffle3d(2))

    @dataclasses.dataclass(frozen=True)
    class Declared:
        radius: int
        name: str = "declared"
        description: str = "a small network with a declared receptive field"
        needs_checkpoint: bool = False

        def load(self, *, checkpoint=None, device="cpu"):
            return NetworkPredictor(network, context=ContextNeed(radius=(self.radius,) * 3))

    model_checks.receptive_field(Declared(2, name="declared-right"), ctx)
    with pytest.raises(CheckFailed, match=r"declared receptive-field radius \(1, 1, 1\) LR voxels, but lowering"):
        model_checks.receptive_field(Declared(1, name="declared-short"), ctx)
