"""The machine reference every benchmark divides by, and a FLOP counter for real networks.

- :func:`conv_reference`: achieved GFLOP/s of one large 3D convolution (64→64 channels,
  3³ kernel, float32, input ``(2, 64, 48, 48, 48)``), forward and forward+backward, best
  of a few repetitions after warm-up calls (the first oneDNN calls of a shape are slow,
  and the CPU is shared, so the best repetition is the machine's figure).
- :class:`FlopCounter`: counts the multiply-adds of every convolution and linear layer
  of some modules while a block of code runs, and the backward work those calls imply.

Imported by the benchmark scripts in this folder (run them as ``python benchmarks/NAME.py``
so this folder is on ``sys.path``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

REFERENCE_INPUT = (2, 64, 48, 48, 48)
"""``(B, C, W, H, D)`` of the reference convolution's input."""


def _best_rate(fn, *, flop: float, calls: int, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return flop / best / 1e9


def conv_reference(*, threads: int, repeats: int = 3) -> dict[str, float]:
    """GFLOP/s of a 64→64 3³ conv3d on :data:`REFERENCE_INPUT`, float32.

    Returns ``forward_gflops`` (under ``torch.inference_mode``) and
    ``forward_backward_gflops`` (forward, then the gradients of input and weights:
    3× the forward FLOPs per call), each the best of ``repeats`` timings. FLOPs count 2
    per multiply-add.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    conv = nn.Conv3d(64, 64, 3, padding=1)
    x = torch.randn(REFERENCE_INPUT)
    flop = 2.0 * x.numel() * 64 * 27
    with torch.inference_mode():
        forward = _best_rate(lambda: conv(x), flop=flop, calls=2, repeats=repeats, warmup=2)
    x.requires_grad_(True)

    def step() -> None:
        conv(x).sum().backward()

    backward = _best_rate(step, flop=3 * flop, calls=1, repeats=repeats, warmup=2)
    return {"forward_gflops": forward, "forward_backward_gflops": backward}


def _macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    """Multiply-adds of one call of a convolution or linear layer."""
    if isinstance(module, nn.modules.conv._ConvNd):
        k = int(np.prod(module.kernel_size))
        if isinstance(module, nn.modules.conv._ConvTransposeNd):
            return inputs[0].numel() * (module.out_channels // module.groups) * k
        return output.numel() * (module.in_channels // module.groups) * k
    return output.numel() * module.in_features  # nn.Linear


class FlopCounter:
    """Counts FLOPs (2 per multiply-add) of conv and linear layers of ``modules`` in a block.

    Forward FLOPs are counted per call. When the call records an autograd graph (the
    output requires a gradient), the backward work it implies is added: the same FLOPs
    once more for the weight gradient when the weights are trainable, once more for the
    input gradient when the input requires one. (A rule of "3× the forward" would count
    backward work for frozen networks, detached inputs and the first layer, which is not
    done.) Layers outside conv/linear (activations, norms, interpolation) are not counted.

    Usage::

        with FlopCounter(algorithm.modules.values()) as counter:
            algorithm.step(batch, ...)
        counter.forward, counter.backward, counter.total
    """

    def __init__(self, modules: Iterable[nn.Module]) -> None:
        self.layers = [
            m for root in modules for m in root.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))
        ]
        self.forward = 0.0
        self.backward = 0.0
        self._handles: list = []

    def _hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        flop = 2.0 * _macs(module, inputs, output)
        self.forward += flop
        if torch.is_grad_enabled() and output.requires_grad:
            if module.weight is not None and module.weight.requires_grad:
                self.backward += flop
            if inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].requires_grad:
                self.backward += flop

    @property
    def total(self) -> float:
        """Forward plus implied backward FLOPs."""
        return self.forward + self.backward

    def __enter__(self) -> FlopCounter:
        self._handles = [m.register_forward_hook(self._hook) for m in self.layers]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
