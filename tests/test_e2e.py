"""End to end: the smoke preset through the whole DAG, then a fusion-only experiment.

Runs in a copy of the repo (its own git and DVC), so it never touches the work tree.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from dvcrepo import FAST_STAGES, UPSTREAM_STAGES, commit, copy_repo
from dvcrepo import run as _run
from dvcrepo import stages_run as _stages_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("e2e"))
    shutil.copy(repo / "presets" / "smoke.yaml", repo / "params.yaml")
    commit(repo, "smoke")
    output = _run(["dvc", "repro"], repo)
    assert {"prepare", "fuse", "rerank", "score", "report"} <= _stages_run(output)
    commit(repo, "repro")
    return repo


def _scores(repo: Path) -> dict:
    return json.loads((repo / "metrics" / "scores.json").read_text())


def test_repro_writes_every_artifact(repo):
    for split in ("train", "valid", "test", "challenge"):
        assert (repo / "data" / "index" / f"{split}.csv").is_file()
    for model in ("osnet_ain", "resnet50_ibn", "dinov2_lora"):
        assert (repo / "artifacts" / "models" / model / "model.pt").is_file()
        for split in ("valid", "test", "challenge"):
            assert (repo / "artifacts" / "features" / model / f"{split}.h5").is_file()
            assert (repo / "artifacts" / "distances" / model / f"{split}.h5").is_file()
    for split in ("valid", "test", "challenge"):
        assert (repo / "artifacts" / "rankings" / f"{split}.json").is_file()
    assert (repo / "reports" / "results.md").is_file()
    assert len(list((repo / "reports" / "figures").glob("*.png"))) >= 5


def test_scores_are_sane(repo):
    scores = _scores(repo)
    ranks = [scores[k] for k in ("rank1", "rank5", "rank10", "rank20")]
    assert 0.0 < scores["mAP"] <= 1.0
    assert ranks == sorted(ranks) and 0.0 < ranks[0] and ranks[-1] <= 1.0
    for model in ("osnet_ain", "resnet50_ibn", "dinov2_lora"):
        assert 0.0 < scores["models"][model]["mAP"] <= 1.0


def test_official_scorer_agrees_with_metrics(repo):
    from SoccerNet.Evaluation.ReIdentification import evaluate

    truth = next((repo / "data" / "raw").rglob("valid/valid_bbox_info.json"))
    official = evaluate(str(truth), str(repo / "artifacts" / "rankings" / "valid.json"))
    scores = _scores(repo)
    assert official["mAP"] == pytest.approx(scores["mAP"], abs=1e-9)
    assert official["rank-1"] == pytest.approx(scores["rank1"], abs=1e-6)


def test_fusion_experiment_reruns_only_downstream(repo):
    before = _scores(repo)
    output = _run(["dvc", "exp", "run", "-S", "fusion.weights=[0.6,0.3,0.1]"], repo)
    ran = _stages_run(output)
    assert ran and ran <= FAST_STAGES, f"unexpected stages ran: {sorted(ran)}"
    assert not [s for s in ran if s.startswith(UPSTREAM_STAGES)]
    after = _scores(repo)
    assert (after["mAP"], after["rank1"]) != (before["mAP"], before["rank1"])
    diff = json.loads(_run(["dvc", "metrics", "diff", "--json"], repo, stdout_only=True))
    assert "mAP" in diff["metrics/scores.json"]


def test_queued_style_experiment_in_a_temp_workspace_retrains_nothing(repo):
    output = _run(["dvc", "exp", "run", "--temp", "-S", "fusion.weights=[0.2,0.5,0.3]"], repo)
    ran = _stages_run(output)
    assert ran and ran <= FAST_STAGES, f"unexpected stages ran: {sorted(ran)}"


def test_rerank_experiment_reruns_from_rerank_on(repo):
    output = _run(["dvc", "exp", "run", "-S", "rerank.k1=10", "-S", "rerank.k2=3"], repo)
    ran = _stages_run(output)
    assert ran and ran <= {"rerank", "score", "report"}, f"unexpected stages ran: {sorted(ran)}"
    assert _scores(repo)["method"] == "rerank:10/3/0.3"


@pytest.mark.parametrize(
    ("key", "value", "stale"),
    [
        (("models", "osnet_ain", "train", "lr"), 0.002, {"train@osnet_ain", "extract@osnet_ain"}),
        (("extract", "dinov2_lora"), {"flip": False, "differs_from_validation": "no flip TTA"}, {"extract@dinov2_lora"}),
        (("distances", "metric"), "euclidean", {"distances@osnet_ain", "distances@resnet50_ibn", "distances@dinov2_lora", "fuse"}),
        (("fusion", "normalize"), "zscore", {"fuse"}),
        (("report", "top_k"), 5, {"report"}),
    ],
)
def test_a_params_change_makes_only_its_own_stages_stale(repo, key, value, stale):
    path = repo / "params.yaml"
    original = path.read_text()
    params = yaml.safe_load(original)
    node = params
    for part in key[:-1]:
        node = node[part]
    if isinstance(value, dict):
        node[key[-1]].update(value)
    else:
        node[key[-1]] = value
    try:
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        status = json.loads(_run(["dvc", "status", "--json"], repo, stdout_only=True))
    finally:
        path.write_text(original)
    assert set(status) == stale
