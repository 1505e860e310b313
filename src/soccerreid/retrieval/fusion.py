"""Fusion of several models' per-action distance blocks: concat, mean, weighted, grid search.

Score-level methods (``mean``, ``weighted``) average the models' blocks, optionally after a
per-row normalisation (``minmax`` or ``zscore``): each member's row is mapped by the statistics
of its distances to the action's gallery (itself excluded), so for a query this is exactly a
per-query normalisation of its gallery distances. Normalised fusions are then shifted per
action so their smallest entry is 0: re-ranking squares distances, and a per-action constant
changes no ranking. ``concat`` works on features: per-model L2 normalisation, concatenation,
re-normalisation, then distances.

Examples::

    fused = fuse_weighted([b_resnet, b_dino, b_osnet], weights=(0.2, 0.2, 0.6), normalize="zscore")
    fused = fuse_blocks("concat", blocks, feature_sets=feature_sets)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from soccerreid.errors import DataError
from soccerreid.retrieval._groups import block_index, single_threaded_blas, size_groups
from soccerreid.retrieval.distances import features_to_blocks, l2_normalize
from soccerreid.schema import DistanceBlocks, FeatureSet

NORMALIZATIONS = ("none", "minmax", "zscore")


def check_aligned(blocks: Sequence[DistanceBlocks], names: Sequence[str]) -> None:
    """Raise :class:`DataError` unless all ``blocks`` have the same split, actions and members.

    Examples::

        check_aligned([resnet, osnet], ["distances/resnet50_ibn/valid.h5", "distances/osnet_ain/valid.h5"])
    """
    first = blocks[0]
    for other, name in zip(blocks[1:], names[1:]):
        same = (
            other.split == first.split
            and np.array_equal(other.action_idx, first.action_idx)
            and np.array_equal(other.n_query, first.n_query)
            and np.array_equal(other.bbox_idx, first.bbox_idx)
        )
        if not same:
            raise DataError(
                f"{name}: its actions or members differ from those of {names[0]}; fusion needs the same rows"
            )


@single_threaded_blas
def normalize_rows(blocks: DistanceBlocks, method: str) -> np.ndarray:
    """(sum n_a**2,) float32 values with every row rescaled by its gallery statistics (see module doc).

    Examples::

        blocks.with_values(normalize_rows(blocks, "zscore"), blocks.source)
    """
    if method not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {list(NORMALIZATIONS)}, got {method!r}")
    if method == "none":
        return blocks.values
    values = np.empty_like(blocks.values)
    for n, actions in size_groups(blocks.sizes, cube=False):
        index = block_index(blocks.offsets, actions, n)
        values[index] = _normalize_stack(blocks.values[index], blocks.n_query[actions], method)
    return values


def _normalize_stack(stack: np.ndarray, n_query: np.ndarray, method: str) -> np.ndarray:
    """(B, n, n) float32 rows of ``stack`` shifted and scaled by their gallery statistics."""
    n = stack.shape[1]
    cols = np.arange(n)
    mask = (cols[None, None, :] >= n_query[:, None, None]) & (cols[None, :, None] != cols[None, None, :])
    count = mask.sum(axis=2, keepdims=True)
    if method == "minmax":
        shift = np.where(mask, stack, np.inf).min(axis=2, keepdims=True)
        scale = np.where(mask, stack, -np.inf).max(axis=2, keepdims=True) - shift
    else:
        shift = np.where(mask, stack, 0).sum(axis=2, keepdims=True) / np.maximum(count, 1)
        scale = np.sqrt(np.where(mask, (stack - shift) ** 2, 0).sum(axis=2, keepdims=True) / np.maximum(count, 1))
    shift = np.where(count > 0, shift, 0)
    scale = np.where((count > 0) & (scale > 0), scale, 1)
    return ((stack - shift) / scale).astype(np.float32)


def fuse_weighted(
    blocks: Sequence[DistanceBlocks], weights: Sequence[float], normalize: str = "none", method: str = "weighted"
) -> DistanceBlocks:
    """Weighted mean of the models' (optionally normalised) blocks; weights need not sum to 1.

    Examples::

        fused = fuse_weighted([a, b, c], (0.2, 0.2, 0.6))
    """
    weights = check_weights(weights, len(blocks))
    total = weighted_sum([normalize_rows(b, normalize) if w else b.values for b, w in zip(blocks, weights)], weights)
    if normalize != "none":
        total = _shift_to_zero(blocks[0], total)
    return blocks[0].with_values(total, source=f"fusion:{method}")


def weighted_sum(arrays: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Sum of float32 ``arrays`` times ``weights / weights.sum()``, accumulated in order, zero weights skipped.

    Elementwise, so the weighted sum of any gather of the arrays is that gather of the sum.

    Examples::

        weighted_sum([a.values, b.values], np.array([1.0, 3.0]))   # 0.25 a + 0.75 b
    """
    total = np.zeros_like(arrays[0])
    for array, weight in zip(arrays, weights / weights.sum()):
        if weight:
            total += np.float32(weight) * array
    return total


