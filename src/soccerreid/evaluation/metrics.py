"""Exact SoccerNet-protocol ranking and scoring from per-action distance blocks.

Each query is ranked against its own action's gallery only, by ascending distance with ties
broken by gallery order (bbox_idx), the order :func:`rank_queries` exports. Average precision is
the mean of precision at each positive, as the official scorer computes it; CMC is not truncated
(a first positive at rank r counts for every k >= r). Queries without a positive in their
gallery have no defined AP: they are counted in ``queries_without_positive`` and left out of
the averages, which then equal the official scorer's whenever it accepts the ranking.

Examples::

    results = score_queries(blocks)
    summarize(results)["mAP"]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from soccerreid.errors import DataError
from soccerreid.schema import DistanceBlocks

RANKS = (1, 5, 10, 20)
CLASS_GROUPS = ("players", "goalkeepers", "referees_staff")


@dataclass(frozen=True)
class QueryResults:
    """Per-query outcome, in block member order.

    ``query`` (Q,) int64 member rows; ``average_precision`` (Q,) float64, NaN without positive;
    ``first_hit`` (Q,) int64 1-based rank of the first positive, 0 without positive.
    """

    query: np.ndarray
    average_precision: np.ndarray
    first_hit: np.ndarray

    @property
    def has_positive(self) -> np.ndarray:
        """(Q,) bool: the query's identity appears in its gallery."""
        return self.first_hit > 0

    def subset(self, mask: np.ndarray) -> QueryResults:
        """Results of the queries selected by the (Q,) bool ``mask``."""
        return QueryResults(self.query[mask], self.average_precision[mask], self.first_hit[mask])


def rank_queries(blocks: DistanceBlocks) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(query, ranked)`` per gallery size g: ``query`` (Qg,) int64 member rows and
    ``ranked`` (Qg, g) int64 gallery member rows, nearest first (stable: ties keep bbox order).

    Examples::

        for query, ranked in rank_queries(blocks):
            blocks.bbox_idx[ranked[0]]        # first query's ranking as bbox_idx
    """
    for query, index, first_gallery in _gallery_groups(blocks):
        yield query, first_gallery[:, None] + np.argsort(blocks.values[index], axis=1, kind="stable")


def _gallery_groups(blocks: DistanceBlocks) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per gallery size g: query member rows (Qg,), the flat positions of their gallery
    distances in ``blocks.values`` (Qg, g), and the member row of their first gallery item (Qg,)."""
    member_offsets = blocks.member_offsets
    for g in np.unique(blocks.n_gallery):
        q_action, q_local = query_rows(blocks.n_query, np.flatnonzero(blocks.n_gallery == g))
        n_q = blocks.n_query[q_action]
        row_start = blocks.offsets[q_action] + q_local * (n_q + g) + n_q
        yield member_offsets[q_action] + q_local, row_start[:, None] + np.arange(g), member_offsets[q_action] + n_q


