"""The explorer's query table: filters, sorts and the one-line errors of a run with missing artifacts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from soccerreid.errors import DataError
from soccerreid.explorer.run import Run, RunPaths, filter_queries, sort_queries


@pytest.fixture()
def table() -> pd.DataFrame:
    """Five queries (bbox_idx 0-4) under A, with B's AP; query 4 has no positive."""
    return pd.DataFrame(
        {
            "action": [0, 0, 1, 1, 2],
            "clazz": ["Player_team_left", "Main_referee", "Player_team_left", "Player_team_right", "Player_team_left"],
            "ap": [1.0, 0.25, 0.5, 0.8, np.nan],
            "first_hit": [1, 4, 2, 1, 0],
            "ap_b": [1.0, 0.5, 0.25, 1.0, np.nan],
        },
        index=pd.Index([0, 1, 2, 3, 4], name="query"),
    ).assign(delta=lambda t: t["ap_b"] - t["ap"])


def test_each_filter_keeps_its_rows(table):
    assert filter_queries(table).index.tolist() == [0, 1, 2, 3, 4]
    assert filter_queries(table, clazz="Player_team_left").index.tolist() == [0, 2, 4]
    assert filter_queries(table, action=1).index.tolist() == [2, 3]
    assert filter_queries(table, rank1="hit").index.tolist() == [0, 3]
    assert filter_queries(table, rank1="miss").index.tolist() == [1, 2, 4]
    assert filter_queries(table, ap_range=(0.25, 0.5)).index.tolist() == [1, 2]
    assert filter_queries(table, clazz="Player_team_left", rank1="miss", ap_range=(0.0, 1.0)).index.tolist() == [2]
    with pytest.raises(ValueError, match="rank1: expected hit, miss or None, got 'both'"):
        filter_queries(table, rank1="both")


def test_sorts_put_queries_without_ap_last(table):
    assert sort_queries(table, "ap_asc").index.tolist() == [1, 2, 3, 0, 4]
    assert sort_queries(table, "ap_desc").index.tolist() == [0, 3, 2, 1, 4]
    assert sort_queries(table, "delta_desc").index.tolist() == [1, 3, 0, 2, 4]
    assert sort_queries(table, "delta_asc").index.tolist() == [2, 0, 3, 1, 4]
    with pytest.raises(DataError, match="needs a second method"):
        sort_queries(table.drop(columns=["ap_b", "delta"]), "delta_asc")


def test_a_run_names_each_missing_artifact_and_its_command(tmp_path):
    run = Run(RunPaths.under(tmp_path))
    with pytest.raises(DataError) as err:
        run.splits()
    assert (
        str(err.value)
        == f"{tmp_path / 'metrics' / 'scores.json'}: not found (the run was never scored); `dvc repro score` makes it"
    )
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "scores.json").write_text(
        json.dumps({"split": "valid", "method": "rerank:20/6/0.3", "mAP": 0.5})
    )
    with pytest.raises(DataError, match=r"fused/fusion.json: not found; `dvc repro fuse` makes it"):
        run.methods("valid")
    with pytest.raises(DataError, match=r"models: not found; `dvc repro train` makes it"):
        run.models()
    with pytest.raises(DataError, match=r"split 'test' was not scored \(have valid\)"):
        run.section("test")
