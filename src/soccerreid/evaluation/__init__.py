"""SoccerNet-protocol scoring: mAP and CMC per action, per class, and the official ranking format.

The scoring entry points, from embeddings to the whole scores file (each returns fractions in
[0, 1] under ``mAP``, ``rank<k>``, ``num_queries`` and ``queries_without_positive``):

- :func:`score_embeddings`: (N, D) features and their labels; training's validation, the API.
- :func:`score_blocks`: labelled distance blocks of one method, ``classes=True`` adds the class
  groups; ``soccerreid.evaluate``.
- :func:`~soccerreid.evaluation.methods.score_table`: the final blocks and every Table 1 row,
  ``(scores, cmc_csv)``.
- :func:`~soccerreid.evaluation.scores.score_run`: the score stage's scores file, CMC table and
  rankings (``score_table`` on the scored split, held-out test, challenge, the official check).

Under them, :mod:`~soccerreid.evaluation.metrics` (``score_queries`` -> ``QueryResults``,
``summarize``, ``cmc_curve``) is the per-query core, and
:func:`~soccerreid.evaluation.methods.official_section` checks ours against the official scorer.

Examples::

    from soccerreid.evaluation import score_embeddings
    score_embeddings(features, action_idx, person_uid, is_query)   # {"mAP": ..., "rank1": ...}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from soccerreid.evaluation.metrics import (
    CLASS_GROUPS,
    RANKS,
    QueryResults,
    class_group,
    cmc_curve,
    rank_queries,
    score_queries,
    summarize,
    summarize_by_class,
)
from soccerreid.retrieval.distances import embeddings_to_blocks
from soccerreid.schema import DistanceBlocks

__all__ = [
    "CLASS_GROUPS",
    "RANKS",
    "QueryResults",
    "class_group",
    "cmc_curve",
    "rank_queries",
    "score_blocks",
    "score_embeddings",
    "score_queries",
    "summarize",
    "summarize_by_class",
]


def score_blocks(blocks: DistanceBlocks, ranks: Sequence[int] = RANKS, classes: bool = False) -> dict:
    """:func:`summarize` of every query of labelled distance ``blocks``; with ``classes``, also
    ``"classes": {group: summary}`` per class group (:func:`summarize_by_class`), as a row of the
    scores file.

    Examples::

        score_blocks(read_blocks("artifacts/reranked/valid.h5"))["rank1"]
        score_blocks(read_blocks("artifacts/distances/osnet_ain/valid.h5"), classes=True)["classes"]
    """
    results = score_queries(blocks)
    summary = summarize(results, tuple(ranks))
    if classes:
        summary["classes"] = summarize_by_class(blocks, results, tuple(ranks))
    return summary


def score_embeddings(
    features: np.ndarray,
    action_idx: np.ndarray,
    person_uid: np.ndarray,
    is_query: np.ndarray,
    metric: str = "cosine",
) -> dict:
    """mAP and CMC of embeddings under the SoccerNet protocol (each query vs. its action's gallery).

    ``features`` (N, D) float32; ``action_idx``, ``person_uid`` (N,) int64; ``is_query`` (N,) bool.
    Returns ``{"mAP", "rank1", "rank5", "rank10", "rank20", "num_queries",
    "queries_without_positive"}`` with fractions in [0, 1].

    Examples::

        scores = score_embeddings(x, action, uid, role == "query")
        scores["mAP"], scores["rank1"]
    """
    n = _check_embeddings(features, action_idx=action_idx, person_uid=person_uid, is_query=is_query)
    blocks = embeddings_to_blocks(
        np.asarray(features, dtype=np.float32),
        np.asarray(action_idx, dtype=np.int64),
        np.asarray(is_query, dtype=bool),
        np.arange(n, dtype=np.int64),
        np.asarray(person_uid, dtype=np.int64),
        np.full(n, "", dtype=object),
        metric=metric,
        source="embeddings",
    )
    return score_blocks(blocks)


def _check_embeddings(features: np.ndarray, **columns: np.ndarray) -> int:
    """Number of rows N, after checking ``features`` is (N, D) and every column is (N,)."""
    if np.ndim(features) != 2:
        raise ValueError(f"features must be 2-D (N, D), got shape {np.shape(features)}")
    n = len(features)
    for name, column in columns.items():
        if np.shape(column) != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {np.shape(column)}")
    return n
