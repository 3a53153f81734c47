"""A tiny learned method (model + trainer) as a third-party plugin, and eight broken
variants of it, each with one defect that would distort or endanger a benchmark.

Each variant is the good plugin's source plus a few lines that replace one piece; the
table :data:`VARIANTS` says which conformance check must catch it. They are installed as
distributions with real entry points by :func:`install` (see tests/fake_distributions.py).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.fake_distributions import make_distribution

GOOD = '''
    import dataclasses
    import os

    import numpy as np
    import torch
    import torch.nn.functional as F

    from srbench import hookimpl
    from srbench.inference import NetworkPredictor
    from srbench.models import CheckpointModel
    from srbench.training.config import TrainingConfig

    NAME = "{name}"


    @dataclasses.dataclass
    class Config(TrainingConfig):
        """The shared fields plus a width."""

        width: int = 4


    class Net(torch.nn.Module):
        """LR patch → SR patch: trilinear ×2 plus a learned two-layer correction."""

        def __init__(self, width):
            super().__init__()
            self.head = torch.nn.Conv3d(1, width, 3, padding=1)
            self.tail = torch.nn.Conv3d(width, 1, 3, padding=1)

        def forward(self, lr):
            up = F.interpolate(lr, scale_factor=2, mode="trilinear", align_corners=False)
            return up + self.tail(torch.relu(self.head(up)))


    def build_network(config):
        return Net(config.width)


    class Algorithm:
        inference_module = "generator"

        def __init__(self, config):
            self.net = build_network(config)
            self.modules = {"generator": self.net}
            self.optimizers = {"generator": torch.optim.Adam(self.net.parameters(), lr=1e-3)}

        def step(self, batch, *, iteration, total, generator):
            loss = F.l1_loss(self.net(batch.lr), batch.hr)
            optimizer = self.optimizers["generator"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return {"loss": float(loss.detach())}


    @dataclasses.dataclass(frozen=True)
    class Trainer:
        name: str = NAME
        config_class: type = Config
        presets: dict = dataclasses.field(default_factory=lambda: {
            "cpu": {"iterations": 2, "batch_size": 1, "patch_size": 16, "patch_stride": 16, "min_foreground": 0.0}})

        def build(self, config, *, device="cpu"):
            return Algorithm(config)


    @dataclasses.dataclass(frozen=True)
    class Model(CheckpointModel):
        pass


    def make_model():
        return Model(name=NAME, description="tiny learned test model", config_class=Config, build_network=build_network)


    @hookimpl
    def register_models():
        return [make_model()]


    @hookimpl
    def register_trainers():
        return [Trainer()]
'''

#: variant → (what is wrong, the code appended to the good plugin, the check id that must fail)
VARIANTS: dict[str, tuple[str, str, str]] = {
    "constant": (
        "output ignores the LR volume (a function of the weights only)",
        '''
        def _constant_forward(self, lr):
            up = F.interpolate(lr, scale_factor=2, mode="trilinear", align_corners=False)
            return self.tail(torch.relu(self.head(torch.ones_like(up))))

        Net.forward = _constant_forward
        ''',
        "model-{name}-input-dependence",
    ),
    "fixedseed": (
        "trainer ignores config.seed (hard-coded torch.manual_seed(1234))",
        '''
        def _fixed_build(self, config, *, device="cpu"):
            torch.manual_seed(1234)
            return Algorithm(config)

        Trainer.build = _fixed_build
        ''',
        "trainer-{name}-seed",
    ),
    "urandom": (
        "trainer seeds from os.urandom in build()",
        '''
        def _urandom_build(self, config, *, device="cpu"):
            torch.manual_seed(int.from_bytes(os.urandom(4), "little"))
            return Algorithm(config)

        Trainer.build = _urandom_build
        ''',
        "trainer-{name}-seed",
    ),
    "pickle": (
        "load() calls torch.load(weights_only=False) on whatever it is given",
        '''
        _safe_load = CheckpointModel.load

        def _pickle_load(self, *, checkpoint=None, device="cpu"):
            try:
                state = torch.load(checkpoint, weights_only=False)
            except Exception:
                state = None
            if not isinstance(state, dict) or "state_dict" not in state:
                return _safe_load(self, checkpoint=checkpoint, device=device)
            network = build_network(Config())
            network.load_state_dict(state["state_dict"])
            return NetworkPredictor(network, native_scale=(2, 2, 2), device=device)

        Model.load = _pickle_load
        ''',
        "model-{name}-pickle-refusal",
    ),
    "shifted": (
        "output affine shifted by half a voxel",
        '''
        class ShiftedPredictor:
            def __init__(self, inner):
                self.inner = inner

            def predict(self, lr, *, scale, settings):
                out = self.inner.predict(lr, scale=scale, settings=settings)
                shift = np.eye(4)
                shift[0, 3] = 0.5
                return out.with_data(out.data, affine=np.asarray(out.affine) @ shift)

        _plain_load = CheckpointModel.load
        Model.load = lambda self, *, checkpoint=None, device="cpu": ShiftedPredictor(
            _plain_load(self, checkpoint=checkpoint, device=device))
        ''',
        "model-{name}-predict-grid",
    ),
    "ignoreweights": (
        "load() ignores the checkpoint's weights",
        '''
        def _fresh_load(self, *, checkpoint=None, device="cpu"):
            torch.manual_seed(0)
            return NetworkPredictor(build_network(Config()), native_scale=(2, 2, 2), device=device)

        Model.load = _fresh_load
        ''',
        "model-{name}-checkpoint-roundtrip",
    ),
    "hiddenstate": (
        "learning-rate schedule kept outside the checkpoint (resume differs)",
        '''
        _plain_step = Algorithm.step

        def _hidden_step(self, batch, *, iteration, total, generator):
            self.calls = getattr(self, "calls", 0) + 1
            for group in self.optimizers["generator"].param_groups:
                group["lr"] = 1e-2 / self.calls
            return _plain_step(self, batch, iteration=iteration, total=total, generator=generator)

        Algorithm.step = _hidden_step
        ''',
        "trainer-{name}-state-roundtrip",
    ),
    "sourcepeek": (
        "predict() looks at Volume.source (a file name)",
        '''
        class PeekingPredictor:
            def __init__(self, inner):
                self.inner = inner

            def predict(self, lr, *, scale, settings):
                out = self.inner.predict(lr, scale=scale, settings=settings)
                return out.with_data(out.data + (1.0 if "sub-" in str(lr.source) else 0.0))

        _plain_load = CheckpointModel.load
        Model.load = lambda self, *, checkpoint=None, device="cpu": PeekingPredictor(
            _plain_load(self, checkpoint=checkpoint, device=device))
        ''',
        "model-{name}-lr-only",
    ),
}


def plugin_name(variant: str) -> str:
    """The model/trainer/entry-point name of a variant (``pkgoodlearned`` for the good one)."""
    return f"pk{variant}"


def distribution(variant: str) -> str:
    """The distribution name of a variant."""
    return f"srbench-mri-{plugin_name(variant)}"


def good_source(name: str) -> str:
    """Source of the good learned plugin module, registering model and trainer ``name``."""
    return textwrap.dedent(GOOD).replace("{name}", name)


def source(variant: str | None) -> str:
    """The plugin module of ``variant`` (``None``: the good plugin)."""
    name = plugin_name(variant or "goodlearned")
    code = textwrap.dedent(GOOD).replace("{name}", name)
    if variant is not None:
        code += "\n" + textwrap.dedent(VARIANTS[variant][1])
    return code


def expected_failure(variant: str) -> str:
    """The case id that must fail for ``variant``."""
    return VARIANTS[variant][2].replace("{name}", plugin_name(variant))


def install(site: Path) -> None:
    """Write the good plugin and every variant into ``site`` as distributions."""
    for variant in (None, *VARIANTS):
        name = plugin_name(variant or "goodlearned")
        module = f"srbench_pk_{name[2:]}"
        make_distribution(site, distribution(variant or "goodlearned"), modules={module: source(variant)},
                          entry_points={name: module})
