"""Per-query scoring details: CMC curve, class groups, queries without a positive, ties."""

import numpy as np
import pytest

from soccerreid.evaluation import class_group, cmc_curve, score_blocks, score_queries, summarize, summarize_by_class
from soccerreid.evaluation.methods import cmc_table, score_table
from soccerreid.retrieval.distances import embeddings_to_blocks


def one_action(distances_to_query, gallery_uid, query_uid=1, clazz="Player_team_left"):
    """Blocks of one action: a query at the origin of a line, gallery members at the given distances."""
    x = np.array([[0.0], *[[d] for d in distances_to_query]], np.float32)
    n = len(x)
    uid = np.array([query_uid, *gallery_uid])
    is_query = np.arange(n) == 0
    return embeddings_to_blocks(
        x, np.zeros(n, np.int64), is_query, np.arange(n) * 10, uid, np.full(n, clazz), metric="euclidean"
    )


def test_ties_keep_gallery_order():
    # both gallery members at the same distance: bbox order decides (negative first, then positive)
    results = score_queries(one_action([1.0, 1.0], [2, 1]))
    assert results.first_hit.tolist() == [2]
    assert results.average_precision[0] == pytest.approx(0.5)


def test_cmc_curve_counts_a_first_hit_for_every_later_rank():
    results = score_queries(one_action([1, 2, 3, 4], [2, 2, 1, 2]))
    assert cmc_curve(results, max_rank=6).tolist() == [0, 0, 1, 1, 1, 1]
    table = cmc_table({"final": cmc_curve(results, max_rank=3)})
    assert table == "rank,final\n1,0.000000\n2,0.000000\n3,1.000000\n"


def test_queries_without_positive_are_counted_not_averaged():
    results = score_queries(one_action([1, 2], [2, 3]))
    summary = summarize(results)
    assert summary["queries_without_positive"] == 1 and summary["num_queries"] == 1
    assert summary["mAP"] == 0.0 and np.isnan(results.average_precision[0])
    assert cmc_curve(results, 3).tolist() == [0, 0, 0]


def test_class_groups():
    clazz = np.array(
        ["Player_team_left", "Player_team_unknown_2", "Goalkeeper_team_right", "Side_referee", "Staff_members", "Ball"]
    )
    assert class_group(clazz).tolist() == [
        "players",
        "players",
        "goalkeepers",
        "referees_staff",
        "referees_staff",
        "other",
    ]


def test_per_class_summaries_and_sections():
    blocks = one_action([1, 2], [1, 2], clazz="Goalkeeper_team_left")
    by_class = summarize_by_class(blocks, score_queries(blocks))
    assert list(by_class) == ["goalkeepers"] and by_class["goalkeepers"]["rank1"] == 1.0
    scores, cmc = score_table(blocks, {"models": {"toy": blocks}}, max_rank=2)
    assert scores["models"]["toy"]["mAP"] == scores["mAP"] == 1.0
    assert scores["classes"]["goalkeepers"]["num_queries"] == 1
    assert cmc.splitlines()[0] == "rank,final,models_toy"
    assert score_blocks(blocks, classes=True) == scores["models"]["toy"]
    assert "classes" not in score_blocks(blocks) and score_blocks(blocks)["rank1"] == 1.0
