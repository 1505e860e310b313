"""Fusion from per-action blocks: weighted, mean, per-row normalisation, concat, grid search."""

import numpy as np
import pytest
from synthetic_blocks import synthetic_feature_set, synthetic_split

from soccerreid.errors import DataError
from soccerreid.evaluation import score_blocks
from soccerreid.evaluation.methods import grid_search
from soccerreid.retrieval import features_to_blocks
from soccerreid.retrieval.fusion import (
    check_aligned,
    concat_features,
    concat_from_cosine_blocks,
    fuse_blocks,
    normalize_rows,
    simplex_grid,
)

NAMES = ("resnet", "dino", "osnet")


@pytest.fixture(scope="module")
def models():
    split = synthetic_split(num_actions=30, num_queries=200, num_gallery=620, seed=2)
    sets = [
        synthetic_feature_set(split, dim=d, noise=z, seed=s, model=m)
        for d, z, s, m in zip((48, 32, 16), (5.0, 4.0, 3.5), (1, 2, 3), NAMES)
    ]
    return sets, [features_to_blocks(fs) for fs in sets]


def test_weighted_is_the_weighted_mean_of_blocks(models):
    _, blocks = models
    fused = fuse_blocks("weighted", blocks, weights=(1.0, 1.0, 2.0))
    expected = 0.25 * blocks[0].values + 0.25 * blocks[1].values + 0.5 * blocks[2].values
    np.testing.assert_allclose(fused.values, expected, atol=1e-6)
    assert fused.source == "fusion:weighted"
    mean = fuse_blocks("mean", blocks)
    np.testing.assert_allclose(mean.values, sum(b.values for b in blocks) / 3, atol=1e-6)


def test_single_weight_reproduces_that_model(models):
    _, blocks = models
    fused = fuse_blocks("weighted", blocks, weights=(0, 0, 1))
    assert score_blocks(fused) == score_blocks(blocks[2])


@pytest.mark.parametrize("method", ["minmax", "zscore"])
def test_row_normalisation_uses_each_rows_gallery(models, method):
    _, blocks = models
    b = blocks[0]
    values = b.with_values(normalize_rows(b, method), b.source)
    a = 3
    nq = int(b.n_query[a])
    q_g = values.query_gallery(a)
    if method == "minmax":
        np.testing.assert_allclose(q_g.min(axis=1), 0, atol=1e-6)
        np.testing.assert_allclose(q_g.max(axis=1), 1, atol=1e-6)
    else:
        np.testing.assert_allclose(q_g.mean(axis=1), 0, atol=1e-5)
        np.testing.assert_allclose(q_g.std(axis=1), 1, atol=1e-5)
    raw = b.block(a)[nq, nq + 1 :].astype(np.float64)  # first gallery member: stats exclude itself
    if method == "minmax":
        expected = (raw - raw.min()) / (raw.max() - raw.min())
    else:
        expected = (raw - raw.mean()) / raw.std()
    np.testing.assert_allclose(values.block(a)[nq, nq + 1 :], expected, rtol=1e-4, atol=1e-5)
    # a per-row affine map keeps every ranking
    assert score_blocks(values) == score_blocks(b)


@pytest.mark.parametrize("normalize", ["minmax", "zscore"])
def test_normalised_fusion_is_non_negative(models, normalize):
    _, blocks = models
    fused = fuse_blocks("weighted", blocks, weights=(0.2, 0.2, 0.6), normalize=normalize)
    minima = np.minimum.reduceat(fused.values, fused.offsets[:-1])
    np.testing.assert_allclose(minima, 0, atol=1e-6)


