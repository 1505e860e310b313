"""The Python API outside the DAG: rank a query against a gallery, score a model file on a split.

Both reuse the DAG's own code: per-action distance blocks (:mod:`soccerreid.retrieval`),
fusion, k-reciprocal re-ranking, the SoccerNet-protocol scorer and the official one. There is
no second implementation of any of them here.

Examples::

    import soccerreid
    model = soccerreid.load_model("artifacts/models/osnet_ain/model.pt")
    q, g = model.embed(query_paths), model.embed(gallery_paths)
    result = soccerreid.rank(q, g, query_actions=qa, gallery_actions=ga, rerank=(20, 6, 0.3), top_k=10)
    result.indices[0], result.distances[0]      # the first query's 10 nearest gallery rows

    scores = soccerreid.evaluate(model, "data/index", split="valid")   # {"mAP", "rank1", ..., "official"}
"""

from __future__ import annotations

import os
import typing
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from soccerreid.config.retrieval import DistancesConfig, FusionConfig, rerank_setting
from soccerreid.data.index import read_index
from soccerreid.errors import ArgumentError, DataError
from soccerreid.evaluation import score_blocks
from soccerreid.evaluation.methods import official_section
from soccerreid.evaluation.metrics import rank_queries
from soccerreid.evaluation.ranking import ranking_from_blocks
from soccerreid.features import Embedder, extract_split, load_model
from soccerreid.retrieval import features_to_blocks, rerank_blocks
from soccerreid.retrieval.fusion import fuse_blocks
from soccerreid.schema import DistanceBlocks, FeatureSet

__all__ = ["Embedder", "Ranking", "evaluate", "load_model", "rank", "rank_blocks"]


@dataclass(frozen=True)
class Ranking:
    """Each query's nearest gallery rows: ``indices`` (Q, K) int64 rows of the gallery, nearest
    first, -1 past the end of a query's action gallery; ``distances`` (Q, K) float32, inf there."""

    indices: np.ndarray
    distances: np.ndarray


def rank(
    query: np.ndarray | Sequence[np.ndarray],
    gallery: np.ndarray | Sequence[np.ndarray],
    *,
    query_actions: np.ndarray | None = None,
    gallery_actions: np.ndarray | None = None,
    method: str = "mean",
    weights: Sequence[float] | None = None,
    normalize: str = "none",
    metric: str = "cosine",
    rerank: tuple[int, int, float] | None = None,
    top_k: int | None = None,
) -> Ranking:
    """Rank every query against the gallery of its own action, as the DAG does.

    ``query`` (Q, D) and ``gallery`` (G, D) float32 features of one model, or lists of them, one
    pair per model, which are fused with ``method`` (concat, mean, weighted, grid; ``weights``
    per model for weighted and grid) after ``normalize`` (none, minmax, zscore). Actions
    (``query_actions`` (Q,), ``gallery_actions`` (G,) ints) restrict each query to its action's
    gallery; without them every query is ranked against the whole gallery. ``rerank`` is
    (k1, k2, lambda) of k-reciprocal re-ranking per action. ``top_k`` keeps the K nearest (None or
    0: the whole gallery, as ``soccerreid rank --top-k 0``). A bad argument (NaN, infinite, empty or
    zero-width features, an unknown method, a value out of range) is a one-line
    :class:`~soccerreid.errors.ArgumentError`, a ``ValueError`` naming the argument, before any work.

    Examples::

        rank(q, g).indices[:, 0]                                    # each query's nearest gallery row
        rank([q_osnet, q_dino], [g_osnet, g_dino], method="weighted", weights=(0.6, 0.4), rerank=(20, 6, 0.3))
    """
    _check_options(method, normalize, metric, rerank, top_k)
    queries, galleries = _as_models(query, "query"), _as_models(gallery, "gallery")
    if len(queries) != len(galleries):
        raise ArgumentError(f"query has {len(queries)} models' features but gallery has {len(galleries)}")
    sets = [_feature_set(q, g, query_actions, gallery_actions, m) for m, (q, g) in enumerate(zip(queries, galleries))]
    blocks = [features_to_blocks(fs, metric) for fs in sets]
    concat_sets = sets if metric != "cosine" else None  # cosine concat comes from the blocks, as in the fuse stage
    fused = blocks[0] if len(blocks) == 1 else fuse_blocks(method, blocks, weights, normalize, concat_sets, metric)
    final = rerank_blocks(fused, *rerank) if rerank is not None else fused
    return rank_blocks(final, len(queries[0]), top_k or None)


def _check_options(method: str, normalize: str, metric: str, rerank, top_k) -> None:
    """A one-line :class:`ArgumentError` naming the first bad option; the choices and ranges are the params'."""
    _check_choice("method", method, FusionConfig, "method")
    _check_choice("normalize", normalize, FusionConfig, "normalize")
    _check_choice("metric", metric, DistancesConfig, "metric")
    if rerank is not None:
        rerank = rerank_setting(rerank)
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or isinstance(top_k, bool) or top_k < 0):
        raise ArgumentError(f"top_k: expected None or an integer >= 0 (0: the whole gallery), got {top_k!r}")


def _check_choice(name: str, value: object, owner: type, field: str) -> None:
    """``value`` must be one of the choices of params field ``owner.field`` (a Literal)."""
    choices = typing.get_args(typing.get_type_hints(owner)[field])
    if value not in choices:
        raise ArgumentError(f"{name}: expected one of {list(choices)}, got {value!r}")


