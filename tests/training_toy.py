"""A tiny learned method for testing the generic training pieces (not collected by pytest).

``toy``: trilinear up-sampling plus a 2-convolution residual CNN, L1 loss, Adam. Its step
uses both the per-iteration generator and the global torch RNG, so tests see whether the
loop makes both reproducible.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from srbench.interfaces import PatchBatch, Volume
from srbench.models import CheckpointModel
from srbench.testing.synthetic import smooth_volume
from srbench.training.config import TrainingConfig


@dataclasses.dataclass
class ToyConfig(TrainingConfig):
    """Toy method fields: channel width, learning rate, input noise level, random flips."""

    channels: int = 4
    lr: float = 1e-2
    noise: float = 0.01
    flip: bool = True
    use_bias: bool = True


class ToyNet(nn.Module):
    """``(B, 1, w, h, d)`` → ``(B, 1, w·sx, h·sy, d·sz)``: trilinear plus a residual CNN."""

    def __init__(self, *, channels: int, scale: tuple[int, int, int], use_bias: bool = True) -> None:
        super().__init__()
        self.scale = tuple(int(s) for s in scale)
        self.conv1 = nn.Conv3d(1, channels, 3, padding=1, bias=use_bias)
        self.conv2 = nn.Conv3d(channels, 1, 3, padding=1, bias=use_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=self.scale, mode="trilinear", align_corners=False)
        return up + self.conv2(F.relu(self.conv1(up)))


def build_network(config: ToyConfig) -> ToyNet:
    """The toy network of a configuration."""
    return ToyNet(channels=config.channels, scale=tuple(config.scale), use_bias=config.use_bias)


class ToyAlgorithm:
    """One L1 step of the toy network."""

    inference_module = "generator"

    def __init__(self, config: ToyConfig, *, device: str = "cpu") -> None:
        self.config = config
        net = build_network(config).to(device)
        self.modules = {"generator": net}
        self.optimizers = {"generator": torch.optim.Adam(net.parameters(), lr=config.lr, betas=(0.9, 0.999))}

    def step(self, batch: PatchBatch, *, iteration: int, total: int, generator: torch.Generator) -> dict[str, float]:
        net = self.modules["generator"]
        opt = self.optimizers["generator"]
        noise = torch.randn(batch.lr.shape, generator=generator, device=batch.lr.device) * self.config.noise
        flip = self.config.flip and bool(torch.rand(()) < 0.5)  # global RNG on purpose: the loop must reseed it
        lr, hr = batch.lr + noise, batch.hr
        if flip:
            lr, hr = lr.flip(-1), hr.flip(-1)
        opt.zero_grad(set_to_none=True)
        loss = F.l1_loss(net(lr), hr)
        loss.backward()
        opt.step()
        return {"L_pix": float(loss.detach()), "flip": float(flip)}


@dataclasses.dataclass
class ToyTrainer:
    """The toy method's trainer."""

    name: str = "toy"
    config_class: type = ToyConfig
    presets: dict[str, dict[str, Any]] = dataclasses.field(
        default_factory=lambda: {
            "cpu": {
                "iterations": 6,
                "batch_size": 2,
                "patch_size": 8,
                "patch_stride": 4,
                "min_foreground": 0.2,
                "checkpoint_every": 2,
                "deviations": ("tiny network for tests",),
            },
            "paper": {"iterations": 100, "patch_size": 16, "patch_stride": 8, "channels": 8},
        }
    )

    def build(self, config: ToyConfig, *, device: str = "cpu") -> ToyAlgorithm:
        return ToyAlgorithm(config, device=device)


TOY_MODEL = CheckpointModel(name="toy", description="toy test method", config_class=ToyConfig, build_network=build_network)


def toy_volume(seed: int) -> torch.Tensor:
    """A smooth 24³ float32 volume with a zero border (a head in air: the foreground filter has work)."""
    return smooth_volume((24, 24, 24), seed=seed, high=1000.0, border=2)


def write_volumes(directory: Path, count: int = 2) -> list[Path]:
    """Write ``count`` smooth 24³ NIfTI volumes (1 mm) into ``directory``."""
    paths = []
    for i in range(count):
        path = directory / f"sub-{i:02d}.nii.gz"
        nib.save(nib.Nifti1Image(toy_volume(i).numpy(), np.diag([1.0, 1.0, 1.0, 1.0])), str(path))
        paths.append(path)
    return paths


def write_benchmark(folder: Path, tables: str, *, count: int) -> Path:
    """``folder/datasets.toml`` holding ``tables`` (TOML), with ``count`` volumes in ``folder/vols/``."""
    (folder / "vols").mkdir(parents=True)
    write_volumes(folder / "vols", count)
    path = folder / "datasets.toml"
    path.write_text(tables)
    return path


def toy_volumes(count: int = 2) -> list[Volume]:
    """In-memory smooth volumes (no files)."""
    return [Volume(data=toy_volume(i), affine=np.eye(4), source=f"toy-{i}") for i in range(count)]
