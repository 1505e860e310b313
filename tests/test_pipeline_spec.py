"""params.yaml, the config dataclasses, the presets and dvc.yaml agree with each other.

A stage must declare as params exactly the sections its script reads, list its own script and
the package code it imports as deps, and every templated key must exist in every params file.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from soccerreid.config import load_params

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAM_FILES = [ROOT / "params.yaml", *sorted((ROOT / "presets").glob("*.yaml"))]
PER_MODEL = ("train", "extract", "distances")


def _expanded_stages(params: dict) -> dict[str, dict]:
    """dvc.yaml stages with ``foreach: ${models}`` expanded into ``name@model`` entries."""
    stages = {}
    for name, stage in DVC["stages"].items():
        if "foreach" not in stage:
            stages[name] = stage
            continue
        assert stage["foreach"] == "${models}", f"{name}: foreach must iterate over the models section"
        for model in params["models"]:
            text = yaml.safe_dump(stage["do"]).replace("${key}", model)
            stages[f"{name}@{model}"] = yaml.safe_load(text)
    return stages


def _lookup(params: dict, dotted: str):
    node = params
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"params key '{dotted}' is missing"
        node = node[part]
    return node


def _dep_paths(stage: dict) -> list[str]:
    return [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]


def _resolve(text: str, params: dict) -> str:
    return re.sub(r"\$\{([\w.]+)\}", lambda m: str(_lookup(params, m.group(1))), text)


@pytest.mark.parametrize("params_file", PARAM_FILES, ids=lambda p: p.name)
def test_every_declared_param_exists(params_file):
    load_params(params_file)
    params = yaml.safe_load(params_file.read_text())
    for name, stage in _expanded_stages(params).items():
        for key in stage.get("params", []):
            _lookup(params, key)
        for dep in _dep_paths(stage):
            _resolve(dep, params)


@pytest.mark.parametrize("params_file", PARAM_FILES, ids=lambda p: p.name)
def test_fuse_depends_on_every_fused_model(params_file):
    params = yaml.safe_load(params_file.read_text())
    deps = [_resolve(d, params) for d in _dep_paths(_expanded_stages(params)["fuse"])]
    for model in params["fusion"]["models"]:
        assert any(d.rstrip("/").endswith("distances") or d.endswith(f"distances/{model}") for d in deps), model


def test_stage_order_and_per_model_stages():
    assert list(DVC["stages"]) == ["prepare", *PER_MODEL, "fuse", "rerank", "score", "report"]
    for name in PER_MODEL:
        assert "foreach" in DVC["stages"][name]


def _script_of(stage: dict) -> Path:
    match = re.search(r"(?:python|\$\{launcher\.train\}) (stages/\w+\.py)", stage["cmd"])
    assert match, f"stage command must run a script in stages/: {stage['cmd']}"
    return ROOT / match.group(1)


def _is_load_params(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_params"


def _sections_read(script: Path) -> set[str]:
    """Top-level params sections a stage script reads: attributes of ``load_params(...)`` results."""
    tree = ast.parse(script.read_text())
    holders = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and _is_load_params(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and (_is_load_params(node.value) or (isinstance(node.value, ast.Name) and node.value.id in holders))
    }


def test_stages_declare_their_script_and_the_sections_they_read():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, stage in _expanded_stages(params).items():
        script = _script_of(stage)
        assert script.is_file(), f"{name}: {script} does not exist"
        assert str(script.relative_to(ROOT)) in _dep_paths(stage), f"{name}: its script is not a dep"
        declared = {key.split(".")[0] for key in stage.get("params", [])}
        read = _sections_read(script)
        assert read == declared, f"{name}: script reads params sections {sorted(read)}, dvc.yaml declares {sorted(declared)}"


def test_metrics_and_plots_are_declared_at_top():
    assert "metrics/scores.json" in DVC["metrics"]
    plotted = yaml.safe_dump(DVC["plots"])
    for path in ("metrics/cmc.csv", "reports/methods.csv", "dvclive/osnet_ain/plots/metrics"):
        assert path in plotted
