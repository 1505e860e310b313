"""Our scores equal the official SoccerNet scorer's on the exported ranking; export follows its rules."""

import json

import numpy as np
import pytest
from synthetic_blocks import synthetic_feature_set, synthetic_split

from soccerreid.errors import DataError
from soccerreid.evaluation import score_blocks
from soccerreid.evaluation.methods import official_section
from soccerreid.evaluation.metrics import score_queries, summarize
from soccerreid.evaluation.ranking import (
    attach_labels,
    ground_truth_from_blocks,
    official_scores,
    ranking_from_blocks,
    spread_actions,
    validate_ranking,
    write_ranking,
)
from soccerreid.retrieval import features_to_blocks, rerank_blocks


@pytest.fixture(scope="module")
def blocks():
    split = synthetic_split(num_actions=40, num_queries=260, num_gallery=800, seed=5)
    fs = synthetic_feature_set(split, dim=24, noise=4.0, seed=6)
    return features_to_blocks(fs)


@pytest.fixture(scope="module")
def tied_blocks():
    """Coarse features: many exact distance ties, which both scorers must break the same way."""
    split = synthetic_split(num_actions=25, num_queries=120, num_gallery=500, seed=8)
    fs = synthetic_feature_set(split, dim=3, noise=3.0, seed=9)
    fs = type(fs)(**{**fs.__dict__, "features": np.round(fs.features)})
    return features_to_blocks(fs, metric="euclidean")


@pytest.mark.parametrize("name", ["blocks", "tied_blocks"])
def test_map_and_rank1_equal_the_official_scorer(name, request, tmp_path):
    blocks = request.getfixturevalue(name)
    for b in (blocks, rerank_blocks(blocks, 20, 6, 0.3)):
        ours = score_blocks(b)
        write_ranking(tmp_path / "ranking.json", ranking_from_blocks(b), b)
        (tmp_path / "gt.json").write_text(json.dumps(ground_truth_from_blocks(b)))
        official = official_scores(tmp_path / "gt.json", tmp_path / "ranking.json")
        assert ours["mAP"] == official["mAP"]
        assert np.float32(ours["rank1"]) == np.float32(official["rank1"])  # the official keeps float32


def test_ranking_lists_each_action_gallery_nearest_first(blocks):
    ranking = ranking_from_blocks(blocks)
    assert len(ranking) == int(blocks.n_query.sum()) == 260
    nq = int(blocks.n_query[0])
    first_query = str(blocks.bbox_idx[0])
    gallery = blocks.bbox_idx[nq : blocks.sizes[0]]
    assert ranking[first_query] == gallery[np.argsort(blocks.query_gallery(0)[0], kind="stable")].tolist()
    assert all(type(g) is int for g in ranking[first_query])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r, q, g: r.pop(q), "no ranking for query '{q}'"),
        (lambda r, q, g: r.__setitem__("999999", g), "unknown query '999999'"),
        (lambda r, q, g: r[q].__setitem__(0, float(r[q][0])), "must hold ints only"),
        (lambda r, q, g: r[q].__setitem__(1, r[q][0]), "more than once"),
        (lambda r, q, g: r[q].pop(), "misses gallery item"),
        (lambda r, q, g: r[q].__setitem__(0, 999999), "item 999999 is not in its action's gallery"),
        (lambda r, q, g: r.__setitem__(q, "abc"), "must be a list, got str"),
    ],
)
def test_invalid_rankings_are_rejected_before_writing(blocks, tmp_path, mutate, message):
    ranking = ranking_from_blocks(blocks)
    query = next(iter(ranking))
    mutate(ranking, query, list(ranking[query]))
    path = tmp_path / "ranking.json"
    with pytest.raises(DataError, match=f"{path}: .*" + message.format(q=query)):
        write_ranking(path, ranking, blocks)
    assert not path.exists()


def test_cross_action_item_is_rejected(blocks):
    ranking = ranking_from_blocks(blocks)
    query = next(iter(ranking))
    other_action_gallery = int(blocks.bbox_idx[blocks.member_offsets[1] + blocks.n_query[1]])
    ranking[query][0] = other_action_gallery
    with pytest.raises(DataError, match=f"item {other_action_gallery} is not in its action's gallery"):
        validate_ranking(ranking, blocks)


def test_official_scorer_errors_become_one_line(blocks):
    gt = ground_truth_from_blocks(blocks)
    with pytest.raises(DataError, match="official scorer rejected ranking.json: No ranking provided"):
        official_scores(gt, {})


def test_attach_labels_scores_an_unlabelled_split(blocks):
    gt = ground_truth_from_blocks(blocks)
    unlabelled = type(blocks)(**{**blocks.__dict__, "person_uid": None})
    with pytest.raises(DataError, match="cannot score unlabelled data"):
        score_blocks(unlabelled)
    assert score_blocks(attach_labels(unlabelled, gt)) == score_blocks(blocks)


def test_queries_missing_from_the_ground_truth_count_as_without_positive(blocks):
    gt = ground_truth_from_blocks(blocks)
    dropped = next(iter(gt["query"]))
    gt["query"].pop(dropped)
    unlabelled = type(blocks)(**{**blocks.__dict__, "person_uid": None})
    labelled = attach_labels(unlabelled, gt)
    ours = score_blocks(labelled)
    assert ours["queries_without_positive"] == 1 and ours["num_queries"] == 260
    official = official_scores(gt, ranking_from_blocks(labelled))  # the official ignores extra queries
    assert official["mAP"] == pytest.approx(ours["mAP"], abs=1e-12)
    gt["gallery"].pop(next(iter(gt["gallery"])))
    with pytest.raises(DataError, match="challenge_groundtruth.json: no gallery entry for bbox_idx"):
        attach_labels(unlabelled, gt, "challenge_groundtruth.json")


def test_official_section_checks_spread_actions_and_stops_on_any_disagreement(blocks):
    ranking = ranking_from_blocks(blocks)
    checked = spread_actions(blocks, 7)
    section = official_section(blocks, ranking, max_actions=7)
    assert section == {
        **official_scores(ground_truth_from_blocks(checked), ranking),
        "agrees": True,
        "actions": 7,
        "queries": int(checked.n_query.sum()),
    }
    assert section["mAP"] == summarize(score_queries(checked))["mAP"]
    whole = official_section(blocks, ranking, max_actions=1000)
    assert (whole["actions"], whole["queries"]) == (40, 260) and whole["mAP"] == score_blocks(blocks)["mAP"]
    reversed_ranking = {q: g[::-1] for q, g in ranking.items()}
    with pytest.raises(DataError, match=r"^official scorer disagrees on valid: mAP .* / Rank-1 .*, ours .* / "):
        official_section(blocks, reversed_ranking, max_actions=7)


def test_spread_actions_keeps_whole_actions_evenly_spaced(blocks):
    picked = spread_actions(blocks, 5)
    assert picked.action_idx.tolist() == blocks.action_idx[[0, 10, 20, 29, 39]].tolist()
    for i, a in enumerate([0, 10, 20, 29, 39]):
        assert np.array_equal(picked.block(i), blocks.block(a))
        members = slice(blocks.member_offsets[a], blocks.member_offsets[a + 1])
        assert np.array_equal(
            picked.person_uid[picked.member_offsets[i] : picked.member_offsets[i + 1]], blocks.person_uid[members]
        )
        assert np.array_equal(
            picked.bbox_idx[picked.member_offsets[i] : picked.member_offsets[i + 1]], blocks.bbox_idx[members]
        )
    assert spread_actions(blocks, 40) is blocks
