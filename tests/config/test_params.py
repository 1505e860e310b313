"""params.yaml validation: every bad key, type or value is a one-line error naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from soccerreid.config import RERANK_PRESETS, load_params, parse_params
from soccerreid.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_params(data)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_default_params_load():
    params = load_params(ROOT / "params.yaml")
    assert set(params.fusion.models) <= set(params.models)
    assert params.rerank.lambda_ == pytest.approx(0.3)
    assert len(params.fusion.weights) == len(params.fusion.models)


def test_presets_are_complete_and_valid():
    presets = sorted((ROOT / "presets").glob("*.yaml"))
    assert {p.stem for p in presets} >= {"smoke", "soccernet"}
    for preset in presets:
        load_params(preset)


def _keys(node: object, prefix: str = "") -> set[str]:
    if not isinstance(node, dict):
        return {prefix}
    return set().union(*(_keys(value, f"{prefix}.{key}") for key, value in node.items()))


def test_cpu_preset_has_the_soccernet_presets_keys():
    real = yaml.safe_load((ROOT / "presets" / "soccernet.yaml").read_text())
    cpu = yaml.safe_load((ROOT / "presets" / "soccernet-cpu.yaml").read_text())
    assert _keys(cpu) == _keys(real)
    assert cpu["data"] == real["data"]


def test_unknown_key_is_named(raw):
    raw["fusion"]["wieghts"] = [1, 1, 1]
    assert _error(raw) == (
        "params.yaml: fusion.wieghts: unknown key (expected one of: models, method, weights, normalize, grid_step)"
    )


def test_the_former_export_section_says_where_its_setting_went(raw):
    raw["export"] = {"supersample": 3}
    assert _error(raw) == (
        "params.yaml: export: no such section any more; set the tracker's input scale per model as "
        "extract.<model>.supersample (CHANGELOG)"
    )


def test_unknown_nested_key_under_models(raw):
    raw["models"]["osnet_ain"]["train"]["phases"][0]["epoch"] = 3
    assert _error(raw).startswith("params.yaml: models.osnet_ain.train.phases[0].epoch: unknown key")


def test_wrong_type_is_named(raw):
    raw["rerank"]["k1"] = "twenty"
    assert _error(raw) == "params.yaml: rerank.k1: expected int, got str 'twenty'"


def test_bool_is_not_an_int(raw):
    raw["rerank"]["k2"] = True
    assert "rerank.k2: expected int" in _error(raw)


def test_out_of_range_value_is_named(raw):
    raw["models"]["osnet_ain"]["train"]["lr"] = -0.1
    assert _error(raw) == "params.yaml: models.osnet_ain.train.lr: expected a value > 0.0, got -0.1"


def test_literal_choice_is_named(raw):
    raw["fusion"]["method"] = "median"
    assert _error(raw) == (
        "params.yaml: fusion.method: expected one of ['concat', 'mean', 'weighted', 'grid'], got 'median'"
    )


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([0.5, 0.5], "fusion.weights: expected 3 weights aligned with fusion.models, got 2"),
        ([0.5, -0.1, 0.6], "fusion.weights: expected a value >= 0.0, got -0.1"),
        ([0, 0, 0], "fusion.weights: expected a positive sum, got [0.0, 0.0, 0.0]"),
    ],
)
def test_fusion_weights_are_validated(raw, weights, expected):
    raw["fusion"]["weights"] = weights
    assert _error(raw) == f"params.yaml: {expected}"


def test_fusion_model_must_exist(raw):
    raw["fusion"]["models"] = ["resnet50_ibn", "dinov2_lora", "osnet"]
    assert "fusion.models: 'osnet' is not a key of models" in _error(raw)


def test_missing_required_key(raw):
    del raw["models"]["osnet_ain"]["arch"]
    assert _error(raw) == "params.yaml: models.osnet_ain.arch: missing required key"


def test_rerank_lambda_uses_yaml_key(raw):
    raw["rerank"]["lambda"] = 1.5
    assert _error(raw) == "params.yaml: rerank.lambda: expected a value <= 1.0, got 1.5"


def test_range_pair_order(raw):
    raw["data"]["synthetic"]["people_per_action"] = [20, 10]
    assert "data.synthetic.people_per_action: expected [low, high] with low <= high" in _error(raw)


def test_params_are_frozen():
    params = parse_params(yaml.safe_load((ROOT / "params.yaml").read_text()))
    with pytest.raises(AttributeError):
        params.fusion.method = "mean"


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("fusion: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML"):
        load_params(bad)


def test_rerank_presets_match_report():
    assert RERANK_PRESETS == {
        "standard": (20, 6, 0.3),
        "aggressive": (10, 3, 0.3),
        "broad": (60, 10, 0.3),
        "lambda_0.5": (20, 6, 0.5),
    }


def test_input_is_not_mutated(raw):
    before = copy.deepcopy(raw)
    parse_params(raw)
    assert raw == before


def test_extract_section_covers_every_model(raw):
    del raw["extract"]["osnet_ain"]
    assert _error(raw) == (
        "params.yaml: extract: expected one entry per model, soup and imported model "
        "['dinov2_lora', 'osnet_ain', 'resnet50_ibn'], got ['dinov2_lora', 'resnet50_ibn']"
    )


def test_launcher_must_be_python_or_torchrun(raw):
    raw["launcher"]["train"] = "mpirun -n 4"
    assert (
        _error(raw)
        == "params.yaml: launcher.train: expected 'python' or 'torchrun --nproc_per_node=N', got 'mpirun -n 4'"
    )


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        ({"ranks": [1, 5, 10]}, "score.ranks: expected a list holding [1, 5, 10, 20], missing [20]"),
        (
            {"ranks": [1, 5, 10, 20, 30], "max_rank": 25},
            "score.max_rank: expected at least the largest of ranks (30), got 25",
        ),
    ],
)
def test_score_ranks_are_validated(raw, score, expected):
    raw["score"].update(score)
    assert _error(raw) == f"params.yaml: {expected}"


def _set(raw: dict, dotted: str, value) -> dict:
    node = raw
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return raw


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        (
            "fusion.models",
            ["osnet_ain", "osnet_ain", "dinov2_lora"],
            "fusion.models: duplicate model names in ['osnet_ain', 'osnet_ain', 'dinov2_lora']",
        ),
        ("fusion.models", [], "fusion.models: expected at least one model name"),
        (
            "models.dinov2_lora.lora.targets",
            ["proj"],
            "models.dinov2_lora.lora.targets: expected a non-empty subset of ['qkv', 'mlp'], got ['proj']",
        ),
        (
            "data.source",
            "soccernet",
            "data.soccernet_dir: required when source is 'soccernet' (a local SoccerNet folder)",
        ),
        (
            "data.synthetic.people_per_action",
            [15, 20, 25],
            "data.synthetic.people_per_action: expected a list of 2 items, got 3",
        ),
        ("fusion.grid_step", 0.3, "fusion.grid_step: expected 1/grid_step to be a whole number, got 0.3"),
    ],
)
def test_more_bad_values_name_their_key(raw, dotted, value, expected):
    assert _error(_set(raw, dotted, value)) == f"params.yaml: {expected}"
