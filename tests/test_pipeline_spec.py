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


SRC = ROOT / "src"
# Modules that only parse params, report errors or write files: they never shape an output.
NOT_DEPS = ("soccerreid/__init__.py", "soccerreid/config/__init__.py", "soccerreid/config/_base.py",
            "soccerreid/io.py", "soccerreid/cli.py", "soccerreid/errors.py")


def _module_file(dotted: str) -> Path | None:
    """The file of a soccerreid module or package (its ``__init__.py``), None if it is neither."""
    base = SRC / Path(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every ``from soccerreid... import names`` and ``import soccerreid...`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("soccerreid"):
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.startswith("soccerreid")]
    return found


def _reexports_only(init: Path) -> bool:
    """True when a package ``__init__.py`` holds only a docstring, imports and ``__all__``."""
    body = ast.parse(init.read_text()).body
    allowed = (ast.Import, ast.ImportFrom, ast.Expr)
    return all(isinstance(n, allowed) or (isinstance(n, ast.Assign) and n.targets[0].id == "__all__") for n in body)


def _providers(module: str, names: list[str]) -> list[str]:
    """The modules whose code ``from module import names`` runs for those names.

    A package that only re-exports is transparent: each name leads to the module it comes from,
    and its own imports of submodules (registration side effects) are always followed.
    """
    path = _module_file(module)
    if path is None or path.name != "__init__.py" or not _reexports_only(path):
        return [module]
    out = [f"{module}.{n}" for n in names if _module_file(f"{module}.{n}")]
    for source, imported in _imports(path):
        if source == module:
            out += [f"{source}.{n}" for n in imported]
        elif set(imported) & set(names):
            out.append(source)
    return out


def _code_files(script: Path) -> set[str]:
    """Every soccerreid file (relative to src/) whose code ``script`` runs, transitively (the
    ``NOT_DEPS`` modules and what only they import aside)."""
    seen: set[str] = set()
    todo = [m for module, names in _imports(script) for m in _providers(module, names)]
    while todo:
        path = _module_file(todo.pop())
        rel = str(path.relative_to(SRC)) if path else None
        if rel is None or rel in seen:
            continue
        seen.add(rel)
        if rel not in NOT_DEPS:
            todo += [m for module, names in _imports(path) for m in _providers(module, names)]
    return seen - set(NOT_DEPS)


def _covered(rel: str, deps: list[str]) -> bool:
    target = f"src/{rel}"
    return any(target == d or target.startswith(d.rstrip("/") + "/") for d in deps)


def test_stages_depend_on_all_package_code_they_run():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, stage in _expanded_stages(params).items():
        deps = _dep_paths(stage)
        missing = sorted(rel for rel in _code_files(_script_of(stage)) if not _covered(rel, deps))
        assert not missing, f"{name}: runs package code that is not a dep: {missing}"


def test_import_closure_follows_reexports():
    train = _code_files(ROOT / "stages" / "train.py")
    assert {"soccerreid/training/trainer.py", "soccerreid/models/_backbones.py", "soccerreid/schema.py"} <= train
    assert "soccerreid/reporting/report.py" not in train
    assert not set(NOT_DEPS) & train
