"""Hierarchical PK batch sampler: deterministic per (seed, epoch), shardable across DDP ranks.

A global batch holds ``ids_per_batch`` (P) identities with ``images_per_id`` (K) samples each.
It is filled level by level around a seed identity, as sportsreid's hierarchical sampler does
(``torchreid/data/sampler.py``, ``RandomIdentitySampler_Hierarchical``), with a count per level:
up to ``ids_per_action`` identities of the seed's action, then more actions of the same game
(``actions_per_game`` in all, each with up to ``ids_per_action`` identities), then more games of
the same competition (championship/season; ``games_per_competition`` in all); when the batch is
still short, a new seed starts another such group. Teammates in the same kit, who are the hard
negatives of SoccerNet, therefore meet inside a batch. ``actions_per_game=1`` and
``games_per_competition=1`` give plain action-aware batches; large counts give sportsreid's
"same action first, then the same match, then the same league".

An epoch reaches every image: each identity's images are shuffled and cut into chunks of K
(the last one completed with other images of the identity, or repeats when it has fewer than K),
and every chunk is one slot of the epoch. An identity with 7 images and K=2 fills 4 slots, in 4
different batches. Each sample carries its own augmentation seed, so two copies of one image are
two different views (the positive pair of a single-image identity). The epoch has
ceil(slots / P) batches; identities are distinct within a batch until the last slots of an
epoch leave no other choice, and the last batch is completed with identities of the epoch's
first batch.

Under DDP every rank builds the same global batch and keeps a disjoint shard of whole identities
(P / world_size identities, all K samples each); the shards of one step make up the global batch.

Examples::

    sampler = ActionPKSampler(labels, actions, ids_per_batch=8, images_per_id=4, ids_per_action=4, seed=0,
                              games=games, competitions=competitions, actions_per_game=2)
    sampler.set_epoch(3)
    for batch in sampler:              # [(index, aug_seed), ...] of length P*K (one rank: all of it)
        ...
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from soccerreid.errors import ConfigError, DataError


class ActionPKSampler:
    """Yields lists of ``(row index, augmentation seed)`` pairs; see the module docstring.

    ``labels`` (N,) int identity per row; ``actions`` (N,) int action per row (an identity lives
    in one action); ``games`` and ``competitions`` (N,) the game and competition of each row
    (any sortable keys; one game and one competition when None). ``rank`` / ``world_size``
    select this process's shard of every global batch.
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
        games: np.ndarray | None = None,
        competitions: np.ndarray | None = None,
        actions_per_game: int = 1,
        games_per_competition: int = 1,
    ) -> None:
        if ids_per_batch % world_size:
            raise ConfigError(f"ids_per_batch: expected a multiple of the world size {world_size}, got {ids_per_batch}")
        self.ids_per_batch, self.images_per_id = ids_per_batch, images_per_id
        self.counts = (ids_per_action, actions_per_game, games_per_competition)
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        self._tree = _Hierarchy.build(np.asarray(labels), np.asarray(actions), games, competitions)
        if self._tree.num_identities < ids_per_batch:
            raise DataError(
                f"train set has {self._tree.num_identities} identities, fewer than ids_per_batch={ids_per_batch}"
            )
        self._batches = epoch_batches(np.asarray(labels), images_per_id, ids_per_batch)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches to yield (same seed and epoch -> same batches)."""
        self.epoch = epoch

    def __len__(self) -> int:
        """Batches per epoch (:func:`epoch_batches`)."""
        return self._batches

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        plan = _EpochPlan(self._tree, self.images_per_id, self.counts, rng)
        per_rank = self.ids_per_batch // self.world_size
        for _ in range(len(self)):
            chunks = plan.next_batch(self.ids_per_batch)
            seeds = rng.integers(0, 2**63 - 1, size=(len(chunks), self.images_per_id))
            mine = range(self.rank * per_rank, (self.rank + 1) * per_rank)
            yield [(int(row), int(s)) for i in mine for row, s in zip(chunks[i], seeds[i])]


def derive_seed(*keys: int) -> int:
    """A 63-bit seed that is a pure function of ``keys`` (e.g. seed, phase, step)."""
    return int(np.random.SeedSequence(list(keys)).generate_state(2, np.uint64)[0] >> np.uint64(1))


def epoch_batches(labels: np.ndarray, images_per_id: int, ids_per_batch: int) -> int:
    """Batches of an epoch: ceil(slots / P), where an identity of n images fills ceil(n / K) slots.

    ``labels`` (N,) the identity of each row.

    Examples::

        epoch_batches(np.repeat(np.arange(4), [1, 2, 3, 5]), images_per_id=2, ids_per_batch=2)   # 4
    """
    counts = np.unique(np.asarray(labels), return_counts=True)[1]
    return math.ceil(int(np.ceil(counts / images_per_id).sum()) / ids_per_batch)


class _Hierarchy:
    """Rows of each identity and the tree identity -> action -> game -> competition, as int codes."""

    def __init__(self, members, action_of, game_of, competition_of) -> None:
        self.members, self.action_of, self.game_of, self.competition_of = members, action_of, game_of, competition_of
        self.num_identities = len(members)

    @classmethod
    def build(cls, labels, actions, games, competitions) -> _Hierarchy:
        n = len(labels)
        columns = [actions, *(np.zeros(n, np.int64) if c is None else np.asarray(c) for c in (games, competitions))]
        if labels.ndim != 1 or any(np.shape(c) != labels.shape for c in columns):
            shapes = ", ".join(str(np.shape(c)) for c in (labels, *columns))
            raise DataError(f"labels, actions, games, competitions {shapes}: expected equal-length 1-D arrays")
        members = _split_rows(np.unique(labels, return_inverse=True)[1])
        first = np.array([m[0] for m in members])
        # an action belongs to its (competition, game) pair, a game to its competition
        action_key = np.unique(np.rec.fromarrays([columns[2], columns[1], columns[0]])[first], return_inverse=True)[1]
        game_key = np.unique(np.rec.fromarrays([columns[2], columns[1]])[first], return_inverse=True)[1]
        competition_key = np.unique(columns[2][first], return_inverse=True)[1]
        action_of = action_key
        game_of = _parent_codes(action_key, game_key)
        competition_of = _parent_codes(game_key, competition_key)
        return cls(members, action_of, game_of, competition_of)


def _parent_codes(child: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """(C,) parent code of every child code, from per-identity (I,) child and parent codes."""
    out = np.zeros(child.max() + 1, np.int64)
    out[child] = parent
    return out


def _split_rows(inverse: np.ndarray) -> list[np.ndarray]:
    """Row indices grouped by identity code, in O(N log N)."""
    order = np.argsort(inverse, kind="stable")
    cuts = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, cuts)


def _children(parent_of: np.ndarray, rng: np.random.Generator) -> list[list[int]]:
    """Children of every parent code, each list in a random order."""
    lists: list[list[int]] = [[] for _ in range(parent_of.max() + 1)]
    for child in rng.permutation(len(parent_of)):
        lists[parent_of[child]].append(int(child))
    return lists


class _EpochPlan:
    """One epoch's slots and the level-by-level fill of its batches (see the module docstring)."""

    def __init__(self, tree: _Hierarchy, k: int, counts: tuple[int, int, int], rng: np.random.Generator) -> None:
        self.tree, self.counts = tree, counts
        self.chunks = [_chunks(rows, k, rng) for rows in tree.members]
        self.used = [0] * tree.num_identities
        self.ids_of_action = _children(tree.action_of, rng)
        self.actions_of_game = _children(tree.game_of, rng)
        self.games_of_competition = _children(tree.competition_of, rng)
        self.left_in_action = np.bincount(tree.action_of, [len(c) for c in self.chunks]).astype(int).tolist()
        self.seeds = rng.permutation(np.repeat(np.arange(tree.num_identities), [len(c) for c in self.chunks])).tolist()
        self.next_seed = 0
        self.first_batch: list[int] = []
        self.batch: list[int] = []
        self.taken: list[np.ndarray] = []

    def next_batch(self, size: int) -> list[np.ndarray]:
        """The K-row chunks of the next batch: ``size`` slots, filled around seed identities."""
        self.batch, self.taken = [], []
        while len(self.batch) < size:
            seed = self._seed()
            if seed is None:
                self._complete(size)
                break
            self._fill_competition(seed, size)
        if not self.first_batch:
            self.first_batch = list(self.batch)
        return self.taken

    def _available(self, identity: int) -> bool:
        return self.used[identity] < len(self.chunks[identity])

    def _eligible(self, identity: int) -> bool:
        return self._available(identity) and identity not in self.batch

    def _take(self, identity: int) -> None:
        self.taken.append(self.chunks[identity][self.used[identity]])
        self.used[identity] += 1
        self.left_in_action[self.tree.action_of[identity]] -= 1
        self.batch.append(identity)

    def _seed(self) -> int | None:
        """The next identity of the epoch's slot order with a slot left and not in the batch yet."""
        while self.next_seed < len(self.seeds) and not self._available(self.seeds[self.next_seed]):
            self.next_seed += 1
        for i in range(self.next_seed, len(self.seeds)):
            if self._eligible(self.seeds[i]):
                return self.seeds[i]
        return None

    def _fill_competition(self, seed: int, size: int) -> None:
        """The seed, then its game (``actions_per_game`` actions), then ``games_per_competition - 1`` more games."""
        action = int(self.tree.action_of[seed])
        game = int(self.tree.game_of[action])
        self._take(seed)
        self._fill_game(game, size, first_action=action)
        filled = 1
        for other in self.games_of_competition[self.tree.competition_of[game]]:
            if filled == self.counts[2] or len(self.batch) >= size:
                return
            if other != game:
                filled += self._fill_game(other, size)

    def _fill_game(self, game: int, size: int, first_action: int | None = None) -> int:
        """Up to ``actions_per_game`` action groups of ``game``, ``first_action`` (already seeded) first; 1 if any."""
        filled = self._fill_action(first_action, size, seeded=True) if first_action is not None else 0
        for action in self.actions_of_game[game]:
            if filled == self.counts[1] or len(self.batch) >= size:
                break
            if action != first_action and self.left_in_action[action]:
                filled += self._fill_action(action, size, seeded=False)
        return int(filled > 0)

    def _fill_action(self, action: int, size: int, seeded: bool) -> int:
        """Add up to ``ids_per_action`` identities of ``action`` (a seed already taken counts); 1 if any."""
        count = int(seeded)
        for identity in self.ids_of_action[action]:
            if count == self.counts[0] or len(self.batch) >= size:
                break
            if self._eligible(identity):
                self._take(identity)
                count += 1
        return int(count > 0)

    def _complete(self, size: int) -> None:
        """End of the epoch: fill with the slots left (repeating an identity if need be), then
        with identities of the epoch's first batch."""
        for i in range(self.next_seed, len(self.seeds)):
            while len(self.batch) < size and self._available(self.seeds[i]):
                self._take(self.seeds[i])
        for identity in self.first_batch:
            if len(self.batch) >= size:
                return
            if identity not in self.batch:
                self.taken.append(self.chunks[identity][0])
                self.batch.append(identity)


def _chunks(rows: np.ndarray, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """An identity's rows shuffled and cut into ceil(n / k) chunks of k; the last is completed with
    other rows of the identity (repeats only when it has fewer than k)."""
    rows = rng.permutation(rows)
    count = math.ceil(len(rows) / k)
    short = count * k - len(rows)
    if short:
        spare = rows[: len(rows) - (k - short)] if len(rows) >= k else rows
        rows = np.concatenate([rows, rng.choice(spare, short, replace=len(spare) < short)])
    return [rows[i * k : (i + 1) * k] for i in range(count)]
