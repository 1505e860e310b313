"""Vectorised access to many same-size per-action blocks at once.

Actions are grouped by their exact size n (queries + gallery); every group is handled as one
(B, n, n) array, so work is vectorised across actions and the Python loop runs over distinct
sizes (a few dozen), never over actions. Exact sizes (no padding) also keep every row's sort
identical to sorting that action alone, which the re-ranking oracle test relies on.

Examples::

    for n, actions in size_groups(blocks.sizes):
        dist = blocks.values[block_index(blocks.offsets, actions, n)]   # (B, n, n)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import numpy as np
from threadpoolctl import ThreadpoolController

_THREADPOOLS = ThreadpoolController()

CHUNK_ELEMENTS = 1 << 22
"""Upper bound on B * n**3 per chunk: bounds the temporaries of the O(n**3) steps (~16 MB each)."""


def size_groups(sizes: np.ndarray, *, cube: bool = True) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(n, actions)`` for every distinct size, in chunks of bounded work.

    ``sizes`` (A,) int64; ``actions`` (B,) int64 indices into it, ascending. A chunk holds at most
    ``CHUNK_ELEMENTS`` entries of B * n**3 (``cube``) or B * n**2, and at least one action.

    Examples::

        list(size_groups(np.array([2, 3, 2])))   # [(2, array([0, 2])), (3, array([1]))]
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    for n in np.unique(sizes):
        actions = np.flatnonzero(sizes == n)
        per_action = int(n) ** (3 if cube else 2)
        step = max(1, CHUNK_ELEMENTS // per_action)
        for start in range(0, actions.size, step):
            yield int(n), actions[start : start + step]


def block_index(offsets: np.ndarray, actions: np.ndarray, n: int) -> np.ndarray:
    """(B, n, n) int64 positions in the flat ``values`` of the blocks of ``actions`` (all of size n).

    Examples::

        values[block_index(offsets, np.array([0, 4]), 3)]   # (2, 3, 3) blocks of actions 0 and 4
    """
    return (offsets[actions][:, None] + np.arange(n * n, dtype=np.int64)).reshape(-1, n, n)


def member_index(member_offsets: np.ndarray, actions: np.ndarray, n: int) -> np.ndarray:
    """(B, n) int64 member rows of ``actions``, all of size n.

    Examples::

        blocks.bbox_idx[member_index(blocks.member_offsets, np.array([0, 4]), 3)]   # (2, 3)
    """
    return member_offsets[actions][:, None] + np.arange(n, dtype=np.int64)


def block_offsets(sizes: np.ndarray) -> np.ndarray:
    """(A+1,) int64 offsets of square blocks of the given (A,) ``sizes`` in a flat array.

    Examples::

        block_offsets(np.array([2, 3]))   # [0, 4, 13]
    """
    return np.concatenate(([0], np.cumsum(np.asarray(sizes, dtype=np.int64) ** 2))).astype(np.int64)


def single_threaded_blas(func: Callable) -> Callable:
    """Run ``func`` with BLAS limited to one thread.

    The blocks are many small matrices: BLAS threads gain nothing on them, and on a shared CPU
    their spin-waiting made the distances up to 20x slower (see docs/retrieval.md).

    Examples::

        @single_threaded_blas
        def rerank_blocks(blocks, k1, k2, lambda_value): ...
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with _THREADPOOLS.limit(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper
