"""k-reciprocal re-ranking against torchreid's re_ranking, the oracle, on many random actions."""

import warnings

import numpy as np
import pytest
from torchreid.reid.utils.rerank import re_ranking

from soccerreid.config import RERANK_PRESETS
from soccerreid.retrieval import k_reciprocal_rerank, rerank_blocks
from soccerreid.retrieval.rerank import rerank_settings
from soccerreid.retrieval.distances import embeddings_to_blocks

PRESETS = sorted(RERANK_PRESETS.items())


def random_action(rng, n_query, n_gallery, dim, ties=False):
    """(q_g, q_q, g_g) float32 cosine distances of random features; ``ties`` rounds them to a grid."""
    x = rng.standard_normal((n_query + n_gallery, dim)).astype(np.float32)
    if ties:
        x = np.round(x) + (np.abs(np.round(x)).sum(axis=1, keepdims=True) == 0)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    d = 1 - x @ x.T
    d = (d + d.T) / 2
    return d[:n_query, n_query:], d[:n_query, :n_query], d[n_query:, n_query:]


def oracle(q_g, q_q, g_g, k1, k2, lam):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re_ranking(q_g, q_q, g_g, k1=k1, k2=k2, lambda_value=lam)


@pytest.mark.parametrize(("name", "preset"), PRESETS)
def test_agrees_with_torchreid_on_many_random_actions(name, preset):
    rng = np.random.default_rng(len(name))
    worst = 0.0
    for trial in range(60):
        mats = random_action(rng, int(rng.integers(1, 12)), int(rng.integers(1, 45)), int(rng.integers(2, 16)), ties=trial % 4 == 0)
        worst = max(worst, np.abs(k_reciprocal_rerank(*mats, *preset) - oracle(*mats, *preset)).max())
    assert worst < 1e-5


@pytest.mark.parametrize(
    ("n_query", "n_gallery", "k1", "k2"),
    [
        (3, 5, 20, 6),  # k1 and k2 larger than the action
        (4, 1, 20, 6),  # a single gallery image
        (1, 1, 20, 6),  # the smallest action
        (5, 30, 10, 1),  # no query expansion
        (2, 9, 1, 1),
    ],
)
def test_edge_cases_agree_with_torchreid(n_query, n_gallery, k1, k2):
    mats = random_action(np.random.default_rng(n_query * 100 + n_gallery), n_query, n_gallery, 8)
    got = k_reciprocal_rerank(*mats, k1, k2, 0.3)
    assert got.shape == (n_query, n_gallery) and got.dtype == np.float32
    assert np.abs(got - oracle(*mats, k1, k2, 0.3)).max() < 1e-5


def test_exact_ties_agree_with_torchreid():
    rng = np.random.default_rng(7)
    base = rng.standard_normal((6, 4)).astype(np.float32)
    x = base[rng.integers(0, 6, 40)]  # many identical members: exact ties at every cut-off
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    d = 1 - x @ x.T
    d = (d + d.T) / 2
    for preset in RERANK_PRESETS.values():
        mats = d[:8, 8:], d[:8, :8], d[8:, 8:]
        assert np.abs(k_reciprocal_rerank(*mats, *preset) - oracle(*mats, *preset)).max() < 1e-5


def test_batched_blocks_agree_with_torchreid_per_action():
    rng = np.random.default_rng(11)
    n = 700
    action = np.sort(rng.integers(0, 40, n))
    is_query = rng.random(n) < 0.3
    is_query[np.r_[0, np.flatnonzero(np.diff(action)) + 1]] = True  # every action has a query
    x = rng.standard_normal((n, 12)).astype(np.float32)
    blocks = embeddings_to_blocks(x, action, is_query, np.arange(n), None, np.full(n, ""), metric="cosine")
    reranked = rerank_blocks(blocks, 20, 6, 0.3)
    assert reranked.source == "rerank:20/6/0.3"
    for a in range(blocks.action_idx.size):
        nq = blocks.n_query[a]
        block = blocks.block(a)
        expected = oracle(block[:nq, nq:], block[:nq, :nq], block[nq:, nq:], 20, 6, 0.3)
        assert np.abs(reranked.query_gallery(a) - expected).max() < 1e-5


def test_settings_share_work_and_equal_one_setting_at_a_time():
    rng = np.random.default_rng(12)
    n = 500
    action = np.sort(rng.integers(0, 30, n))
    is_query = rng.random(n) < 0.3
    is_query[np.r_[0, np.flatnonzero(np.diff(action)) + 1]] = True
    x = rng.standard_normal((n, 10)).astype(np.float32)
    blocks = embeddings_to_blocks(x, action, is_query, np.arange(n), None, np.full(n, ""), metric="cosine")
    settings = {**RERANK_PRESETS, "again": RERANK_PRESETS["standard"], "no_expansion": (10, 1, 0.2)}
    together = rerank_settings(blocks, settings)
    assert list(together) == list(settings)
    for name, (k1, k2, lam) in settings.items():
        alone = rerank_blocks(blocks, k1, k2, lam)
        assert np.array_equal(together[name].values, alone.values), name
        assert together[name].source == alone.source == f"rerank:{k1}/{k2}/{lam:g}"
    with pytest.raises(ValueError, match="k1 and k2 must be integers >= 1"):
        rerank_settings(blocks, {"ok": (20, 6, 0.3), "bad": (0, 6, 0.3)})


def test_identical_members_give_zeros_not_nan():
    zeros = np.zeros((2, 3), np.float32)
    got = k_reciprocal_rerank(zeros, np.zeros((2, 2)), np.zeros((3, 3)), 20, 6, 0.3)
    assert np.isfinite(got).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.zeros((2, 3)), np.zeros((3, 3)), np.zeros((3, 3))), r"q_q must have shape \(2, 2\) to match q_g, got \(3, 3\)"),
        ((np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((2, 2))), r"g_g must have shape \(3, 3\) to match q_g, got \(2, 2\)"),
        ((np.zeros((0, 3)), np.zeros((0, 0)), np.zeros((3, 3))), r"q_g must be a non-empty 2-D \(Q, G\) array"),
    ],
)
def test_bad_shapes_are_errors(args, message):
    with pytest.raises(ValueError, match=message):
        k_reciprocal_rerank(*args)


@pytest.mark.parametrize(
    ("k1", "k2", "lam", "message"),
    [(0, 6, 0.3, "k1 and k2 must be integers >= 1"), (20, 2.5, 0.3, "k1 and k2 must be integers >= 1"), (20, 6, 1.5, r"lambda_value must be in \[0, 1\]")],
)
def test_bad_parameters_are_errors(k1, k2, lam, message):
    mats = random_action(np.random.default_rng(0), 2, 3, 4)
    with pytest.raises(ValueError, match=message):
        k_reciprocal_rerank(*mats, k1, k2, lam)
