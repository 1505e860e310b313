"""Pick queries for the qualitative figures (4: successes, 5: failures) from a final ranking.

Examples::

    picks = pick_retrievals(ranking, index_df, top_k=10, count=6, seed=0)
    plot_retrievals(picks.failures.query_paths, picks.failures.ranked_paths, picks.failures.matches, ...)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MATCH_COLOR = (0, 170, 0)  # RGB border of a gallery crop of the query's identity (figures 4, 5, the explorer)
MISS_COLOR = (220, 0, 0)  # RGB border of a gallery crop of another identity


@dataclass(frozen=True)
class Retrievals:
    """Queries with their top-k: ``query_paths`` (Q,), ``ranked_paths`` and ``matches`` (Q, <=k)."""

    query_paths: list[str]
    ranked_paths: list[list[str]]
    matches: list[list[bool]]


@dataclass(frozen=True)
class RetrievalPicks:
    """Successful (rank-1 correct) and failed (rank-1 wrong) example queries."""

    successes: Retrievals
    failures: Retrievals


def pick_retrievals(
    ranking: dict[str, list[int]], index: pd.DataFrame, top_k: int, count: int, seed: int
) -> RetrievalPicks:
    """Sample up to ``count`` successes and ``count`` failures, deterministically for ``seed``.

    ``ranking`` maps a query bbox_idx (str) to its ranked gallery bbox_idx list; ``index`` has
    columns role, bbox_idx, path and person_uid for every query and gallery crop of the split.
    Query and gallery bbox_idx overlap (SoccerNet numbers each list from 0), so each role is
    looked up in its own rows.
    """
    query_path, query_uid = crop_lookup(index, "query")
    gallery_path, gallery_uid = crop_lookup(index, "gallery")
    hits = {}
    for query, ranked in ranking.items():
        hits[query] = [bool(gallery_uid[g] == query_uid[int(query)]) for g in ranked[:top_k]]
    rng = np.random.default_rng(seed)
    chosen = {}
    for label, wanted in (("successes", True), ("failures", False)):
        pool = sorted(q for q, h in hits.items() if h and h[0] == wanted)
        picked = rng.permutation(pool)[:count].tolist() if pool else []
        chosen[label] = Retrievals(
            query_paths=[query_path[int(q)] for q in picked],
            ranked_paths=[[gallery_path[g] for g in ranking[q][:top_k]] for q in picked],
            matches=[hits[q] for q in picked],
        )
    return RetrievalPicks(**chosen)


def crop_lookup(index: pd.DataFrame, role: str) -> tuple[dict[int, str], dict[int, int]]:
    """``({bbox_idx: path}, {bbox_idx: person_uid})`` of the ``role`` rows of ``index``."""
    rows = index[index["role"] == role].set_index("bbox_idx")
    return rows["path"].to_dict(), rows["person_uid"].to_dict()
