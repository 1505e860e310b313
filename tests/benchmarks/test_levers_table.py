"""benchmarks/levers.py's table: per-lever mean and spread over seeds, the baseline's query
expansion rows, a soup against its own members."""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("levers_table", ROOT / "benchmarks" / "levers.py")
levers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(levers)


def _scores(m: float) -> dict:
    part = {
        "mAP": m,
        "rank1": m / 2,
        "qe": {"aqe": {"mAP": m + 0.01, "rank1": m}},
        "models": {
            "a": {"mAP": m - 0.1, "rank1": 0.1},
            "b": {"mAP": m - 0.2, "rank1": 0.2},
            "soup": {"mAP": m - 0.3, "rank1": 0.3},
        },
    }
    return {**part, "heldout": dict(part, mAP=m - 0.05), "challenge": dict(part, mAP=m - 0.06)}


def test_rows_average_seeds_and_pick_up_query_expansion_and_soup_rows():
    soups = {"soup": ["a", "b"]}
    found = {"base-s0": (_scores(0.4), soups), "base-s1": (_scores(0.5), soups), "ema-s0": (_scores(0.6), soups)}
    table = levers.rows(found)
    assert set(table) == {"base", "base + aqe", "soup members", "soup", "ema"}
    assert [m for m, _ in table["base"]["valid"]] == [0.4, 0.5]
    assert [m for m, _ in table["base"]["test"]] == pytest.approx([0.35, 0.45])
    assert [m for m, _ in table["base + aqe"]["challenge"]] == pytest.approx([0.41, 0.51])
    assert [m for m, _ in table["soup members"]["valid"]] == pytest.approx([0.4, 0.3])  # the last base run's
    assert levers.summarize([0.4, 0.5]) == (pytest.approx(0.45), pytest.approx(statistics.stdev([0.4, 0.5])))
    assert levers.summarize([0.6]) == (0.6, 0.0)


def test_a_soup_is_compared_with_its_own_members_and_a_lever_with_the_baseline():
    soups = {"soup": ["a", "b"]}
    table = levers.rows(
        {"base-s0": (_scores(0.4), soups), "base-s1": (_scores(0.5), soups), "ema-s0": (_scores(0.6), soups)}
    )
    assert levers.reference(table, "soup") == "soup members"
    assert levers.reference(table, "ema") == levers.reference(table, "soup members") == "base"
    assert levers.delta(table, "soup", "valid") == pytest.approx((0.5 - 0.3) - (0.5 - 0.1 + 0.5 - 0.2) / 2)
    assert levers.delta(table, "ema", "test") == pytest.approx(0.55 - 0.40)
    assert levers.delta(table, "base", "challenge") == 0.0
