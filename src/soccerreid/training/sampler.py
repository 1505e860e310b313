"""Action-aware PK batch sampler, deterministic per (seed, epoch), shardable across DDP ranks.

A global batch holds ``ids_per_batch`` (P) identities with ``images_per_id`` (K) samples each.
Identities come in groups of ``ids_per_action`` drawn from the same action, so teammates in
the same kit (the hard negatives of SoccerNet) meet inside a batch. An identity with fewer than
K images repeats some of them; each sample carries its own augmentation seed, so two copies of a
single image become two different views (the positive pair). An epoch shows every identity once.

Under DDP every rank builds the same global batch and keeps a disjoint shard of whole identities
(P / world_size identities, all K samples each); the shards of one step make up the global batch.

Examples::

    sampler = ActionPKSampler(labels, actions, ids_per_batch=8, images_per_id=4, ids_per_action=4, seed=0)
    sampler.set_epoch(3)
    for batch in sampler:              # [(index, aug_seed), ...] of length P*K (one rank: all of it)
        ...
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from soccerreid.errors import ConfigError, DataError


class ActionPKSampler:
    """Yields lists of ``(row index, augmentation seed)`` pairs; see the module docstring.

    ``labels`` (N,) int identity per row; ``actions`` (N,) int action per row (an identity lives
    in one action). ``rank`` / ``world_size`` select this process's shard of every global batch.
    """

    def __init__(
        self,
        labels: np.ndarray,
        actions: np.ndarray,
        *,
        ids_per_batch: int,
        images_per_id: int,
        ids_per_action: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if ids_per_batch % world_size:
            raise ConfigError(f"ids_per_batch: expected a multiple of the world size {world_size}, got {ids_per_batch}")
        self.ids_per_batch, self.images_per_id, self.ids_per_action = ids_per_batch, images_per_id, ids_per_action
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self._members, self._action_ids = _group_identities(np.asarray(labels), np.asarray(actions))
        if len(self._members) < ids_per_batch:
            raise DataError(f"train set has {len(self._members)} identities, fewer than ids_per_batch={ids_per_batch}")

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches to yield (same seed and epoch -> same batches)."""
        self.epoch = epoch

    def __len__(self) -> int:
        """Batches per epoch: every identity once, incomplete last batch dropped."""
        return len(self._members) // self.ids_per_batch

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = self._identity_order(rng)
        per_rank = self.ids_per_batch // self.world_size
        for b in range(len(self)):
            ids = order[b * self.ids_per_batch : (b + 1) * self.ids_per_batch]
            samples = [self._draw(i, rng) for i in ids]
            mine = samples[self.rank * per_rank : (self.rank + 1) * per_rank]
            yield [pair for group in mine for pair in group]

    def _identity_order(self, rng: np.random.Generator) -> np.ndarray:
        """All identities, in shuffled groups of ``ids_per_action`` that share an action."""
        groups = []
        for ids in self._action_ids:
            ids = rng.permutation(ids)
            groups += [ids[i : i + self.ids_per_action] for i in range(0, len(ids), self.ids_per_action)]
        return np.concatenate([groups[g] for g in rng.permutation(len(groups))])

    def _draw(self, identity: int, rng: np.random.Generator) -> list[tuple[int, int]]:
        """K (row, seed) pairs of one identity: distinct rows first, repeats only when short."""
        rows = self._members[identity]
        k = self.images_per_id
        picked = rng.permutation(rows)[:k]
        if len(picked) < k:
            picked = np.concatenate([picked, rng.choice(rows, k - len(picked))])
        seeds = rng.integers(0, 2**63 - 1, size=k)
        return [(int(r), int(s)) for r, s in zip(picked, seeds)]


def _group_identities(labels: np.ndarray, actions: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Rows of each identity (indexed by identity) and identities of each action (sorted)."""
    if labels.shape != actions.shape or labels.ndim != 1:
        raise DataError(f"labels {labels.shape} and actions {actions.shape}: expected two equal-length 1-D arrays")
    inverse = np.unique(labels, return_inverse=True)[1]
    members = _split_rows(inverse)
    first = np.array([m[0] for m in members])
    id_action = actions[first]
    action_ids = [np.flatnonzero(id_action == a) for a in np.unique(id_action)]
    return members, action_ids


def _split_rows(inverse: np.ndarray) -> list[np.ndarray]:
    """Row indices grouped by identity code, in O(N log N)."""
    order = np.argsort(inverse, kind="stable")
    cuts = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, cuts)