def test_concat_normalises_each_model_then_the_whole(models):
    sets, _ = models
    joined = concat_features(sets)
    assert joined.features.shape[1] == 48 + 32 + 16
    np.testing.assert_allclose(np.linalg.norm(joined.features, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(joined.features[:, :48], axis=1), 1 / np.sqrt(3), atol=1e-5)
    fused = fuse_blocks("concat", [], feature_sets=sets)
    # cosine on the concatenation = mean of per-model cosine distances
    per_model = [features_to_blocks(fs).values for fs in sets]
    np.testing.assert_allclose(fused.values, sum(per_model) / 3, atol=1e-5)


def test_cosine_concat_from_blocks_equals_concat_of_features(models):
    sets, blocks = models
    from_features = fuse_blocks("concat", blocks, feature_sets=sets)
    from_blocks = fuse_blocks("concat", blocks)
    assert from_blocks.source == from_features.source == "fusion:concat"
    np.testing.assert_allclose(from_blocks.values, from_features.values, atol=2e-6)


def test_euclidean_concat_is_the_squared_distance_of_the_joined_features(models):
    sets, _ = models
    euclidean = [features_to_blocks(fs, "euclidean") for fs in sets]
    fused = fuse_blocks("concat", euclidean, feature_sets=sets, metric="euclidean")
    joined = concat_features(sets).features
    assert fused.metric == "euclidean" and fused.source == "fusion:concat"
    for a in (0, len(fused.n_query) // 2, len(fused.n_query) - 1):
        rows = joined[fused.member_offsets[a] : fused.member_offsets[a + 1]]
        expected = ((rows[:, None, :] - rows[None, :, :]) ** 2).sum(axis=2)
        np.testing.assert_allclose(fused.block(a), expected, atol=1e-5)
    # unit rows: squared euclidean = 2 x cosine distance, so the ranking equals cosine concat's
    np.testing.assert_allclose(fused.values, 2 * fuse_blocks("concat", [], feature_sets=sets).values, atol=1e-5)
    with pytest.raises(ValueError, match="method concat with a euclidean metric needs the models' feature_sets"):
        fuse_blocks("concat", euclidean, metric="euclidean")


def test_concat_from_blocks_rejects_euclidean_blocks(models):
    sets, _ = models
    euclidean = [features_to_blocks(fs, "euclidean") for fs in sets]
    with pytest.raises(ValueError, match=r"needs cosine blocks, got \['euclidean'"):
        concat_from_cosine_blocks(euclidean)


def test_grid_covers_the_simplex_and_finds_the_best(models):
    _, blocks = models
    grid = simplex_grid(3, 0.25)
    assert len(grid) == 15 and np.allclose(grid.sum(axis=1), 1)
    result = grid_search(blocks, step=0.25)
    assert result.mAP[result.best] == result.mAP.max()
    best = score_blocks(fuse_blocks("grid", blocks, weights=result.best_weights))
    assert best["mAP"] == pytest.approx(result.mAP.max())
    lines = result.to_csv(NAMES).splitlines()
    assert lines[0] == "resnet,dino,osnet,mAP,rank1" and len(lines) == 16


@pytest.mark.parametrize("normalize", ["none", "minmax", "zscore"])
def test_grid_scores_equal_fusing_whole_blocks_then_scoring(models, normalize):
    _, blocks = models
    result = grid_search(blocks, step=0.25, normalize=normalize)
    for w, m, r in zip(result.weights, result.mAP, result.rank1):
        whole = score_blocks(fuse_blocks("weighted", blocks, weights=w, normalize=normalize))
        assert (whole["mAP"], whole["rank1"]) == (m, r)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ((0.5, 0.5), "expected 3 weights, one per model, got 2"),
        ((1, -1, 1), "non-negative"),
        ((0, 0, 0), "positive sum"),
    ],
)
def test_bad_weights_are_errors(models, weights, message):
    _, blocks = models
    with pytest.raises(ValueError, match=message):
        fuse_blocks("weighted", blocks, weights=weights)


def test_bad_grid_step_and_method_are_errors(models):
    with pytest.raises(ValueError, match="1/grid_step to be a whole number, got 0.3"):
        simplex_grid(3, 0.3)
    with pytest.raises(ValueError, match="method must be one of"):
        fuse_blocks("max", models[1])
    with pytest.raises(ValueError, match="method concat with a euclidean metric needs the models' feature_sets"):
        fuse_blocks("concat", models[1], metric="euclidean")


def test_misaligned_models_are_errors(models):
    sets, blocks = models
    other = synthetic_feature_set(synthetic_split(30, 200, 600, seed=9), dim=16, noise=3.0, model="other")
    with pytest.raises(DataError, match="other: its valid rows differ from those of resnet"):
        concat_features([sets[0], other])
    with pytest.raises(DataError, match="b.h5: its actions or members differ from those of a.h5"):
        check_aligned([blocks[0], features_to_blocks(other)], ["a.h5", "b.h5"])
