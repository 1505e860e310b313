"""Per-action distance blocks from embeddings: cosine or squared euclidean, vectorised.

Examples::

    fs = read_features("artifacts/features/osnet_ain/valid.h5")
    blocks = features_to_blocks(fs, metric="cosine")     # DistanceBlocks, one block per action
"""

from __future__ import annotations

import numpy as np

from soccerreid.errors import DataError
from soccerreid.retrieval._groups import block_offsets, member_index, single_threaded_blas, size_groups
from soccerreid.schema import DistanceBlocks, FeatureSet, sort_order

METRICS = ("cosine", "euclidean")


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` (..., D) scaled to unit L2 norm (zero rows stay zero), as float32.

    Examples::

        l2_normalize(np.array([[3.0, 4.0]]))   # [[0.6, 0.8]]
    """
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, np.float32(1e-12))


def pairwise_distances(x: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """(B, n, n) float32 exactly symmetric distances between the rows of each (B, n, D) ``x``.

    ``cosine`` is 1 - cos (the Gram matrix scaled by inverse norms); ``euclidean`` is the squared euclidean
    distance, clipped at 0, as torchreid's ``compute_distance_matrix`` defines both.

    Examples::

        pairwise_distances(np.eye(2, dtype=np.float32)[None])   # [[[0, 1], [1, 0]]]
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    x = np.asarray(x, dtype=np.float32)
    gram = x @ x.transpose(0, 2, 1)
    sq = np.einsum("bnd,bnd->bn", x, x)
    if metric == "cosine":
        inv = np.float32(1) / np.maximum(np.sqrt(sq), np.float32(1e-12))
        dist = np.float32(1) - gram * inv[:, :, None] * inv[:, None, :]
    else:
        dist = np.maximum(sq[:, :, None] + sq[:, None, :] - 2 * gram, 0)
    return (dist + dist.transpose(0, 2, 1)) * np.float32(0.5)


def action_layout(action_idx: np.ndarray, is_query: np.ndarray, source: str = "features") -> tuple:
    """Per-action counts of rows sorted by (action, query first).

    ``action_idx`` (N,) int64 and ``is_query`` (N,) bool, already sorted. Returns
    ``(actions, n_query, n_gallery)``, each (A,) int64. An action without gallery is a
    :class:`DataError` naming ``source``.

    Examples::

        action_layout(np.array([5, 5, 5, 9, 9]), np.array([1, 0, 0, 1, 0], bool))   # ([5, 9], [1, 1], [2, 1])
    """
    actions, starts, counts = np.unique(action_idx, return_index=True, return_counts=True)
    n_query = np.add.reduceat(is_query.astype(np.int64), starts) if actions.size else counts
    n_gallery = counts - n_query
    empty = np.flatnonzero(n_gallery == 0)
    if empty.size:
        raise DataError(f"{source}: action {actions[empty[0]]} has queries but no gallery images")
    return actions.astype(np.int64), n_query.astype(np.int64), n_gallery.astype(np.int64)


@single_threaded_blas
def embeddings_to_blocks(
    features: np.ndarray,
    action_idx: np.ndarray,
    is_query: np.ndarray,
    bbox_idx: np.ndarray,
    person_uid: np.ndarray | None,
    clazz: np.ndarray,
    *,
    metric: str = "cosine",
    split: str = "",
    source: str = "features",
) -> DistanceBlocks:
    """Distance blocks of every action from unsorted query and gallery rows.

    ``features`` (N, D) float32; ``action_idx``, ``bbox_idx`` (N,) int64; ``is_query`` (N,) bool;
    ``person_uid`` (N,) int64 or ``None``; ``clazz`` (N,) str. Actions with no query are left
    out (they cannot change any score or ranking).

    Examples::

        blocks = embeddings_to_blocks(x, action, is_query, bbox, uid, clazz, metric="cosine")
    """
    role = np.where(is_query, "query", "gallery")
    order = sort_order(action_idx, role, bbox_idx)
    keep = order[np.isin(action_idx[order], action_idx[is_query])]
    actions, n_query, n_gallery = action_layout(action_idx[keep], is_query[keep], source)
    values = _distance_values(features, keep, n_query + n_gallery, metric)
    return DistanceBlocks(
        values=values,
        offsets=block_offsets(n_query + n_gallery),
        action_idx=actions,
        n_query=n_query,
        n_gallery=n_gallery,
        bbox_idx=np.asarray(bbox_idx, dtype=np.int64)[keep],
        person_uid=None if person_uid is None else np.asarray(person_uid, dtype=np.int64)[keep],
        clazz=np.asarray(clazz).astype(str)[keep],
        split=split,
        metric=metric,
        source=source,
    )


def features_to_blocks(fs: FeatureSet, metric: str = "cosine") -> DistanceBlocks:
    """Distance blocks of the query and gallery rows of a :class:`FeatureSet` (train rows ignored).

    Examples::

        features_to_blocks(read_features("artifacts/features/osnet_ain/valid.h5"), "cosine")
    """
    rows = np.flatnonzero(fs.role != "train")
    if rows.size == len(fs.role):
        rows = slice(None)  # no copy of the (N, D) features
    return embeddings_to_blocks(
        fs.features[rows],
        fs.action_idx[rows],
        fs.is_query[rows],
        fs.bbox_idx[rows],
        None if fs.person_uid is None else fs.person_uid[rows],
        fs.clazz[rows],
        metric=metric,
        split=fs.split,
        source=fs.model,
    )


def _distance_values(features: np.ndarray, rows: np.ndarray, sizes: np.ndarray, metric: str) -> np.ndarray:
    """(sum n_a**2,) float32 flat blocks of the member ``rows`` (M,) of ``features``."""
    offsets = block_offsets(sizes)
    member_offsets = np.concatenate(([0], np.cumsum(sizes)))
    values = np.empty(offsets[-1], dtype=np.float32)
    for n, actions in size_groups(sizes):
        x = features[rows[member_index(member_offsets, actions, n)]]
        values[(offsets[actions][:, None] + np.arange(n * n)).ravel()] = pairwise_distances(x, metric).ravel()
    return values
