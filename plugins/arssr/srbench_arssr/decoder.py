"""ArSSR's decoder: an MLP of two stages with a skip connection between them."""

from __future__ import annotations

import torch
from torch import nn


def _stage(in_features: int, out_features: int, *, width: int, layers: int) -> nn.Sequential:
    """``layers`` Linear layers (in → width → … → width → out), each followed by ReLU."""
    sizes = [in_features] + [width] * (layers - 1) + [out_features]
    modules: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        modules += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*modules)


class SkipMLP(nn.Module):
    """Two stages of ``layers`` Linear+ReLU of width ``width``; the first stage returns to the
    input size and its output is added to the input before the second stage.

    The second stage's last layer maps to one intensity. The authors' code follows it with
    a ReLU too (intensities are non-negative); here that last activation is left to the
    caller (:class:`srbench_arssr.network.ArSSRNetwork`), which needs a signed output when it
    predicts a residual.

    Shapes: ``(N, in_features)`` → ``(N, 1)``.
    """

    def __init__(self, in_features: int, *, width: int = 256, layers: int = 4) -> None:
        super().__init__()
        self.stage1 = _stage(in_features, in_features, width=width, layers=layers)
        stage2 = _stage(in_features, 1, width=width, layers=layers)
        self.stage2 = stage2[:-1]  # drop the final ReLU (see the class docstring)

    @property
    def output_layer(self) -> nn.Linear:
        """The final Linear layer (one output)."""
        return self.stage2[-1]  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage2(x + self.stage1(x))
