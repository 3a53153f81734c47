"""Every hook of srbench.hookspecs, exercised through a real entry point: a fake
distribution ``srbench-mri-pkhooks`` registers one object of each kind (and a command);
each passes the conformance battery and works in the command line.

tests/test_hook_docs.py checks that the whole suite calls every hook (tests/hook_calls.py).
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import click
import nibabel as nib
import pytest
import torch
from click.testing import CliRunner

from srbench.plugins import PluginManager
from srbench.testing import checks
from srbench.testing.context import CheckContext
from srbench.testing.synthetic import oblique_affine, smooth_volume
from tests.fake_distributions import forget_fake_modules, make_distribution, run_srbench

DISTRIBUTION = "srbench-mri-pkhooks"

SOURCE = '''
import dataclasses

import click
import torch
import torch.nn.functional as F

from srbench import hookimpl
from srbench.errors import InputError
from srbench.interfaces import SubjectFile
from srbench.models import CheckpointModel
from srbench.training.config import TrainingConfig

SRBENCH_API_VERSIONS = ("1",)


class Net(torch.nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = tuple(int(s) for s in scale)
        self.conv = torch.nn.Conv3d(1, 1, 3, padding=1, padding_mode="replicate")
        torch.nn.init.zeros_(self.conv.weight)
        torch.nn.init.zeros_(self.conv.bias)

    def forward(self, lr):
        size = tuple(n * s for n, s in zip(lr.shape[-3:], self.scale))
        up = F.interpolate(lr, size=size, mode="trilinear", align_corners=False)
        return up + self.conv(up)


def build_network(config):
    return Net(config.scale)


@dataclasses.dataclass
class Config(TrainingConfig):
    learning_rate: float = 1e-2


class Algorithm:
    inference_module = "generator"

    def __init__(self, config, device):
        net = build_network(config).to(device)
        self.modules = {"generator": net}
        self.optimizers = {"generator": torch.optim.SGD(net.parameters(), lr=config.learning_rate)}

    def step(self, batch, *, iteration, total, generator):
        loss = F.l1_loss(self.modules["generator"](batch.lr), batch.hr)
        optimizer = self.optimizers["generator"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"l1": float(loss.detach())}


@dataclasses.dataclass(frozen=True)
class Trainer:
    name: str = "pkhooks"
    config_class: type = Config
    presets: dict = dataclasses.field(default_factory=lambda: {"cpu": {
        "iterations": 3, "batch_size": 1, "patch_size": 16, "patch_stride": 16, "min_foreground": 0.0,
        "checkpoint_every": 1}})

    def build(self, config, *, device="cpu"):
        return Algorithm(config, device)


@dataclasses.dataclass(frozen=True)
class MeanAbsoluteError:
    name: str = "pkhooks-mae"
    outputs: dict = dataclasses.field(default_factory=lambda: {"pkhooks_mae": False})
    symmetric: bool = True

    def compute(self, sr, hr, *, affine):
        return {"pkhooks_mae": float((sr - hr).abs().mean())}


@dataclasses.dataclass(frozen=True)
class FolderReader:
    name: str = "pkhooks-folder"
    key: str = "pkfolder"
    options: tuple = ()

    def subjects(self, table, *, base, dataset):
        folder = base / table["pkfolder"]
        files = sorted(folder.glob("*.nii.gz")) if folder.is_dir() else []
        if not files:
            raise InputError(f"{folder}: no .nii.gz files (dataset '{dataset}')")
        return [SubjectFile(subject=f.name[: -len(".nii.gz")], path=f) for f in files]


@dataclasses.dataclass(frozen=True)
class MaxPool:
    name: str = "pkhooks-maxpool"
    description: str = "maximum of each scale-sized HR block"

    def degrade(self, hr, *, scale, generator=None):
        return F.max_pool3d(hr, kernel_size=scale, stride=scale)


@hookimpl
def register_models():
    return [CheckpointModel(name="pkhooks", description="one residual convolution", config_class=Config, build_network=build_network)]


@hookimpl
def register_trainers():
    return [Trainer()]


@hookimpl
def register_datasets():
    return [FolderReader()]


@hookimpl
def register_metrics():
    return [MeanAbsoluteError()]


@hookimpl
def register_degradations():
    return [MaxPool()]


@hookimpl
def register_commands(cli):
    @cli.command("pkhooks-hello")
    @click.argument("who")
    def hello(who):
        """Greet WHO."""
        click.echo(f"hello {who}")
'''


@pytest.fixture(scope="module")
def hooks_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("hooks-site")
    make_distribution(site, DISTRIBUTION, modules={"srbench_pk_hooks": SOURCE}, entry_points={"pkhooks": "srbench_pk_hooks"})
    return site


@pytest.fixture(scope="module")
def hooks(hooks_site):
    """(plugin manager over srbench's built-ins and the fake distribution, check context)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(hooks_site))
        eps = [ep for ep in entry_points(group="srbench") if ep.dist is not None and ep.dist.name in (DISTRIBUTION, "srbench-mri")]
        pm = PluginManager(entry_points_override=eps, strict=True)
        yield pm, CheckContext(pm=pm, workdir=hooks_site / "work")
    forget_fake_modules()


def run_battery(hooks, kind: str) -> list[str]:
    """Run every check of ``kind`` on the fake plugin's object; return the failures."""
    pm, ctx = hooks
    ctx.workdir.mkdir(exist_ok=True)
    plugin = checks.select_plugins(pm, [DISTRIBUTION])
    cases = [c for c in checks.collect_cases(pm, plugin) if c.check.kind == kind]
    assert cases, kind
    outcomes = [checks.run_case(case, ctx) for case in cases]
    assert all(o.status != "skipped" for o in outcomes if o.case.check.name not in ("symmetry", "background-ignored"))
    return [checks.format_outcome(o) for o in outcomes if o.status == "failed"]


def test_register_models_hook(hooks):
    pm, _ = hooks
    assert pm.owner("model", "pkhooks").distribution == DISTRIBUTION
    assert run_battery(hooks, "model") == []


def test_register_trainers_hook(hooks):
    pm, _ = hooks
    assert pm.owner("trainer", "pkhooks").distribution == DISTRIBUTION
    assert run_battery(hooks, "trainer") == []


def test_register_datasets_hook(hooks, tmp_path):
    pm, _ = hooks
    reader = pm.get("dataset reader", "pkhooks-folder")
    (tmp_path / "scans").mkdir()
    for name in ("b", "a"):
        (tmp_path / "scans" / f"{name}.nii.gz").write_bytes(b"")
    assert [s.subject for s in reader.subjects({"pkfolder": "scans"}, base=tmp_path, dataset="d")] == ["a", "b"]
    assert run_battery(hooks, "dataset reader") == []


def test_register_metrics_hook(hooks):
    pm, _ = hooks
    metric = pm.get("metric", "pkhooks-mae")
    assert metric.compute(torch.zeros(4, 4, 4), torch.full((4, 4, 4), 0.25), affine=None) == {"pkhooks_mae": 0.25}
    assert run_battery(hooks, "metric") == []


def test_register_degradations_hook(hooks):
    pm, _ = hooks
    hr = torch.arange(8.0).reshape(1, 1, 2, 2, 2)
    assert pm.get("degradation", "pkhooks-maxpool").degrade(hr, scale=(2, 2, 2), generator=None).item() == 7.0
    assert run_battery(hooks, "degradation") == []


def test_register_commands_hook(hooks):
    pm, _ = hooks
    group = click.Group("srbench")
    pm.add_commands(group)
    assert CliRunner().invoke(group, ["pkhooks-hello", "world"]).output == "hello world\n"


@pytest.mark.slow
def test_every_hook_through_the_command_line(hooks_site, tmp_path):
    """train (trainers), evaluate on a dataset read by the plugin's reader, degraded by its
    degradation, scored by its metric (models, datasets, degradations, metrics), and its
    own command (commands)."""
    for number in (1, 2, 3):
        folder = tmp_path / ("train" if number < 3 else "test")
        folder.mkdir(exist_ok=True)
        nib.save(nib.Nifti1Image(smooth_volume((20, 18, 16), seed=number).numpy(), oblique_affine((1.0, 1.0, 1.0))), str(folder / f"s{number}.nii.gz"))
    config = tmp_path / "datasets.toml"
    config.write_text(
        '[datasets.tr]\nreader = "pkhooks-folder"\npkfolder = "train"\ncontrast = "T1w"\nanatomy = "brain"\n\n'
        '[datasets.te]\nreader = "pkhooks-folder"\npkfolder = "test"\ncontrast = "T1w"\nanatomy = "brain"\n\n'
        '[tracks.maxpool]\nkind = "insample"\ntrain = "tr"\ntest = "te"\ndegradation = "pkhooks-maxpool"\n'
    )
    def srbench(*args: str) -> str:
        result = run_srbench(hooks_site, *args, cwd=tmp_path, SRBENCH_STRICT_PLUGINS="1")
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert srbench("pkhooks-hello", "you") == "hello you\n"
    model = srbench("train", "pkhooks", "--config", str(config), "--track", "maxpool", "--run-dir", "run",
                    "--no-progress", "--device", "cpu").strip()
    assert (tmp_path / model).resolve() == (tmp_path / "run" / "model.safetensors").resolve()
    output = srbench("evaluate", "--config", str(config), "--track", "maxpool", "--method", "pkhooks",
                     "--checkpoint", model, "--results", "results.sqlite", "--format", "json", "--device", "cpu",
                     "--no-save-predictions")
    rows = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert [(r["method"], r["subject"]) for r in rows] == [("pkhooks", "s3")]
    assert 0 < rows[0]["pkhooks_mae"] < 1
