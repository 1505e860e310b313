"""k-reciprocal re-ranking against torchreid's re_ranking, the oracle, on many random actions."""

import warnings

import numpy as np
import pytest
from torchreid.reid.utils.rerank import re_ranking

from soccerreid.config import RERANK_PRESETS
from soccerreid.retrieval import k_reciprocal_rerank, rerank_blocks
from soccerreid.retrieval.distances import embeddings_to_blocks, l2_normalize
from soccerreid.retrieval.expansion import QE_METHODS, expand_blocks
from soccerreid.retrieval.rerank import rerank_settings, rerank_split

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


def random_blocks(seed, n, num_actions, dim, unit=False):
    """Cosine blocks of ``n`` random features over ``num_actions`` actions, each with a query
    (unit rows if ``unit``)."""
    rng = np.random.default_rng(seed)
    action = np.sort(rng.integers(0, num_actions, n))
    is_query = rng.random(n) < 0.3
    is_query[np.r_[0, np.flatnonzero(np.diff(action)) + 1]] = True  # every action has a query
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x = l2_normalize(x) if unit else x
    return embeddings_to_blocks(x, action, is_query, np.arange(n), None, np.full(n, ""), metric="cosine")


def oracle(q_g, q_q, g_g, k1, k2, lam):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re_ranking(q_g, q_q, g_g, k1=k1, k2=k2, lambda_value=lam)


@pytest.mark.parametrize(("name", "preset"), PRESETS)
def test_agrees_with_torchreid_on_many_random_actions(name, preset):
    rng = np.random.default_rng(len(name))
    worst = 0.0
    for trial in range(60):
        mats = random_action(
            rng, int(rng.integers(1, 12)), int(rng.integers(1, 45)), int(rng.integers(2, 16)), ties=trial % 4 == 0
        )
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
    blocks = random_blocks(11, 700, 40, 12)
    reranked = rerank_blocks(blocks, 20, 6, 0.3)
    assert reranked.source == "rerank:20/6/0.3"
    for a in range(blocks.action_idx.size):
        nq = blocks.n_query[a]
        block = blocks.block(a)
        expected = oracle(block[:nq, nq:], block[:nq, :nq], block[nq:, nq:], 20, 6, 0.3)
        assert np.abs(reranked.query_gallery(a) - expected).max() < 1e-5


def test_settings_share_work_and_equal_one_setting_at_a_time():
    blocks = random_blocks(12, 500, 30, 10)
    settings = {**RERANK_PRESETS, "again": RERANK_PRESETS["standard"], "no_expansion": (10, 1, 0.2)}
    together = rerank_settings(blocks, settings)
    assert list(together) == list(settings)
    for name, (k1, k2, lam) in settings.items():
        alone = rerank_blocks(blocks, k1, k2, lam)
        assert np.array_equal(together[name].values, alone.values), name
        assert together[name].source == alone.source == f"rerank:{k1}/{k2}/{lam:g}"
    with pytest.raises(ValueError, match="k1 and k2 must be integers >= 1"):
        rerank_settings(blocks, {"ok": (20, 6, 0.3), "bad": (0, 6, 0.3)})


def test_rerank_split_expands_then_reranks_and_gives_the_table_rows():
    blocks = random_blocks(13, 240, 15, 8, unit=True)
    final, rows = rerank_split(blocks, (10, 3, 0.4), RERANK_PRESETS, qe_k=4, qe_alpha=2.0, qe_times=2)
    assert final.source == "rerank:10/3/0.4" and np.array_equal(final.values, rerank_blocks(blocks, 10, 3, 0.4).values)
    assert list(rows["presets"]) == list(RERANK_PRESETS) and list(rows["qe"]) == list(QE_METHODS)
    for name, (k1, k2, lam) in RERANK_PRESETS.items():
        assert np.array_equal(rows["presets"][name].values, rerank_blocks(blocks, k1, k2, lam).values), name
    for method in QE_METHODS:
        assert np.array_equal(rows["qe"][method].values, expand_blocks(blocks, method, 4, 2.0, 2).values), method
    both, same_rows = rerank_split(blocks, (10, 3, 0.4), RERANK_PRESETS, "dba", 4, 2.0, 2)
    expanded = expand_blocks(blocks, "dba", 4, 2.0, 2)
    assert both.source == "qe:dba/4/2/2+rerank:10/3/0.4"
    assert np.array_equal(both.values, rerank_blocks(expanded, 10, 3, 0.4).values)
    assert np.array_equal(
        same_rows["presets"]["standard"].values, rows["presets"]["standard"].values
    )  # rows: un-expanded
    alone, _ = rerank_split(blocks, None, RERANK_PRESETS, "aqe", 4, 2.0, 2)
    assert alone.source == "qe:aqe/4/2/2" and np.array_equal(
        alone.values, expand_blocks(blocks, "aqe", 4, 2.0, 2).values
    )
    assert rerank_split(blocks, None, RERANK_PRESETS)[0] is blocks


def test_identical_members_give_zeros_not_nan():
    zeros = np.zeros((2, 3), np.float32)
    got = k_reciprocal_rerank(zeros, np.zeros((2, 2)), np.zeros((3, 3)), 20, 6, 0.3)
    assert np.isfinite(got).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (np.zeros((2, 3)), np.zeros((3, 3)), np.zeros((3, 3))),
            r"q_q must have shape \(2, 2\) to match q_g, got \(3, 3\)",
        ),
        (
            (np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((2, 2))),
            r"g_g must have shape \(3, 3\) to match q_g, got \(2, 2\)",
        ),
        ((np.zeros((0, 3)), np.zeros((0, 0)), np.zeros((3, 3))), r"q_g must be a non-empty 2-D \(Q, G\) array"),
    ],
)
def test_bad_shapes_are_errors(args, message):
    with pytest.raises(ValueError, match=message):
        k_reciprocal_rerank(*args)


@pytest.mark.parametrize(
    ("k1", "k2", "lam", "message"),
    [
        (0, 6, 0.3, "k1 and k2 must be integers >= 1"),
        (20, 2.5, 0.3, "k1 and k2 must be integers >= 1"),
        (20, 6, 1.5, r"lambda_value must be in \[0, 1\]"),
    ],
)
def test_bad_parameters_are_errors(k1, k2, lam, message):
    mats = random_action(np.random.default_rng(0), 2, 3, 4)
    with pytest.raises(ValueError, match=message):
        k_reciprocal_rerank(*mats, k1, k2, lam)
