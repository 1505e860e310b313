"""The official SoccerNet scorer accepts the synthetic ground truth unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from SoccerNet.Evaluation.ReIdentification import evaluate


def _rankings(truth: dict, perfect: bool) -> dict[str, list[int]]:
    """Per query, every same-action gallery bbox_idx (ints) with positives first (or last)."""
    rankings = {}
    for key, query in truth["query"].items():
        same = [g for g in truth["gallery"].values() if g["action_idx"] == query["action_idx"]]
        same.sort(key=lambda g: (g["person_uid"] == query["person_uid"]) != perfect)
        rankings[key] = [g["bbox_idx"] for g in same]
    return rankings


@pytest.mark.parametrize(
    "groundtruth",
    [
        "reid/valid/valid_bbox_info.json",
        "reid/test/test_bbox_info.json",
        "reid/test_bbox_info.json",
        "reid/challenge_bbox_info.json",
    ],
)
def test_perfect_ranking_scores_one_and_worst_scores_less(tiny_raw, tmp_path, groundtruth):
    truth_path = tiny_raw / groundtruth
    truth = json.loads(truth_path.read_text())
    scores = {}
    for perfect in (True, False):
        ranking = tmp_path / f"ranking_{perfect}.json"
        ranking.write_text(json.dumps(_rankings(truth, perfect)))
        scores[perfect] = evaluate(str(truth_path), str(ranking))
    assert scores[True]["mAP"] == pytest.approx(1.0) and scores[True]["rank-1"] == pytest.approx(1.0)
    assert scores[False]["mAP"] < 1.0 and scores[False]["rank-1"] < 1.0


def test_scorer_rejects_a_missing_gallery_item(tiny_raw, tmp_path):
    truth_path: Path = tiny_raw / "reid" / "valid" / "valid_bbox_info.json"
    rankings = _rankings(json.loads(truth_path.read_text()), perfect=True)
    first = next(iter(rankings))
    rankings[first] = rankings[first][:-1]
    (tmp_path / "r.json").write_text(json.dumps(rankings))
    with pytest.raises(ValueError, match="missing gallery sample"):
        evaluate(str(truth_path), str(tmp_path / "r.json"))
