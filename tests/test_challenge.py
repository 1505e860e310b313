"""presets/challenge.yaml end to end on the embedded data, smoke-sized: trained on train + valid +
test with a fixed epoch count, it writes the challenge ranking and scores it with the released labels."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dvcrepo import commit, copy_repo, run, scratch, stages_run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# arch -> (variant, input size of every phase): the smallest of each family, as in presets/smoke.yaml
SMALL = {
    "osnet_ain": ("x0_25", 64, 32),
    "resnet50_ibn": ("a", 64, 32),
    "dinov2_lora": ("small", 56, 28),
    "clip_vit": ("b16", 32, 16),
}
SMALL_TRAIN = {
    "ids_per_batch": 8,
    "images_per_id": 2,
    "workers": 0,
    "val_queries": 40,
    "bn_batches": 4,
    "warmup_epochs": 0,
}


# the smoke preset's data with fewer actions: what the test checks does not grow with the data, and four
# models trained on every labelled split cost half as much (its own prepare takes 3 s)
ACTIONS = {"train": 3, "valid": 2, "test": 2, "challenge": 2}


def smoke_sized(preset: dict, smoke: dict) -> dict:
    """``preset`` on the smoke preset's data (:data:`ACTIONS`), with tiny models: every switch that
    makes it the challenge recipe (training splits, fixed epochs, losses, sampling levels, fusion) kept."""
    params = copy.deepcopy(preset)
    params["data"] = copy.deepcopy(smoke["data"])
    params["data"]["synthetic"]["actions"] = ACTIONS
    for name, model in params["models"].items():
        variant, height, width = SMALL[model["arch"]]
        model.update(variant=variant, pretrained="none")
        if "lora" in model:
            model["lora"] = {"r": 4, "alpha": 8.0, "dropout": 0.0, "targets": ["qkv"]}
        train = model["train"]
        train["phases"] = [{**phase, "epochs": 1, "height": height, "width": width} for phase in train["phases"]]
        train.update(SMALL_TRAIN)
        for level in ("ids_per_action", "actions_per_game", "games_per_competition"):
            train[level] = min(train[level], SMALL_TRAIN["ids_per_batch"])
        params["extract"][name] = {"height": height, "width": width, "batch_size": 64, "workers": 0, "compile": False}
    return params


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[Path]:
    """A repo copy on the smoke-sized challenge preset after ``dvc repro report``. (The exports, which
    no score reads, are the smoke run's to test: tests/test_e2e.py.)"""
    with scratch(tmp_path_factory, "challenge") as base:
        repo = copy_repo(base)
        preset = yaml.safe_load((repo / "presets" / "challenge.yaml").read_text())
        smoke = yaml.safe_load((repo / "presets" / "smoke.yaml").read_text())
        (repo / "params.yaml").write_text(yaml.safe_dump(smoke_sized(preset, smoke), sort_keys=False))
        commit(repo, "challenge, smoke-sized")
        output = run(["dvc", "repro", "report"], repo, timeout=3600)  # four models, on train + valid + test
        assert {"prepare", "train@clip_vit", "score", "report"} <= stages_run(output)
        assert not {stage for stage in stages_run(output) if stage.startswith("export@")}
        yield repo


def test_every_model_trains_on_train_valid_and_test_for_its_fixed_epochs(repo):
    index = repo / "data" / "index"
    frames = {split: pd.read_csv(index / f"{split}.csv", keep_default_na=False) for split in ("train", "valid", "test")}
    every = pd.concat(frames.values())
    kept = every[every["jersey"] != "None"]
    identities = len(kept[["split", "action_idx", "person_uid"]].drop_duplicates())
    preset = yaml.safe_load((ROOT / "presets" / "challenge.yaml").read_text())
    for name in preset["models"]:
        summary = json.loads((repo / "artifacts" / "models" / name / "summary.json").read_text())
        assert summary["splits"] == ["train", "valid", "test"] and summary["select"] == "last"
        assert summary["phases"][-1]["identities"] == identities, "identities are (split, action_idx, person_uid)"
        assert summary["phases"][-1]["images"] == len(kept), "no None-id crops"
        assert all(phase["best_epoch"] == phase["epochs"] - 1 for phase in summary["phases"]), (
            "the last epoch, not a valid pick"
        )


def test_the_challenge_ranking_is_written_and_scored_with_the_released_labels(repo):
    from SoccerNet.Evaluation.ReIdentification import evaluate

    ranking = repo / "artifacts" / "rankings" / "challenge.json"
    truth = repo / "data" / "index" / "challenge_groundtruth.json"
    official = evaluate(str(truth), str(ranking))
    scores = json.loads((repo / "metrics" / "scores.json").read_text())
    assert scores["challenge"]["official"]["mAP"] == pytest.approx(official["mAP"], abs=1e-9)
    assert 0.0 < scores["challenge"]["mAP"] <= 1.0 and scores["method"] == "rerank:20/6/0.3"
    assert "Challenge mAP" in (repo / "reports" / "results.md").read_text()
