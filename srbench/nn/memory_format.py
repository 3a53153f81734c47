"""Which memory layout 5D activations and weights use: channels-last 3D on the CPU.

oneDNN runs 3D convolutions on channels-last (``torch.channels_last_3d``, NDHWC) tensors
without re-ordering every activation. Measured on a 2-core AVX-512 CPU
(``benchmarks/``): inference of the paper trigan generator 1.07× faster, training steps
of the ``cpu`` presets 1.04-1.4× faster, outputs equal to float32 rounding (3e-5). On
GPUs it was not measured, so ``"auto"`` keeps the contiguous layout there.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from srbench.errors import InputError

MEMORY_FORMATS = ("auto", "channels-last", "contiguous")


def memory_format_for(
    name: str, *, device: str | torch.device, setting: str = "option memory_format"
) -> torch.memory_format:
    """The torch layout for ``name`` (one of :data:`MEMORY_FORMATS`) on ``device``.

    ``"auto"`` is channels-last 3D on the CPU and contiguous elsewhere.

    Raises:
        InputError: ``name`` is not a known layout (the message starts with ``setting``).
    """
    if name not in MEMORY_FORMATS:
        raise InputError(f"{setting}: {name!r} is not one of {', '.join(MEMORY_FORMATS)}")
    channels_last = name == "channels-last" or (name == "auto" and torch.device(device).type == "cpu")
    return torch.channels_last_3d if channels_last else torch.contiguous_format


def apply_memory_format(modules: Iterable[torch.nn.Module], layout: torch.memory_format) -> None:
    """Convert every 5D parameter and buffer of ``modules`` to ``layout``, in place.

    Parameter objects are kept, so optimisers built before the call stay valid; the
    convolutions' outputs then follow the weights' layout.
    """
    for module in modules:
        module.to(memory_format=layout)
