"""CPU thread budget: the pipeline's own processes never oversubscribe the cores.

A train or extract stage runs its DataLoader workers beside the main process. PyTorch's default
of one intra-op thread per core, on top of those workers, puts more busy threads than cores on
a small machine: every OpenMP barrier then waits for a descheduled thread. On a 2-core box that
made a training step 3 to 8 times slower, and far slower still when other jobs share the cores
(docs/training.md). The budget gives torch the cores the workers leave free, at least one.

Examples::

    threads = thread_budget(requested=0, workers=1)    # 1 on a 2-core machine, 7 on 8 cores
    use_cpu_threads(threads)
"""

from __future__ import annotations

import os

import cv2
import torch


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    return max(1, len(os.sched_getaffinity(0)))


def thread_budget(requested: int, workers: int, world_size: int = 1) -> int:
    """Torch intra-op threads for one process: ``requested`` when > 0, else the cores left free.

    With ``requested == 0``: each of ``world_size`` processes gets an equal share of the cores,
    minus its ``workers`` loader processes, and at least one thread.

    Examples::

        thread_budget(0, workers=1)     # available_cores() - 1, at least 1
        thread_budget(4, workers=2)     # 4
    """
    if requested > 0:
        return requested
    return max(1, available_cores() // max(1, world_size) - workers)


def use_cpu_threads(threads: int) -> None:
    """Run torch with ``threads`` intra-op threads and cv2 single-threaded in this process."""
    torch.set_num_threads(threads)
    cv2.setNumThreads(1)
