"""A tiny finished run for the explorer's tests, and headless Chromium (Debian's) to look at it.

``finished_run`` runs the DAG's own stage scripts, in process, from prepare to report, on a tiny
synthetic SoccerNet, with the session's random-init model files (tests/conftest.py) standing in
for train@<model>: the run's layout is dvc.yaml's, and nothing is trained.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "tests" / "artifacts" / "explorer"  # git-ignored; kept after the run to look at
TINY_DATA = {
    "source": "synthetic",
    "synthetic": {
        "seed": 3, "actions": {"train": 1, "valid": 3, "test": 1, "challenge": 1}, "games": 2, "teams": 3,
        "real_players_per_team": 11, "people_per_action": [6, 9], "frames_per_action": [3, 4],
        "crop_height": [30, 90], "occlusion": 0.3,
    },
}  # fmt: skip


def load_stage(name: str):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def tiny_params(path: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    """The smoke preset with TINY_DATA, LoRA as the session's DINOv2 file has it, extraction at ``sizes``."""
    params = yaml.safe_load((ROOT / "presets" / "smoke.yaml").read_text())
    params["data"] = {**params["data"], **TINY_DATA}
    params["models"]["dinov2_lora"]["lora"] = {"r": 4, "alpha": 16.0, "dropout": 0.0, "targets": ["qkv", "mlp"]}
    for model, (height, width) in sizes.items():
        params["extract"][model] = {"height": height, "width": width, "batch_size": 64, "workers": 0}
    params["fusion"]["grid_step"] = 0.25
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, model_files) -> Path:
    """The root of a run that went from prepare to report (dvc.yaml's paths, relative to it)."""
    from soccerreid import load_model

    root = tmp_path_factory.mktemp("run")
    sizes = {m: (load_model(f).config.height, load_model(f).config.width) for m, f in model_files.items()}
    cwd = os.getcwd()
    os.chdir(root)
    try:
        p = str(tiny_params(root / "params.yaml", sizes))
        load_stage("prepare")(["--params", p, "--raw", "data/raw", "--index", "data/index"])
        for model in sizes:
            (root / "artifacts" / "models" / model).mkdir(parents=True)
            shutil.copy(model_files[model], root / "artifacts" / "models" / model / "model.pt")
            load_stage("extract")(["--params", p, "--model", model, "--weights", f"artifacts/models/{model}/model.pt",
                                   "--index", "data/index", "--out", f"artifacts/features/{model}", "--device", "cpu"])
            load_stage("distances")(["--params", p, "--features", f"artifacts/features/{model}", "--out", f"artifacts/distances/{model}"])
        load_stage("fuse")(["--params", p, "--distances", "artifacts/distances", "--features", "artifacts/features", "--out", "artifacts/fused"])
        load_stage("rerank")(["--params", p, "--fused", "artifacts/fused", "--out", "artifacts/reranked"])
        load_stage("score")(["--params", p, "--distances", "artifacts/distances", "--fused", "artifacts/fused",
                             "--reranked", "artifacts/reranked", "--challenge-groundtruth", "data/index/challenge_groundtruth.json",
                             "--scores", "metrics/scores.json", "--cmc", "metrics/cmc.csv", "--rankings", "artifacts/rankings"])
        load_stage("report")(["--params", p, "--scores", "metrics/scores.json", "--distances", "artifacts/distances",
                              "--fused", "artifacts/fused", "--reranked", "artifacts/reranked", "--cmc", "metrics/cmc.csv",
                              "--rankings", "artifacts/rankings", "--index", "data/index", "--live", "dvclive", "--out", "reports"])
    finally:
        os.chdir(cwd)
    return root
