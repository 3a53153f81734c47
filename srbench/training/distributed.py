"""Multi-process data-parallel training when launched by ``torchrun``.

Instead of wrapping networks in ``DistributedDataParallel`` (which assumes one forward and
backward per module per step, while a GAN step runs several networks through several
losses), gradients are averaged at the moment each optimiser steps: a step pre-hook
all-reduces the gradients of exactly the parameters that optimiser owns. With identical
initial weights (broadcast from rank 0) and averaged gradients, every process keeps
identical weights, and the update equals a single process's update on the global batch
when the losses are means over the batch.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class DistContext:
    """Where this process stands in a (possibly single-process) run.

    Attributes:
        rank: this process's index, 0-based.
        world_size: number of processes.
        local_rank: index on this machine (picks the GPU).
        owns_group: True when this context created the process group (and destroys it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        """True when several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on the process that writes checkpoints, logs and the manifest."""
        return self.rank == 0


def init_from_env(device: str) -> tuple[DistContext, str]:
    """Join the process group described by torchrun's environment (``WORLD_SIZE`` > 1).

    Uses the ``nccl`` backend for CUDA devices and ``gloo`` otherwise. Returns the context
    and the device this process should use (``cuda:LOCAL_RANK`` for CUDA).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(), device
    local_rank = int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0")))
    cuda = str(device).startswith("cuda")
    if cuda:
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        owns = True
    context = DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank, owns_group=owns)
    return context, device


def broadcast_modules(modules: Mapping[str, torch.nn.Module], context: DistContext) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    if not context.enabled:
        return
    with torch.no_grad():
        for name in sorted(modules):
            for tensor in modules[name].state_dict().values():
                if tensor.is_contiguous():
                    dist.broadcast(tensor, src=0)
                else:  # e.g. channels-last 3D weights: send a dense copy, write it back
                    dense = tensor.contiguous()
                    dist.broadcast(dense, src=0)
                    tensor.copy_(dense)


def _average(tensors: list[torch.Tensor], world_size: int) -> None:
    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world_size
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t))
        offset += n


def average_gradients_on_step(optimizers: Iterable[torch.optim.Optimizer], context: DistContext) -> list:
    """Register step pre-hooks that average the gradients of each optimiser's parameters.

    Every process must step the same optimisers in the same order, and a parameter must
    have a gradient on every process or on none. Returns the hook handles.
    """
    if not context.enabled:
        return []

    def hook(optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        grads = [
            p.grad
            for group in optimizer.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        by_dtype: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
        for g in grads:
            by_dtype.setdefault((g.dtype, g.device), []).append(g)
        for key in sorted(by_dtype, key=str):
            _average(by_dtype[key], context.world_size)

    return [optimizer.register_step_pre_hook(hook) for optimizer in optimizers]


def mean_over_processes(values: Mapping[str, float], context: DistContext) -> dict[str, float]:
    """The mean of each scalar over all processes (same keys in the same order everywhere)."""
    if not context.enabled or not values:
        return dict(values)
    keys = list(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    tensor /= context.world_size
    return {k: float(v) for k, v in zip(keys, tensor.tolist(), strict=True)}


def barrier(context: DistContext) -> None:
    """Wait for every process (no-op for one process)."""
    if context.enabled:
        dist.barrier()


def shutdown(context: DistContext) -> None:
    """Leave the process group when this context created it."""
    if context.owns_group and dist.is_initialized():
        dist.destroy_process_group()
