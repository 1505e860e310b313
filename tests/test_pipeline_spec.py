"""params.yaml, the config dataclasses, the presets and dvc.yaml agree with each other.

A stage must declare as params exactly the sections its script reads, list its own script and
the package code it imports as deps, and every templated key must exist in every params file.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from soccerreid.config import load_params
from soccerreid.fingerprint import NOT_DEPS, SRC, import_closure

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAM_FILES = [ROOT / "params.yaml", *sorted((ROOT / "presets").glob("*.yaml"))]
PER_MODEL = ("train", "extract", "distances")
FOREACH = {"${models}": "models", "${soups}": "soups", "${imported}": "imported"}


def _expanded_stages(params: dict) -> dict[str, dict]:
    """dvc.yaml stages with ``foreach: ${models}`` / ``${soups}`` / ``${imported}`` expanded into ``name@key``
    entries (``${item.<field>}``: the field of the entry)."""
    stages = {}
    for name, stage in DVC["stages"].items():
        if "foreach" not in stage:
            stages[name] = stage
            continue
        assert stage["foreach"] in FOREACH, f"{name}: foreach must iterate over the models, soups or imported section"
        for key, item in params[FOREACH[stage["foreach"]]].items():
            text = yaml.safe_dump(stage["do"]).replace("${key}", key)
            text = re.sub(r"\$\{item\.(\w+)\}", lambda m, item=item: str(item[m.group(1)]), text)
            stages[f"{name}@{key}"] = yaml.safe_load(text)
    return stages


def _lookup(params: dict, dotted: str):
    node = params
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"params key '{dotted}' is missing"
        node = node[part]
    return node


def _dep_paths(stage: dict) -> list[str]:
    return _paths(stage.get("deps", []))


def _paths(entries: list) -> list[str]:
    """The paths of a stage's deps or outs, each a string or ``{path: options}``."""
    return [e if isinstance(e, str) else next(iter(e)) for e in entries]


def _resolve(text: str, params: dict) -> str:
    return re.sub(r"\$\{([\w.]+)\}", lambda m: str(_lookup(params, m.group(1))), text)


@pytest.mark.parametrize("params_file", PARAM_FILES, ids=lambda p: p.name)
def test_every_declared_param_exists(params_file):
    load_params(params_file)
    params = yaml.safe_load(params_file.read_text())
    for stage in _expanded_stages(params).values():
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
    imported = ["import", "extract_imported", "distances_imported"]
    stages = ["prepare", *PER_MODEL, *imported, "soup", "fuse", "rerank", "score", "report", "export"]
    assert list(DVC["stages"]) == stages
    for name in (*PER_MODEL, "export"):
        assert DVC["stages"][name]["foreach"] == "${models}"
    for name in imported:
        assert DVC["stages"][name]["foreach"] == "${imported}"
    assert DVC["stages"]["soup"]["foreach"] == "${soups}"


