"""score_embeddings against a naive per-query loop and hand-worked examples."""

import numpy as np
import pytest
from synthetic_blocks import synthetic_feature_set, synthetic_split

from soccerreid.errors import DataError
from soccerreid.evaluation import score_embeddings


def naive_scores(x, action, uid, is_query):
    """Per-query loop: cosine distance to the same action's gallery, stable sort, AP and CMC."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    aps, firsts = [], []
    for q in np.flatnonzero(is_query):
        gallery = np.flatnonzero(~is_query & (action == action[q]))
        gallery = gallery[np.argsort(1 - x[gallery] @ x[q], kind="stable")]
        hits = uid[gallery] == uid[q]
        if hits.any():
            positions = np.flatnonzero(hits) + 1
            aps.append(np.mean(np.arange(1, positions.size + 1) / positions))
            firsts.append(positions[0])
    firsts = np.array(firsts)
    out = {"mAP": np.mean(aps)}
    out.update({f"rank{k}": np.mean(firsts <= k) for k in (1, 5, 10, 20)})
    return out, int(is_query.sum()) - len(aps)


def test_matches_naive_loop_on_shuffled_rows():
    split = synthetic_split(num_actions=30, num_queries=150, num_gallery=500, seed=3)
    fs = synthetic_feature_set(split, dim=32, noise=4.0, seed=4)
    perm = np.random.default_rng(0).permutation(len(fs.features))
    x, action, uid, is_query = fs.features[perm], fs.action_idx[perm], fs.person_uid[perm], fs.is_query[perm]
    uid = np.where(np.arange(uid.size) % 97 == 0, -1 - np.arange(uid.size), uid)  # some queries lose their positive
    got = score_embeddings(x, action, uid, is_query)
    expected, without = naive_scores(x, action, uid, is_query)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12)
    assert got["num_queries"] == 150
    assert got["queries_without_positive"] == without > 0


def test_hand_worked_example():
    # one action, query A; gallery ranked B, A, A (distances 0.1, 0.2, 0.3 along one axis)
    x = np.array(
        [[1, 0], [np.cos(0.9), np.sin(0.9)], [np.cos(0.5), np.sin(0.5)], [np.cos(1.0), np.sin(1.0)]], np.float32
    )
    scores = score_embeddings(x, np.zeros(4, np.int64), np.array([7, 8, 7, 7]), np.array([True, False, False, False]))
    # ranking: A(0.5 rad), B(0.9), A(1.0): positives at ranks 1 and 3
    assert scores["mAP"] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert scores["rank1"] == 1.0 and scores["rank20"] == 1.0


def test_cmc_is_not_truncated_by_small_galleries():
    # action 0: 2 gallery images, first hit at rank 2; action 1: 30 gallery images, first hit at rank 1
    x0 = np.array([[1, 0], [0, 1], [1, 0.1]], np.float32)  # query, wrong, right (right is farther)
    x0[2] = [0, -1]
    x1 = np.vstack([[1, 0], [1, 0.01], np.tile([[0, 1]], (29, 1))]).astype(np.float32)
    x = np.vstack([x0, x1])
    action = np.array([0] * 3 + [1] * 31)
    uid = np.array([1, 2, 1] + [5, 5] + [6] * 29)
    is_query = np.zeros(34, bool)
    is_query[[0, 3]] = True
    scores = score_embeddings(x, action, uid, is_query)
    assert scores["rank1"] == 0.5
    assert scores["rank5"] == scores["rank10"] == scores["rank20"] == 1.0


def test_euclidean_metric_and_all_fractions():
    split = synthetic_split(num_actions=10, num_queries=40, num_gallery=120, seed=1)
    fs = synthetic_feature_set(split, dim=16, noise=3.0, seed=2)
    scores = score_embeddings(fs.features, fs.action_idx, fs.person_uid, fs.is_query, metric="euclidean")
    assert set(scores) == {"mAP", "rank1", "rank5", "rank10", "rank20", "num_queries", "queries_without_positive"}
    assert all(0.0 <= scores[k] <= 1.0 for k in ("mAP", "rank1", "rank5", "rank10", "rank20"))
    assert scores["rank1"] <= scores["rank5"] <= scores["rank10"] <= scores["rank20"]


def test_action_without_gallery_is_an_error():
    x = np.eye(3, dtype=np.float32)
    with pytest.raises(DataError, match="action 4 has queries but no gallery images"):
        score_embeddings(x, np.array([3, 3, 4]), np.array([1, 1, 2]), np.array([True, False, True]))


def test_mismatched_shapes_are_an_error():
    with pytest.raises(ValueError, match=r"action_idx must have shape \(3,\), got \(2,\)"):
        score_embeddings(
            np.eye(3, dtype=np.float32), np.array([0, 0]), np.array([1, 1, 1]), np.array([True, False, False])
        )
