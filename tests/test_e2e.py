"""End to end: the smoke preset through the whole DAG, then a fusion-only experiment.

Runs in a copy of the repo (its own git and DVC), so it never touches the work tree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_STAGES = ("prepare", "train@", "extract@", "distances@")
FAST_STAGES = {"fuse", "rerank", "score", "report"}

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, stdout_only: bool = False) -> str:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout if stdout_only else done.stdout + done.stderr


def _copy_repo(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        source = ROOT / name
        if source.is_file() and not name.startswith((".venv/", "metrics/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("e2e")
    _copy_repo(repo)
    shutil.copy(repo / "presets" / "smoke.yaml", repo / "params.yaml")
    _run(["git", "init", "-q", "-b", "main"], repo)
    _run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", "add", "-A"], repo)
    _run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-qm", "smoke"], repo)
    output = _run(["dvc", "repro"], repo)
    assert {"prepare", "fuse", "rerank", "score", "report"} <= _stages_run(output)
    _run(["git", "add", "-A"], repo)
    _run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-qm", "repro"], repo)
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

    truth = next((repo / "data" / "raw").rglob("valid/bbox_info.json"))
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
        (("extract", "dinov2_lora", "flip"), False, {"extract@dinov2_lora"}),
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
    node[key[-1]] = value
    try:
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        status = json.loads(_run(["dvc", "status", "--json"], repo, stdout_only=True))
    finally:
        path.write_text(original)
    assert set(status) == stale
