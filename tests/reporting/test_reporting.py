"""Table 1 rendering, qualitative picks and figure files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from soccerreid.reporting.figures import plot_cmc, plot_method_bars, plot_retrievals, plot_training_curves
from soccerreid.reporting.qualitative import pick_retrievals
from soccerreid.reporting.table import TableRow, best_row, render_results


def _scores(m: float, r1: float) -> dict:
    return {"mAP": m, "rank1": r1, "rank5": 0.9, "rank10": 0.95, "rank20": 1.0}


def test_best_row_is_highest_map_then_rank1():
    rows = [
        TableRow("a", "single", _scores(0.5, 0.4)),
        TableRow("b", "fusion", _scores(0.6, 0.3)),
        TableRow("c", "rerank", _scores(0.6, 0.5)),
    ]
    assert best_row(rows) == 2


def test_render_results_marks_best_and_names_dataset():
    rows = [
        TableRow("OSNet-AIN", "single", _scores(0.5683, 0.4364)),
        TableRow("weighted", "fusion", _scores(0.5547, 0.435)),
    ]
    text = render_results(rows, dataset="synthetic SoccerNet (valid)", notes=["grid best weights: 0.1/0.2/0.7"])
    assert "Dataset: synthetic SoccerNet (valid)" in text
    assert "| **OSNet-AIN** (best) | single | **56.83** | **43.64** |" in text
    assert "| weighted | fusion | 55.47 | 43.50 | 90.00 | 95.00 | 100.00 |" in text
    assert text.rstrip().endswith("- grid best weights: 0.1/0.2/0.7")


def test_render_results_rejects_empty():
    with pytest.raises(ValueError, match="no rows"):
        render_results([], dataset="x")


def _index(tmp_path) -> pd.DataFrame:
    """Two queries and four gallery crops, numbered as SoccerNet numbers them: each list from 0."""
    rows = []
    for role, uids in (("query", [1, 2]), ("gallery", [1, 2, 2, 1])):
        for bbox, uid in enumerate(uids):
            path = tmp_path / f"{role[0]}{bbox}.png"
            Image.fromarray(np.full((40, 20, 3), 40 * len(rows), np.uint8)).save(path)
            rows.append({"role": role, "bbox_idx": bbox, "person_uid": uid, "path": str(path)})
    return pd.DataFrame(rows)


def test_pick_retrievals_separates_successes_and_failures(tmp_path):
    """Query 0 and gallery 0 share bbox_idx 0: each is looked up in its own list."""
    index = _index(tmp_path)
    ranking = {"0": [0, 1, 3, 2], "1": [0, 1, 2, 3]}
    picks = pick_retrievals(ranking, index, top_k=3, count=5, seed=0)
    assert picks.successes.query_paths == [str(tmp_path / "q0.png")]
    assert picks.successes.matches == [[True, False, True]]
    assert picks.failures.query_paths == [str(tmp_path / "q1.png")]
    assert picks.failures.matches == [[False, True, True]]
    assert picks.failures.ranked_paths == [[str(tmp_path / f"g{b}.png") for b in (0, 1, 2)]]


def test_figures_are_written_as_png(tmp_path):
    index = _index(tmp_path)
    paths = index["path"].tolist()
    outputs = {
        "bars": lambda p: plot_method_bars(["a", "b"], [0.5, 0.6], [0.4, 0.5], p),
        "cmc": lambda p: plot_cmc({"a": np.linspace(0.4, 1.0, 20)}, p),
        "qual": lambda p: plot_retrievals(
            paths[:2], [paths[2:5], paths[3:6]], [[True, False, True], [False] * 3], "t", p
        ),
        "curves": lambda p: plot_training_curves(
            {"m": {"loss": np.array([3.0, 2.0]), "val_mAP": np.array([0.3, 0.5])}}, p
        ),
    }
    for name, draw in outputs.items():
        draw(tmp_path / "fig" / f"{name}.png")
        with Image.open(tmp_path / "fig" / f"{name}.png") as image:
            assert image.format == "PNG" and image.size[0] > 100
    assert not list((tmp_path / "fig").glob("*.tmp"))


def _section(m: float) -> dict:
    return {**_scores(m, m - 0.1), "num_queries": 10, "queries_without_positive": 0}


def test_table_rows_cover_models_fusions_and_rerank_presets():
    from soccerreid.reporting.report import table_rows

    scores = {
        "models": {"osnet_ain": _section(0.6), "resnet50_ibn": _section(0.5)},
        "fusion": {"concat": _section(0.55), "weighted": _section(0.58), "grid": _section(0.61)},
        "rerank": {"standard": _section(0.62), "broad": _section(0.57)},
    }
    info = {
        "models": ["resnet50_ibn", "osnet_ain"],
        "method": "weighted",
        "weights": [0.25, 0.75],
        "grid_weights": [0.1, 0.9],
    }
    rows = table_rows(scores, info)
    assert [r.method for r in rows] == [
        "ResNet50-IBN",
        "OSNet-AIN",
        "Concatenation",
        "Weighted (0.25/0.75)",
        "Grid best (0.1/0.9)",
        "Weighted + re-rank standard (20/6/0.3)",
        "Weighted + re-rank broad (60/10/0.3)",
    ]
    assert [r.group for r in rows] == ["single"] * 2 + ["fusion"] * 3 + ["rerank"] * 2
    assert rows[best_row(rows)].method == "Weighted + re-rank standard (20/6/0.3)"


def test_read_histories_from_dvclive_tsv(tmp_path):
    from soccerreid.reporting.report import read_histories

    folder = tmp_path / "m" / "plots" / "metrics"
    folder.mkdir(parents=True)
    (folder / "loss.tsv").write_text("step\tloss\n0\t3.5\n1\t2.25\n")
    (folder / "val_mAP.tsv").write_text("step\tval_mAP\n0\t0.3\n1\t0.45\n")
    histories = read_histories(tmp_path, ["m"])
    assert histories["m"]["loss"].tolist() == [3.5, 2.25]
    assert histories["m"]["val_mAP"].tolist() == [0.3, 0.45]


def test_heldout_and_challenge_scores_become_columns_without_changing_the_best_row():
    from soccerreid.reporting.report import table_rows

    valid = {
        "models": {"osnet_ain": _section(0.6)},
        "fusion": {"grid": _section(0.7)},
        "rerank": {"standard": _section(0.65)},
    }
    test = {
        "models": {"osnet_ain": _section(0.5)},
        "fusion": {"grid": _section(0.45)},
        "rerank": {"standard": _section(0.55)},
    }
    info = {"models": ["osnet_ain"], "method": "grid", "weights": [1.0], "grid_weights": [1.0]}
    challenge = {
        "models": {"osnet_ain": _section(0.3)},
        "fusion": {"grid": _section(0.35)},
        "rerank": {"standard": _section(0.4)},
    }
    rows = table_rows(
        {**valid, "heldout": {"split": "test", **test}, "challenge": {"split": "challenge", **challenge}}, info
    )
    assert [r.extra["Test"]["mAP"] for r in rows] == [0.5, 0.45, 0.55]
    assert [r.extra["Challenge"]["mAP"] for r in rows] == [0.3, 0.35, 0.4]
    text = render_results(rows, dataset="toy")
    header = (
        "| Method | Group | mAP | Rank-1 | Rank-5 | Rank-10 | Rank-20 | Test mAP | Test Rank-1 "
        "| Challenge mAP | Challenge Rank-1 |"
    )
    assert header in text
    grid = next(
        line
        for line in text.splitlines()
        if line.startswith("| **Grid best (1)** (best) | fusion | **70.00** | **60.00** |")
    )
    assert grid.endswith("| **45.00** | **35.00** | **35.00** | **25.00** |")
    plain = render_results(table_rows(valid, info), dataset="toy")
    assert "Test" not in plain and "Challenge" not in plain


def test_soups_follow_their_seeds_and_query_expansion_rows_precede_rerank():
    from soccerreid.reporting.report import table_rows

    scores = {
        "models": {"osnet_ain": _section(0.6), "osnet_s1": _section(0.58), "osnet_soup": _section(0.63)},
        "fusion": {"weighted": _section(0.6)},
        "qe": {"aqe": _section(0.61), "dba": _section(0.62)},
        "rerank": {"standard": _section(0.59)},
        "soups": {"osnet_soup": ["osnet_ain", "osnet_s1"]},
        "qe_settings": {"k": 5, "alpha": 3.0, "times": 2},
    }
    info = {"models": ["osnet_ain"], "method": "weighted", "weights": [1.0], "grid_weights": [1.0]}
    rows = table_rows(scores, info)
    assert [r.method for r in rows] == [
        "OSNet-AIN",
        "osnet_s1",
        "osnet_soup (uniform soup of osnet_ain + osnet_s1)",
        "Weighted (1)",
        "Weighted + AQE (k 5, alpha 3, 2 passes)",
        "Weighted + DBA (k 5, alpha 3, 2 passes)",
        "Weighted + re-rank standard (20/6/0.3)",
    ]
    assert [r.group for r in rows] == ["single", "single", "soup", "fusion", "qe", "qe", "rerank"]