def _as_models(features: np.ndarray | Sequence[np.ndarray], name: str) -> list[np.ndarray]:
    """Each model's (N, D) features as float32; empty, zero-width or non-finite ones are refused."""
    arrays = [features] if isinstance(features, np.ndarray) else list(features)
    if not arrays:
        raise ArgumentError(f"{name}: expected an (N, D) array or a list of them, got an empty list")
    checked = []
    for i, x in enumerate(arrays):
        if np.ndim(x) != 2 or np.shape(x)[0] == 0 or np.shape(x)[1] == 0:
            raise ArgumentError(f"{name}[{i}]: expected a non-empty (N, D) array with D >= 1, got shape {np.shape(x)}")
        try:
            x = np.asarray(x, dtype=np.float32)
        except (TypeError, ValueError):
            raise ArgumentError(f"{name}[{i}]: expected numbers, got dtype {np.asarray(x).dtype}") from None
        bad = ~np.isfinite(x).all(axis=1)
        if bad.any():
            raise ArgumentError(f"{name}[{i}]: row {int(np.argmax(bad))} is not finite (NaN or infinite features)")
        checked.append(x)
    return checked


def _feature_set(q: np.ndarray, g: np.ndarray, q_actions, g_actions, model: int) -> FeatureSet:
    """Query rows then gallery rows, keyed by (role, row number), with their actions (0 when none)."""
    if q.shape[1] != g.shape[1]:
        raise ArgumentError(f"model {model}: query features are {q.shape[1]}-d but gallery features {g.shape[1]}-d")
    actions = np.concatenate(
        [_actions(q_actions, len(q), "query_actions"), _actions(g_actions, len(g), "gallery_actions")]
    )
    if q_actions is None or g_actions is None:
        actions[:] = 0
    n = len(q) + len(g)
    return FeatureSet(
        features=np.concatenate([q, g]),
        bbox_idx=np.concatenate([np.arange(len(q)), np.arange(len(g))]),
        action_idx=actions,
        role=np.array(["query"] * len(q) + ["gallery"] * len(g)),
        person_uid=None,
        clazz=np.full(n, ""),
        model=f"model{model}",
        split="",
        normalized=False,
    )


def _actions(actions: np.ndarray | None, n: int, name: str) -> np.ndarray:
    if actions is None:
        return np.zeros(n, np.int64)
    actions = np.asarray(actions)
    if actions.shape != (n,) or not np.issubdtype(actions.dtype, np.integer):
        raise ArgumentError(f"{name}: expected ({n},) integers, got shape {actions.shape} dtype {actions.dtype}")
    if n and actions.min() < 0:
        raise ArgumentError(f"{name}: expected action ids >= 0, got {int(actions.min())}")
    return actions.astype(np.int64)


def rank_blocks(blocks: DistanceBlocks, num_queries: int, top_k: int | None = None) -> Ranking:
    """The :class:`Ranking` of blocks whose members' ``bbox_idx`` are row numbers of the query and gallery.

    Queries with no block (no gallery in their action) are a :class:`DataError` upstream.

    Examples::

        rank_blocks(features_to_blocks(fs), num_queries=int(fs.is_query.sum()), top_k=10)
    """
    width = int(blocks.n_gallery.max()) if top_k is None else min(top_k, int(blocks.n_gallery.max()))
    indices = np.full((num_queries, width), -1, np.int64)
    distances = np.full((num_queries, width), np.inf, np.float32)
    member_action = np.repeat(np.arange(blocks.action_idx.size), blocks.sizes)
    member_local = np.arange(member_action.size) - blocks.member_offsets[member_action]
    for query, ranked in rank_queries(blocks):
        k = min(width, ranked.shape[1])
        rows = blocks.bbox_idx[query]
        indices[rows, :k] = blocks.bbox_idx[ranked[:, :k]]
        a = member_action[query]
        n = blocks.sizes[a]
        flat = blocks.offsets[a][:, None] + member_local[query][:, None] * n[:, None] + member_local[ranked[:, :k]]
        distances[rows, :k] = blocks.values[flat]
    return Ranking(indices, distances)


def evaluate(
    model: Embedder | str | os.PathLike,
    index: str | os.PathLike,
    split: str = "valid",
    metric: str = "cosine",
    device: str = "auto",
    official_actions: int | None = None,
) -> dict:
    """Score a model file on a labelled split of the index with the SoccerNet protocol, as the DAG's
    single-model row does, and check the result with the official scorer.

    Returns the score stage's section (``mAP``, ``rank1/5/10/20``, ``num_queries``,
    ``queries_without_positive``, ``classes``) plus ``official``: the official scorer's
    ``{"mAP", "rank1", "agrees": True, "actions", "queries"}`` on ``official_actions`` evenly
    spaced actions (every action when ``None``), or why it was skipped. A disagreement is a
    :class:`DataError`.

    Examples::

        evaluate("artifacts/models/osnet_ain/model.pt", "data/index", "valid")["mAP"]
    """
    _check_choice("metric", metric, DistancesConfig, "metric")
    if official_actions is not None and (
        not isinstance(official_actions, (int, np.integer))
        or isinstance(official_actions, bool)
        or official_actions < 1
    ):
        raise ArgumentError(
            f"official_actions: expected None (every action) or an integer >= 1, got {official_actions!r}"
        )
    frame = read_index(index, split)
    embedder = model if isinstance(model, Embedder) else load_model(model)
    if (frame["person_uid"] < 0).all():
        raise DataError(f"{index}/{split}.csv: split {split} is unlabelled; evaluate needs valid or test")
    fs = extract_split(embedder, frame, embedder.info.arch, split, device)
    blocks = features_to_blocks(fs, metric)
    section = score_blocks(blocks, classes=True)
    checked = blocks.sizes.size if official_actions is None else official_actions
    section["official"] = official_section(blocks, ranking_from_blocks(blocks), checked)
    return section