def test_an_imported_model_is_extracted_and_measured_as_a_trained_one():
    """extract_imported@ and distances_imported@ are extract@ and distances@ but for the params section
    of the network (imported.<name>, not models.<name>), and import@ depends on the checkpoint file."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["imported"] = {"sn": {"checkpoint": "ckpt/sn.pth.tar", "arch": "osnet_ain", "variant": "x1_0"}}
    params["extract"]["sn"] = {"height": 256, "width": 128}
    stages = _expanded_stages(params)
    trained, imported = stages["extract@osnet_ain"], stages["extract_imported@sn"]
    assert imported["params"] == ["imported.sn", "extract.sn"]
    assert yaml.safe_dump({**imported, "params": []}) == yaml.safe_dump({**trained, "params": []}).replace(
        "osnet_ain", "sn"
    )
    assert stages["distances_imported@sn"] == yaml.safe_load(
        yaml.safe_dump(stages["distances@osnet_ain"]).replace("osnet_ain", "sn")
    )
    assert "ckpt/sn.pth.tar" in _dep_paths(stages["import@sn"])
    assert stages["import@sn"]["outs"] == ["artifacts/models/sn"]
    script = _script_of(stages["import@sn"])
    assert _sections_read(script) == {"imported"}
    deps = _dep_paths(stages["import@sn"])
    assert str(script.relative_to(ROOT)) in deps
    assert not sorted(rel for rel in _code_files(script) if not _covered(rel, deps))


def test_export_is_off_the_critical_path_of_the_scores():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    stages = _expanded_stages(params)
    exports = {name: stage["outs"] for name, stage in stages.items() if name.startswith("export@")}
    assert {out for outs in exports.values() for out in _paths(outs)} == {
        f"artifacts/export/{model}" for model in params["models"]
    }
    for name, outs in exports.items():  # else DVC deletes the folder before the stage runs, and nothing is ever kept
        assert outs == [{_paths(outs)[0]: {"persist": True}}], f"{name}: the export folder must be persist: true"
    for name, stage in stages.items():
        assert not any(d.startswith("artifacts/export") for d in _dep_paths(stage)), f"{name} depends on an export"


def _script_of(stage: dict) -> Path:
    match = re.search(r"(?:python|\$\{launcher\.train\}) (stages/\w+\.py)", stage["cmd"])
    assert match, f"stage command must run a script in stages/: {stage['cmd']}"
    return ROOT / match.group(1)


def _is_load_params(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_params"


LOOKUPS = {"model": "models", "soup": "soups", "extraction": "extract", "imported_model": "imported"}  # Params methods


def _sections_read(script: Path, network: str = "models") -> set[str]:
    """Top-level params sections a stage script reads: attributes of ``load_params(...)`` results
    (a lookup method such as ``params.model(name)`` reads its section; ``params.network(name)`` reads
    ``network``: models, or imported for a stage over the imported section)."""
    tree = ast.parse(script.read_text())
    holders = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and _is_load_params(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return {
        {**LOOKUPS, "network": network}.get(node.attr, node.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and (_is_load_params(node.value) or (isinstance(node.value, ast.Name) and node.value.id in holders))
    }


@pytest.mark.parametrize("params_file", PARAM_FILES, ids=lambda p: p.name)
def test_stages_declare_their_script_and_the_sections_they_read(params_file):
    params = yaml.safe_load(params_file.read_text())
    for name, stage in _expanded_stages(params).items():
        script = _script_of(stage)
        assert script.is_file(), f"{name}: {script} does not exist"
        assert str(script.relative_to(ROOT)) in _dep_paths(stage), f"{name}: its script is not a dep"
        declared = {key.split(".")[0] for key in stage.get("params", [])}
        read = _sections_read(script, network="imported" if "imported" in declared else "models")
        assert read == declared, (
            f"{name}: script reads params sections {sorted(read)}, dvc.yaml declares {sorted(declared)}"
        )


def test_metrics_and_plots_are_declared_at_top():
    assert "metrics/scores.json" in DVC["metrics"]
    plotted = yaml.safe_dump(DVC["plots"])
    for path in ("metrics/cmc.csv", "reports/methods.csv", "dvclive/osnet_ain/plots/metrics"):
        assert path in plotted


def _code_files(script: Path) -> set[str]:
    """Every soccerreid file (relative to src/) whose code ``script`` runs (the library's import walk)."""
    return {p.relative_to(SRC).as_posix() for p in import_closure(script)}


def _covered(rel: str, deps: list[str]) -> bool:
    target = f"src/{rel}"
    return any(target == d or target.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("params_file", PARAM_FILES, ids=lambda p: p.name)
def test_stages_depend_on_all_package_code_they_run(params_file):
    params = yaml.safe_load(params_file.read_text())
    for name, stage in _expanded_stages(params).items():
        deps = _dep_paths(stage)
        missing = sorted(rel for rel in _code_files(_script_of(stage)) if not _covered(rel, deps))
        assert not missing, f"{name}: runs package code that is not a dep: {missing}"


def test_import_closure_follows_reexports():
    train = _code_files(ROOT / "stages" / "train.py")
    assert {"soccerreid/training/trainer.py", "soccerreid/models/_backbones.py", "soccerreid/schema.py"} <= train
    assert "soccerreid/reporting/report.py" not in train
    assert not set(NOT_DEPS) & train


def _src_files(dep: str) -> list[str]:
    path = ROOT / dep
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [f.relative_to(SRC).as_posix() for f in files]


def test_train_and_extract_depend_on_no_package_code_they_do_not_run():
    """These stages cost GPU-hours: a dep they never run would re-run them for nothing (a package's
    ``__init__.py`` runs on import, so it may be a dep)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, stage in _expanded_stages(params).items():
        if not name.startswith(("train@", "extract@")):
            continue
        runs = _code_files(_script_of(stage))
        deps = [d for d in _dep_paths(stage) if d.startswith("src/")]
        unused = sorted(f for d in deps for f in _src_files(d) if f not in runs and not f.endswith("/__init__.py"))
        assert not unused, f"{name}: depends on package code it never runs: {unused}"


LOADED = """
import ast, importlib, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("stage", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
for node in ast.walk(ast.parse(open(sys.argv[1]).read())):  # the imports main() runs after the params load
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("soccerreid"):
        module = importlib.import_module(node.module)
        [getattr(module, alias.name) for alias in node.names]
print(json.dumps([m.__file__ for name, m in sys.modules.items() if name.startswith("soccerreid")]))
"""


def _imported_files(rel: str) -> set[str]:
    """The soccerreid files that ``import`` statements in ``rel`` name (modules and packages)."""
    found = set()
    for node in ast.walk(ast.parse((SRC / rel).read_text())):
        names = (
            [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if isinstance(node, ast.ImportFrom) and node.module
            else []
        )
        names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
        for dotted in (n for n in names if n.startswith("soccerreid")):
            base = SRC / Path(*dotted.split("."))
            found |= {
                c.relative_to(SRC).as_posix() for c in (base.with_suffix(".py"), base / "__init__.py") if c.is_file()
            }
    return found


@pytest.mark.slow
@pytest.mark.parametrize("script", ["train.py", "extract.py"])
def test_the_import_walk_claims_only_modules_python_loads(script):
    """Oracle: importing the stage script in a fresh interpreter loads every module the walk says it
    runs; every other module it loads is a NOT_DEPS module, a package ``__init__.py``, or imported
    only from those (e.g. config/__init__ importing every config section)."""
    out = subprocess.run(
        [sys.executable, "-c", LOADED, str(ROOT / "stages" / script)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    loaded = {Path(f).resolve().relative_to(SRC).as_posix() for f in json.loads(out.splitlines()[-1])}
    walked = _code_files(ROOT / "stages" / script)
    assert walked <= loaded, f"the walk claims modules the stage never imports: {sorted(walked - loaded)}"
    explained, todo = set(), [m for m in loaded if m in NOT_DEPS or m.endswith("/__init__.py")]
    while todo:
        module = todo.pop()
        if module not in explained:
            explained.add(module)
            todo += [m for m in _imported_files(module) if m in loaded and m not in walked]
    assert loaded - walked <= explained, sorted(loaded - walked - explained)
