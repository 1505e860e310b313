"""Process-group plumbing for ``torchrun --nproc_per_node=N``: NCCL on CUDA, gloo on CPU.

Outside torchrun everything degrades to one process: rank 0 of 1, no collectives. Under
torchrun, even with one process, the group is real (the same code paths as N processes). Only
rank 0 writes files (checkpoints, dvclive, outputs) and prints (:func:`say`).

Examples::

    ctx = init_distributed()            # reads RANK / WORLD_SIZE / LOCAL_RANK set by torchrun
    if ctx.is_main:
        save(...)
    barrier()
    shutdown_distributed()
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn

from soccerreid.device import select_device


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job and the device it trains on.

    ``distributed`` is True inside a process group (any torchrun launch, even of one process):
    the trainer then wraps the net in DDP, with SyncBatchNorm on CUDA.
    """

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    distributed: bool = False
    backend: str = ""

    @property
    def is_main(self) -> bool:
        """True on the one process that writes files."""
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistContext:
    """Join the torchrun process group if launched by torchrun; pick the device.

    ``device``: "auto" (CUDA if available, else CPU), "cpu" or "cuda". Under torchrun (even with
    ``--nproc_per_node=1``) each rank takes ``cuda:LOCAL_RANK`` with NCCL for CUDA tensors and
    gloo for CPU ones (epoch statistics, broadcast objects), or the CPU with gloo alone.
    """
    target = select_device(device)
    use_cuda = target.type == "cuda"
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1 and "TORCHELASTIC_RUN_ID" not in os.environ:
        return DistContext(device=target)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    backend = "cpu:gloo,cuda:nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    target = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    return DistContext(
        rank=dist.get_rank(), world_size=dist.get_world_size(), device=target, distributed=True, backend=backend
    )


def is_distributed() -> bool:
    """True inside an initialised process group (of one process or more)."""
    return dist.is_available() and dist.is_initialized()


def say(ctx: DistContext, message: str) -> None:
    """Print ``message`` to stderr on the main rank only."""
    if ctx.is_main:
        print(message, file=sys.stderr, flush=True)


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    if is_distributed():
        dist.barrier()


def shutdown_distributed() -> None:
    """Leave the process group, if any."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (B, ...) from every rank in rank order -> (W*B, ...), keeping gradients.

    Gradients flow back to each rank's own slice (summed over ranks); for integer tensors the
    gather is plain. Every rank must pass the same shape. One process: returns ``x``.
    """
    if not is_distributed():
        return x
    if not x.is_floating_point():
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)
    return torch.cat(dist_fn.all_gather(x))


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Average each float over the ranks (identity in one process); every rank gets the result."""
    if not is_distributed():
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    return dict(zip(keys, (t / dist.get_world_size()).tolist()))


def broadcast_object(obj: object) -> object:
    """Rank 0's ``obj`` on every rank (identity in one process)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
