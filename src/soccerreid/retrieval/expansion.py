"""Query expansion per action: fast-reid's AQE, alpha-QE and database-side augmentation (DBA).

fast-reid's ``aqe`` (``fastreid/evaluation/query_expansion.py``) replaces every query and
gallery feature by the mean of its ``k`` most similar features of the set (cosine similarity of
the L2-normalised features; the feature itself is among them, its similarity being 1), each
weighted by similarity ** ``alpha``, and repeats that ``times`` times, each pass ranking by the
previous pass's features; the features it returns are not re-normalised. Here the set is one
action's query+gallery members, as SoccerNet ranks within an action. Two variants change who is
expanded and over whom:

- ``aqe``: every member, over every member of the action (fast-reid);
- ``alpha_qe``: the queries only, over themselves and the gallery (Radenovic et al.'s alpha-QE);
- ``dba``: the gallery only, over the gallery (database-side augmentation).

An expansion is a linear map ``X' = W X`` of the features, so the Gram matrix follows as
``G' = W G W^T``. Cosine blocks of unit features hold ``G = 1 - D`` for every pair of an action,
so :func:`expand_blocks` is exact from the blocks, with no features: the same result as
:func:`expand_features` on the features (the tests check it on random actions). A weighted
fusion of cosine blocks is such a block too (the Gram of the weighted concatenation of the
models' unit features). Where ``k`` exceeds the candidates (small actions) all of them are used
and the mean is over those; fast-reid would fail there.

Examples::

    expanded = average_query_expansion(features, qe_k=5, alpha=3.0, times=1)   # one action, (n, D)
    blocks = expand_blocks(fused, "aqe", k=5, alpha=3.0, times=1)             # every action, exact
"""

from __future__ import annotations

import numpy as np

from soccerreid.errors import DataError
from soccerreid.retrieval._groups import block_index, single_threaded_blas, size_groups
from soccerreid.schema import DistanceBlocks

QE_METHODS = ("aqe", "alpha_qe", "dba")
GRAM_TOLERANCE = 1e-4
"""Largest ``|d(i, i)|`` of a cosine block of unit features (float32 rounding is ~1e-7)."""


def average_query_expansion(features: np.ndarray, qe_k: int = 5, alpha: float = 3.0, times: int = 1) -> np.ndarray:
    """fast-reid's ``aqe`` on one action: (n, D) query+gallery features -> (n, D) float32 expanded.

    Each row becomes the mean of its ``qe_k`` most similar rows (itself included) weighted by
    cosine similarity ** ``alpha``, ``times`` times; not re-normalised. Equal to
    ``torch.cat(fastreid.evaluation.query_expansion.aqe(q, g, times, qe_k, alpha))`` on the same rows.

    Examples::

        average_query_expansion(np.random.rand(26, 512).astype(np.float32), qe_k=5, alpha=3.0, times=1).shape
    """
    return expand_features(features, 0, "aqe", qe_k, alpha, times)


def expand_features(features: np.ndarray, n_query: int, method: str, k: int, alpha: float, times: int) -> np.ndarray:
    """Query expansion ``method`` on one action's (n, D) features, queries first (``n_query`` of them).

    Returns (n, D) float32; the rows ``method`` does not expand are returned unchanged.

    Examples::

        expand_features(x, n_query=6, method="dba", k=5, alpha=3.0, times=1)
    """
    _check(method, k, alpha, times)
    x = np.asarray(features, dtype=np.float64)
    is_query = np.arange(len(x)) < n_query
    for _ in range(times):
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        x = expansion_weights(unit @ unit.T, is_query, method, k, alpha) @ x
    return x.astype(np.float32)


@single_threaded_blas
def expand_blocks(blocks: DistanceBlocks, method: str, k: int, alpha: float, times: int) -> DistanceBlocks:
    """Query expansion ``method`` on every action of cosine ``blocks`` of unit features, exactly.

    Returns blocks of the cosine distances between the expanded features (float32), with source
    ``qe:<method>/<k>/<alpha>/<times>``. Blocks that are not such cosine blocks (another metric,
    a normalised fusion) are a one-line :class:`DataError`.

    Examples::

        expand_blocks(fused, "aqe", k=5, alpha=3.0, times=1).query_gallery(0)
    """
    _check(method, k, alpha, times)
    check_cosine_gram(blocks)
    values = np.empty_like(blocks.values)
    for n, actions in size_groups(blocks.sizes):
        index = block_index(blocks.offsets, actions, n)
        is_query = np.arange(n)[None, :] < blocks.n_query[actions][:, None]
        values[index] = 1.0 - _expand_gram(
            1.0 - blocks.values[index].astype(np.float64), is_query, method, k, alpha, times
        )
    return blocks.with_values(values, source=f"qe:{method}/{k}/{alpha:g}/{times}")


