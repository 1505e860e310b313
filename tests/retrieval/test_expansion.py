"""Query expansion: the feature form equals fast-reid's ``aqe``; the block form equals the feature
form on random actions, for AQE, alpha-QE and DBA; fused cosine blocks expand exactly; bad blocks
are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from soccerreid.errors import DataError
from soccerreid.retrieval import (
    average_query_expansion,
    embeddings_to_blocks,
    expand_blocks,
    expand_features,
    l2_normalize,
)
from soccerreid.retrieval.fusion import fuse_weighted


def fastreid_aqe(query: torch.Tensor, gallery: torch.Tensor, qe_times: int, qe_k: int, alpha: float) -> np.ndarray:
    """fast-reid's ``aqe`` as published (``fastreid/evaluation/query_expansion.py``), restated to check ours:
    per feature, its qe_k most similar of the whole set (itself included: the argpartition keeps
    the largest similarity first), weighted by similarity ** alpha, averaged; qe_times passes."""
    everything = torch.cat((query, gallery), 0)
    unit = F.normalize(everything, p=2, dim=1)
    features = everything.numpy()
    for _ in range(qe_times):
        sims = torch.mm(unit, unit.t()).numpy()
        rows = []
        for sim in sims:
            rank = np.argpartition(-sim, range(1, qe_k + 1))
            weights = np.power(sim[rank[:qe_k]].reshape(-1, 1), alpha)
            rows.append(np.mean(features[rank[:qe_k], :] * weights, axis=0))
        features = np.stack(rows, 0)
        unit = F.normalize(torch.from_numpy(features), p=2, dim=1)
    return features


@pytest.mark.parametrize(("qe_k", "alpha", "times"), [(5, 3.0, 1), (5, 3.0, 2), (3, 0.0, 1), (1, 3.0, 1), (8, 1.0, 3)])
def test_feature_form_equals_fastreid_aqe(qe_k, alpha, times):
    rng = np.random.default_rng(qe_k + times)
    x = (rng.normal(size=(23, 12)) * rng.uniform(0.3, 3.0, (23, 1))).astype(
        np.float32
    )  # not unit: aqe averages raw rows
    expected = fastreid_aqe(torch.from_numpy(x[:7]), torch.from_numpy(x[7:]), times, qe_k, alpha)
    ours = average_query_expansion(x, qe_k=qe_k, alpha=alpha, times=times)
    assert ours.shape == x.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    if qe_k == 1:  # each feature's nearest is itself, at weight 1
        np.testing.assert_allclose(ours, x, rtol=1e-6)


def _random_actions(seed: int, count: int = 40, dim: int = 16):
    rng = np.random.default_rng(seed)
    feats, action, is_query, bbox = [], [], [], []
    for a in range(count):
        n = int(rng.integers(2, 14))  # small actions too: fewer members than k
        n_query = int(rng.integers(1, n))
        centers = rng.normal(size=(4, dim))
        feats.append(l2_normalize(centers[rng.integers(0, 4, n)] + 0.7 * rng.normal(size=(n, dim))))
        action += [a] * n
        is_query += [True] * n_query + [False] * (n - n_query)
        bbox += list(range(n_query)) + list(range(n - n_query))
    return np.concatenate(feats), np.array(action), np.array(is_query), np.array(bbox)


def _blocks(x, action, is_query, bbox):
    return embeddings_to_blocks(x, action, is_query, bbox, None, np.full(len(x), "c"), metric="cosine", split="valid")


@pytest.mark.parametrize("method", ["aqe", "alpha_qe", "dba"])
@pytest.mark.parametrize(("k", "times"), [(5, 1), (3, 2)])
def test_block_form_equals_feature_form_on_random_actions(method, k, times):
    x, action, is_query, bbox = _random_actions(seed=k * times)
    expanded = expand_blocks(_blocks(x, action, is_query, bbox), method, k=k, alpha=3.0, times=times)
    assert expanded.source == f"qe:{method}/{k}/3/{times}"
    for a in np.unique(action):
        rows = action == a
        features = expand_features(x[rows], int(is_query[rows].sum()), method, k, 3.0, times)
        reference = _blocks(features, action[rows], is_query[rows], bbox[rows]).block(0)
        np.testing.assert_allclose(expanded.block(int(a)), reference, atol=2e-6)


def test_variants_expand_only_their_side():
    x, action, is_query, _ = _random_actions(seed=3, count=1)
    n_query = int(is_query.sum())
    alpha_qe = expand_features(x, n_query, "alpha_qe", 5, 3.0, 1)
    dba = expand_features(x, n_query, "dba", 5, 3.0, 1)
    np.testing.assert_array_equal(alpha_qe[n_query:], x[n_query:])
    np.testing.assert_array_equal(dba[:n_query], x[:n_query])
    assert not np.allclose(alpha_qe[:n_query], x[:n_query]) and not np.allclose(dba[n_query:], x[n_query:])
    # k beyond the candidates: every candidate, each weighted by its similarity cubed, averaged
    every = expand_features(x, n_query, "dba", 100, 3.0, 1)
    sims = x @ x.T
    gallery = slice(n_query, None)
    np.testing.assert_allclose(
        every[gallery], (sims[gallery, gallery] ** 3 @ x[gallery]) / (len(x) - n_query), rtol=1e-5, atol=1e-6
    )


def test_fused_cosine_blocks_expand_exactly_in_the_weighted_concatenation():
    x, action, is_query, bbox = _random_actions(seed=5)
    y = l2_normalize(x[:, ::-1] + 0.5 * np.random.default_rng(1).normal(size=x.shape))
    fused = fuse_weighted([_blocks(x, action, is_query, bbox), _blocks(y, action, is_query, bbox)], (0.25, 0.75))
    concat = np.concatenate([np.sqrt(0.25) * x, np.sqrt(0.75) * y], axis=1)  # unit rows whose Gram is the fused one
    expected = expand_blocks(_blocks(concat.astype(np.float32), action, is_query, bbox), "aqe", 5, 3.0, 1)
    np.testing.assert_allclose(expand_blocks(fused, "aqe", 5, 3.0, 1).values, expected.values, atol=2e-6)


def test_blocks_that_are_not_cosine_grams_are_one_line_errors():
    x, action, is_query, bbox = _random_actions(seed=6, count=5)
    blocks = _blocks(x, action, is_query, bbox)
    normalised = fuse_weighted([blocks, blocks], (0.5, 0.5), normalize="zscore")
    with pytest.raises(DataError) as info:
        expand_blocks(normalised, "aqe", 5, 3.0, 1)
    message = str(info.value)
    assert message.startswith(
        "fusion:weighted (valid): query expansion needs cosine distance blocks of unit features, got metric cosine"
    )
    assert "\n" not in message
    euclidean = embeddings_to_blocks(x, action, is_query, bbox, None, np.full(len(x), "c"), metric="euclidean")
    with pytest.raises(DataError, match="got metric euclidean"):
        expand_blocks(euclidean, "dba", 5, 3.0, 1)
    with pytest.raises(ValueError, match="alpha must be a whole number"):
        expand_blocks(blocks, "aqe", 5, 2.5, 1)
    with pytest.raises(ValueError, match="method must be one of"):
        expand_blocks(blocks, "dqe", 5, 3.0, 1)
