"""The retrieval sections of params.yaml: what the stages rely on."""

from pathlib import Path

import pytest
import yaml

from soccerreid.config import RERANK_PRESETS, parse_params
from soccerreid.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def params_with(section, **changes):
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data[section].update(changes)
    return data


def test_rerank_presets_are_the_reports_four_settings():
    assert RERANK_PRESETS == {
        "standard": (20, 6, 0.3),
        "aggressive": (10, 3, 0.3),
        "broad": (60, 10, 0.3),
        "lambda_0.5": (20, 6, 0.5),
    }


def test_rerank_lambda_key():
    assert parse_params(params_with("rerank", **{"lambda": 0.5})).rerank.lambda_ == 0.5


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grid_step": 0.3}, "fusion.grid_step: expected 1/grid_step to be a whole number, got 0.3"),
        ({"weights": [0.5, 0.5]}, "fusion.weights: expected 3 weights aligned with fusion.models, got 2"),
        ({"weights": [0.5, -0.1, 0.6]}, r"fusion.weights: expected a value >= 0.0, got -0.1"),
        ({"weights": [0, 0, 0]}, "fusion.weights: expected a positive sum"),
        ({"normalize": "l2"}, "fusion.normalize: expected one of"),
    ],
)
def test_bad_fusion_params_are_one_line_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        parse_params(params_with("fusion", **changes))