def qe_variants(blocks: DistanceBlocks, k: int, alpha: float, times: int) -> dict[str, DistanceBlocks]:
    """``{method: expanded blocks}`` for every method of :data:`QE_METHODS`, all at (k, alpha, times)
    (Table 1's rows); empty when ``blocks`` are not cosine blocks of unit features.

    Examples::

        qe_variants(fused, k=5, alpha=3.0, times=1)["aqe"]
    """
    if not is_cosine_gram(blocks):
        return {}
    return {method: expand_blocks(blocks, method, k, alpha, times) for method in QE_METHODS}


def is_cosine_gram(blocks: DistanceBlocks) -> bool:
    """True when ``blocks`` are cosine distances of unit features: metric ``cosine`` and every
    ``d(i, i)`` within :data:`GRAM_TOLERANCE` of 0 (a normalised fusion is not).

    Examples::

        is_cosine_gram(read_blocks("artifacts/fused/valid.h5"))
    """
    return blocks.metric == "cosine" and _largest_self_distance(blocks) <= GRAM_TOLERANCE


def check_cosine_gram(blocks: DistanceBlocks) -> None:
    """Raise a one-line :class:`DataError` unless :func:`is_cosine_gram`.

    Examples::

        check_cosine_gram(read_blocks("artifacts/fused/valid.h5"))
    """
    if not is_cosine_gram(blocks):
        raise DataError(
            f"{blocks.source} ({blocks.split}): query expansion needs cosine distance blocks of unit features, got "
            "metric "
            f"{blocks.metric} with |d(i, i)| up to {_largest_self_distance(blocks):.3g} (a normalised fusion or "
            "another metric)"
        )


def _largest_self_distance(blocks: DistanceBlocks) -> float:
    sizes = blocks.sizes
    starts = np.repeat(blocks.offsets[:-1], sizes)
    within = np.arange(int(sizes.sum())) - np.repeat(blocks.member_offsets[:-1], sizes)
    diagonal = blocks.values[starts + within * (np.repeat(sizes, sizes) + 1)]
    return float(np.abs(diagonal).max(initial=0.0))


def _expand_gram(gram: np.ndarray, is_query: np.ndarray, method: str, k: int, alpha: float, times: int) -> np.ndarray:
    """(B, n, n) cosine similarities of the expanded features, from the (B, n, n) Gram of unit features."""
    sims = gram
    for _ in range(times):
        weights = expansion_weights(sims, is_query, method, k, alpha)
        gram = weights @ gram @ weights.transpose(0, 2, 1)
        norm = np.maximum(np.sqrt(np.maximum(np.einsum("bii->bi", gram), 0.0)), 1e-12)
        sims = gram / norm[:, :, None] / norm[:, None, :]
    return (sims + sims.transpose(0, 2, 1)) * 0.5


def expansion_weights(sims: np.ndarray, is_query: np.ndarray, method: str, k: int, alpha: float) -> np.ndarray:
    """(..., n, n) ``W`` of one pass, ``X' = W X``, from (..., n, n) cosine similarities.

    ``is_query`` (..., n) bool marks the queries. Row i of an expanded member holds
    ``sims[i, j] ** alpha / k_i`` at its ``k_i = min(k, candidates)`` most similar candidates j
    (ties: lower index first); a member that is not expanded keeps its identity row.

    Examples::

        expansion_weights(unit @ unit.T, np.arange(n) < n_query, "aqe", k=5, alpha=3.0)
    """
    n = sims.shape[-1]
    expanded, candidates = _roles(np.asarray(is_query, dtype=bool), method, n)
    masked = np.where(candidates, sims, -np.inf)
    order = np.argsort(-masked, axis=-1, kind="stable")[..., :k]
    count = np.minimum(k, candidates.sum(axis=-1, keepdims=True))  # (..., n, 1)
    chosen = np.take_along_axis(sims, order, axis=-1)
    weights = np.where(np.arange(order.shape[-1]) < count, np.power(chosen, alpha) / count, 0.0)
    out = np.zeros(sims.shape, dtype=np.float64)
    np.put_along_axis(out, order, weights, axis=-1)
    identity = np.broadcast_to(np.eye(n, dtype=bool), sims.shape)
    return np.where(expanded[..., :, None], out, identity.astype(np.float64))


def _roles(is_query: np.ndarray, method: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(..., n) bool rows that ``method`` expands and (..., n, n) bool candidate columns per row."""
    eye = np.eye(n, dtype=bool)
    gallery = ~is_query[..., None, :]
    if method == "aqe":
        return np.ones_like(is_query), np.ones(is_query.shape[:-1] + (n, n), dtype=bool)
    if method == "alpha_qe":
        return is_query, gallery | eye
    return ~is_query, np.broadcast_to(gallery, is_query.shape[:-1] + (n, n))


def _check(method: str, k: int, alpha: float, times: int) -> None:
    if method not in QE_METHODS:
        raise ValueError(f"method must be one of {list(QE_METHODS)}, got {method!r}")
    if int(k) != k or k < 1 or int(times) != times or times < 1:
        raise ValueError(f"k and times must be integers >= 1, got k={k!r}, times={times!r}")
    if alpha < 0 or alpha != int(alpha):
        raise ValueError(f"alpha must be a whole number >= 0 (similarities can be negative), got {alpha!r}")