def query_rows(n_query: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(q_action, q_local)``, each (Q,) int64: the action and in-block row of every query of ``actions``.

    Examples::

        query_rows(np.array([2, 1]), np.array([0, 1]))   # ([0, 0, 1], [0, 1, 0])
    """
    counts = n_query[actions]
    q_action = np.repeat(actions, counts)
    q_local = np.arange(q_action.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return q_action, q_local


class QueryTable:
    """The query-gallery distances of labelled blocks as one flat array, to score many variants.

    :meth:`rows` gathers, from any ``values`` laid out like ``blocks.values`` (a fusion of the
    same members, say), each query's gallery distances: (R,) float32, R = the sum over queries of
    their gallery size; ``element_action`` (R,) is the action (block number) of each entry.
    :meth:`score` scores such rows exactly as :func:`score_queries` scores the blocks they came
    from; the gather and the identity matches are done once.

    Examples::

        table = QueryTable(blocks)
        results = table.score(table.rows(fused_values))      # == score_queries(fused blocks)
    """

    def __init__(self, blocks: DistanceBlocks) -> None:
        if not blocks.labelled:
            raise DataError(f"{blocks.split or 'blocks'}: cannot score unlabelled data (no person_uid)")
        groups = list(_gallery_groups(blocks))
        uid = blocks.person_uid
        self.index = np.concatenate([index.ravel() for _, index, _ in groups])
        action = [np.searchsorted(blocks.member_offsets, q, "right") - 1 for q, _, _ in groups]
        self.element_action = np.concatenate([np.repeat(a, i.shape[1]) for a, (_, i, _) in zip(action, groups)])
        self._shapes = [index.shape for _, index, _ in groups]
        self._matches = [uid[first[:, None] + np.arange(i.shape[1])] == uid[q][:, None] for q, i, first in groups]
        query = np.concatenate([q for q, _, _ in groups])
        self._order = np.argsort(query, kind="stable")
        self.query = query[self._order]

    def rows(self, values: np.ndarray) -> np.ndarray:
        """(R,) the gallery distances of every query, from ``values`` (sum n_a**2,) in the blocks' layout."""
        return values[self.index]

    def score(self, rows: np.ndarray) -> QueryResults:
        """AP and first-positive rank of every query, in member order, from :meth:`rows` output."""
        parts, start = [], 0
        for shape, matches in zip(self._shapes, self._matches):
            dist = rows[start : start + shape[0] * shape[1]].reshape(shape)
            start += dist.size
            parts.append(_score_matches(np.take_along_axis(matches, np.argsort(dist, axis=1, kind="stable"), axis=1)))
        ap, first = (np.concatenate(column)[self._order] for column in zip(*parts))
        return QueryResults(self.query, ap, first)


def score_queries(blocks: DistanceBlocks) -> QueryResults:
    """AP and first-positive rank of every query of labelled ``blocks``.

    Examples::

        results = score_queries(blocks)
        results.average_precision.shape      # (num_queries,)
    """
    table = QueryTable(blocks)
    return table.score(table.rows(blocks.values))


def _score_matches(matches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AP (Q,) float64 and first-hit rank (Q,) int64 of queries whose ranked galleries match as (Q, g) bool."""
    num_rel = matches.sum(axis=1)
    precision = matches.cumsum(axis=1) / np.arange(1.0, matches.shape[1] + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (precision * matches).sum(axis=1) / num_rel
    first = np.where(num_rel > 0, matches.argmax(axis=1) + 1, 0)
    return np.where(num_rel > 0, ap, np.nan), first.astype(np.int64)


def cmc_curve(results: QueryResults, max_rank: int = 50) -> np.ndarray:
    """(max_rank,) float64: fraction of queries with a positive whose first hit is at rank <= k.

    Examples::

        cmc_curve(score_queries(blocks), max_rank=20)[4]   # Rank-5
    """
    hits = results.first_hit[results.has_positive]
    if hits.size == 0:
        return np.zeros(max_rank)
    counts = np.bincount(np.minimum(hits, max_rank + 1), minlength=max_rank + 2)[1 : max_rank + 1]
    return np.cumsum(counts) / hits.size


def summarize(results: QueryResults, ranks: tuple[int, ...] = RANKS) -> dict:
    """``{"mAP", "rank<k>" for k in ranks, "num_queries", "queries_without_positive"}``, fractions in [0, 1].

    Examples::

        summarize(score_queries(blocks))     # {"mAP": 0.61, "rank1": 0.52, ...}
    """
    valid = results.has_positive
    scored = results.subset(valid)
    out = {"mAP": float(np.mean(scored.average_precision)) if valid.any() else 0.0}
    for k in ranks:
        out[f"rank{k}"] = float(np.mean(scored.first_hit <= k)) if valid.any() else 0.0
    out["num_queries"] = int(valid.size)
    out["queries_without_positive"] = int(valid.size - valid.sum())
    return out


def class_group(clazz: np.ndarray) -> np.ndarray:
    """(N,) str group of each SoccerNet class: players, goalkeepers, referees_staff or other.

    Examples::

        class_group(np.array(["Player_team_left", "Main_referee"]))   # players, referees_staff
    """
    clazz = np.asarray(clazz).astype(str)
    group = np.full(clazz.shape, "other", dtype=object)
    group[np.char.startswith(clazz, "Player")] = "players"
    group[np.char.startswith(clazz, "Goalkeeper")] = "goalkeepers"
    group[np.isin(clazz, ["Main_referee", "Side_referee", "Staff_members"])] = "referees_staff"
    return group


def summarize_by_class(blocks: DistanceBlocks, results: QueryResults, ranks: tuple[int, ...] = RANKS) -> dict:
    """``{group: summarize(...)}`` for each class group present among the queries.

    Examples::

        summarize_by_class(blocks, score_queries(blocks))["goalkeepers"]["mAP"]
    """
    group = class_group(blocks.clazz[results.query])
    present = [g for g in (*CLASS_GROUPS, "other") if np.any(group == g)]
    return {g: summarize(results.subset(group == g), ranks) for g in present}