def fuse_mean(blocks: Sequence[DistanceBlocks], normalize: str = "none") -> DistanceBlocks:
    """Equal-weight mean of the models' (optionally normalised) blocks.

    Examples::

        fuse_mean([resnet, dino, osnet], normalize="minmax")
    """
    return fuse_weighted(blocks, [1.0] * len(blocks), normalize, method="mean")


def check_weights(weights: Sequence[float], num_models: int) -> np.ndarray:
    """(M,) float64 ``weights`` after checking length, signs and sum (``ValueError`` otherwise).

    Examples::

        check_weights([1, 1, 2], 3)     # array([1., 1., 2.])
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (num_models,):
        raise ValueError(f"weights: expected {num_models} weights, one per model, got {weights.size}")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError(f"weights: expected finite non-negative weights, got {weights.tolist()}")
    if weights.sum() <= 0:
        raise ValueError(f"weights: expected a positive sum, got {weights.tolist()}")
    return weights


def _shift_to_zero(layout: DistanceBlocks, values: np.ndarray) -> np.ndarray:
    """``values`` minus each action's minimum, so every block's smallest entry is 0."""
    minima = np.minimum.reduceat(values, layout.offsets[:-1])
    return values - np.repeat(minima, layout.sizes**2)


def concat_features(feature_sets: Sequence[FeatureSet]) -> FeatureSet:
    """One :class:`FeatureSet` whose rows are the L2-normalised concatenation of the models' rows.

    Each model's rows are L2-normalised, concatenated, and the result re-normalised. The sets
    must hold the same rows in the same order (:class:`DataError` naming the model otherwise).

    Examples::

        concat_features([fs_resnet, fs_dino, fs_osnet]).features.shape   # (N, 2048 + 384 + 512)
    """
    first = feature_sets[0]
    for other in feature_sets[1:]:
        if not (np.array_equal(other.bbox_idx, first.bbox_idx) and np.array_equal(other.role, first.role)):
            raise DataError(
                f"{other.model}: its {other.split} rows differ from those of {first.model}; concat needs the same rows"
            )
    joined = l2_normalize(np.concatenate([l2_normalize(fs.features) for fs in feature_sets], axis=1))
    name = "+".join(fs.model for fs in feature_sets)
    return FeatureSet(
        joined, first.bbox_idx, first.action_idx, first.role, first.person_uid, first.clazz, name, first.split, True
    )


def concat_from_cosine_blocks(blocks: Sequence[DistanceBlocks]) -> DistanceBlocks:
    """Cosine concat fusion straight from the models' cosine blocks, without their features.

    With unit rows ``a_m`` and the re-normalised concatenation ``[a_1 .. a_M] / sqrt(M)``,
    ``cos(concat) = mean_m cos(a_m, b_m)``, so the concat distance is exactly the mean of the
    per-model cosine distances (up to float32 rounding). This is why the report's concat and
    equal-weight rows coincide.

    Examples::

        concat_from_cosine_blocks([resnet, dino, osnet])      # == fuse_concat(features, "cosine")
    """
    not_cosine = [b.metric for b in blocks if b.metric != "cosine"]
    if not blocks or not_cosine:
        raise ValueError(f"concat from blocks needs cosine blocks, got {not_cosine or 'none'}")
    mean = fuse_weighted(blocks, [1.0] * len(blocks), "none", method="mean")
    return mean.with_values(mean.values, source="fusion:concat")


def fuse_concat(feature_sets: Sequence[FeatureSet], metric: str = "cosine") -> DistanceBlocks:
    """Distance blocks of the concatenated, normalised features of several models.

    Examples::

        fuse_concat([fs_resnet, fs_dino, fs_osnet], metric="cosine")
    """
    blocks = features_to_blocks(concat_features(feature_sets), metric)
    return blocks.with_values(blocks.values, source="fusion:concat")


def simplex_grid(num_models: int, step: float) -> np.ndarray:
    """(K, M) float64: every weight vector of ``num_models`` multiples of ``step`` that sums to 1.

    Examples::

        simplex_grid(2, 0.5)      # [[0, 1], [0.5, 0.5], [1, 0]]
    """
    parts = int(round(1.0 / step))
    if parts < 1 or abs(parts * step - 1.0) > 1e-9:
        raise ValueError(f"grid_step: expected 1/grid_step to be a whole number, got {step!r}")
    combos = [c for c in itertools.product(range(parts + 1), repeat=num_models) if sum(c) == parts]
    return np.array(combos, dtype=np.float64) / parts


FUSION_METHODS = ("concat", "mean", "weighted", "grid")


def fuse_blocks(
    method: str,
    blocks: Sequence[DistanceBlocks],
    weights: Sequence[float] | None = None,
    normalize: str = "none",
    feature_sets: Sequence[FeatureSet] | None = None,
    metric: str = "cosine",
) -> DistanceBlocks:
    """Fuse with ``method``: concat, mean, or weighted / grid (``weights``).

    concat uses ``feature_sets`` when given, else (cosine only) the exact identity of
    :func:`concat_from_cosine_blocks`.

    ``grid`` is the weighted fusion at the grid search's best weights, passed as ``weights``.

    Examples::

        fuse_blocks("weighted", blocks, weights=(0.2, 0.2, 0.6), normalize="minmax")
    """
    if method not in FUSION_METHODS:
        raise ValueError(f"method must be one of {list(FUSION_METHODS)}, got {method!r}")
    if method == "concat":
        if feature_sets is None and metric == "cosine":
            return concat_from_cosine_blocks(blocks)
        if feature_sets is None:
            raise ValueError("method concat with a euclidean metric needs the models' feature_sets")
        return fuse_concat(feature_sets, metric)
    if method == "mean":
        return fuse_mean(blocks, normalize)
    if weights is None:
        raise ValueError(f"method {method} needs weights")
    return fuse_weighted(blocks, weights, normalize, method=method)


def fuse_all(
    blocks: Sequence[DistanceBlocks],
    feature_sets: Sequence[FeatureSet] | None,
    weights: Sequence[float],
    grid_weights: Sequence[float],
    normalize: str = "none",
    metric: str = "cosine",
) -> dict[str, DistanceBlocks]:
    """``{method: fused blocks}`` for every method of :data:`FUSION_METHODS` (the Table 1 rows).

    Examples::

        fusions = fuse_all(blocks, feature_sets, (0.2, 0.2, 0.6), grid.best_weights)
        fusions["concat"], fusions["grid"]
    """
    return {
        "concat": fuse_blocks("concat", blocks, feature_sets=feature_sets, metric=metric),
        "mean": fuse_blocks("mean", blocks, normalize=normalize),
        "weighted": fuse_blocks("weighted", blocks, weights, normalize),
        "grid": fuse_blocks("grid", blocks, grid_weights, normalize),
    }
