"""End to end: the smoke preset through the whole DAG, then a fusion and a rerank experiment in
the workspace, then the README's queued sweep and a ``--temp`` fusion experiment, then the edits, kills and forced
retrains that must (or must not) retrain and re-extract.

Runs on the session's smoke run (tests/dagruns.py), a copy of the repo with its own git and
DVC, so it never touches the work tree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from dvcrepo import FAST_STAGES, UPSTREAM_STAGES, stages_run
from dvcrepo import run_in_copy as _run

pytestmark = pytest.mark.slow
QUEUED = {
    "single-osnet_ain": [
        "-S",
        "fusion.models=[osnet_ain]",
        "-S",
        "fusion.weights=[1.0]",
        "-S",
        "fusion.method=weighted",
        "-S",
        "rerank.enabled=false",
    ],
    "fusion-mean": ["-S", "fusion.method=mean", "-S", "rerank.enabled=false"],
}


@pytest.fixture(scope="module")
def repo(smoke_run) -> Path:
    """The session's smoke run (tests/dagruns.py): a repo copy after ``dvc repro``, committed."""
    return smoke_run


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
    for model in ("osnet_ain", "resnet50_ibn", "dinov2_lora"):
        assert sorted(p.name for p in (repo / "artifacts" / "export" / model).iterdir()) == [
            "deployed.json",
            "fingerprint.json",
            "model_card.md",
            "tracker.onnx",
            "tracker.onnx.metadata.json",
            "tracker.torchscript",
            "tracker.torchscript.metadata.json",
        ]
    assert (repo / "reports" / "results.md").is_file()
    assert len(list((repo / "reports" / "figures").glob("*.png"))) >= 5
    assert (repo / "reports" / "explorer" / "index.html").is_file() and any(
        (repo / "reports" / "explorer" / "thumbs").iterdir()
    )


def test_scores_are_sane(repo):
    scores = _scores(repo)
    ranks = [scores[k] for k in ("rank1", "rank5", "rank10", "rank20")]
    assert 0.0 < scores["mAP"] <= 1.0
    assert ranks == sorted(ranks) and ranks[0] > 0.0 and ranks[-1] <= 1.0
    for model in ("osnet_ain", "resnet50_ibn", "dinov2_lora"):
        assert 0.0 < scores["models"][model]["mAP"] <= 1.0


def test_the_soup_is_scored_next_to_its_seeds(repo):
    scores = _scores(repo)
    assert scores["soups"] == {"osnet_ain_soup": ["osnet_ain", "osnet_ain_seed1"]}
    assert {"osnet_ain", "osnet_ain_seed1", "osnet_ain_soup"} <= set(scores["models"])
    assert (repo / "artifacts" / "soups" / "osnet_ain_soup" / "model.pt").is_file()
    groups = _table_groups((repo / "reports" / "results.md").read_text())
    assert groups["osnet_ain_soup (uniform soup of osnet_ain + osnet_ain_seed1)"] == "soup"
    assert groups["Weighted + AQE (k 5, alpha 3, 1 pass)"] == "qe"


def _table_groups(results_md: str) -> dict[str, str]:
    """Table 1's method label -> group; the best row's label is bold and marked "(best)" (which row wins
    depends on the floats)."""
    rows = [
        line.split("|")[1:3]
        for line in results_md.splitlines()
        if line.startswith("| ") and not line.startswith("| Method")
    ]
    return {re.sub(r"^\*\*(.*)\*\*( \(best\))?$", r"\1", label.strip()): group.strip() for label, group in rows}


def test_official_scorer_agrees_with_metrics(repo):
    from SoccerNet.Evaluation.ReIdentification import evaluate

    truth = next((repo / "data" / "raw").rglob("valid/valid_bbox_info.json"))
    official = evaluate(str(truth), str(repo / "artifacts" / "rankings" / "valid.json"))
    scores = _scores(repo)
    assert official["mAP"] == pytest.approx(scores["mAP"], abs=1e-9)
    assert official["rank-1"] == pytest.approx(scores["rank1"], abs=1e-6)


def test_soccerreid_evaluate_prints_the_dags_single_model_row(repo):
    out = _run(
        [
            sys.executable,
            "-m",
            "soccerreid",
            "evaluate",
            "artifacts/models/osnet_ain/model.pt",
            "--split",
            "valid",
            "--json",
            "evaluate.json",
        ],
        repo,
        stdout_only=True,
    )
    row = _scores(repo)["models"]["osnet_ain"]
    assert json.loads((repo / "evaluate.json").read_text())["mAP"] == row["mAP"]
    assert f"mAP {row['mAP']:.6f}, Rank-1 {row['rank1']:.4f}" in out and out.strip().endswith("(agrees)")


def test_exported_onnx_with_the_cards_lines_equals_the_dags_features(repo):
    from soccerreid.data.index import read_index
    from soccerreid.export import TOLERANCE
    from soccerreid.schema import read_features

    frame = read_index(repo / "data" / "index", "valid").iloc[::40]
    for model in ("osnet_ain", "resnet50_ibn", "dinov2_lora"):
        folder = repo / "artifacts" / "export" / model
        blocks = re.findall(r"```python\n(.*?)```", (folder / "model_card.md").read_text(), re.S)
        code = next(block for block in blocks if "ort.InferenceSession" in block)  # the onnxruntime lines
        code = code.replace('"tracker.onnx"', repr(str(folder / "tracker.onnx")))
        dag = read_features(repo / "artifacts" / "features" / model / "valid.h5")
        rows = {(r, b): i for i, (r, b) in enumerate(zip(dag.role.tolist(), dag.bbox_idx.tolist()))}
        for role, bbox, path in zip(frame["role"], frame["bbox_idx"], frame["path"]):
            scope = {}
            exec(code.replace('"crop.png"', repr(str(repo / path))), scope)
            diff = np.abs(scope["f"][0] - dag.features[rows[role, bbox]]).max()
            assert diff <= TOLERANCE, (model, path, diff)


def test_fusion_experiment_reruns_only_downstream(repo):
    before = _scores(repo)
    output = _run(["dvc", "exp", "run", "-S", "fusion.weights=[0.6,0.3,0.1]"], repo)
    ran = stages_run(output)
    assert ran and ran <= FAST_STAGES, f"unexpected stages ran: {sorted(ran)}"
    assert not [s for s in ran if s.startswith(UPSTREAM_STAGES)]
    after = _scores(repo)
    assert (after["mAP"], after["rank1"]) != (before["mAP"], before["rank1"])
    diff = json.loads(_run(["dvc", "metrics", "diff", "--json"], repo, stdout_only=True))
    assert "mAP" in diff["metrics/scores.json"]


def test_rerank_experiment_reruns_from_rerank_on(repo):
    output = _run(["dvc", "exp", "run", "-S", "rerank.k1=10", "-S", "rerank.k2=3"], repo)
    ran = stages_run(output)
    assert ran and ran <= {"rerank", "score", "report"}, f"unexpected stages ran: {sorted(ran)}"
    assert _scores(repo)["method"] == "rerank:10/3/0.3"


def test_queued_sweep_runs_only_downstream_stages(repo):
    for name, overrides in QUEUED.items():
        _run(["dvc", "exp", "run", "--queue", "-n", name, *overrides], repo)
    _run(["dvc", "queue", "start", "-j", "1"], repo)
    try:
        status = _wait_for_queue(repo, timeout=900)
    finally:
        _run(["dvc", "queue", "stop"], repo)
    assert all(status[name] == "Success" for name in QUEUED), status
    for name in QUEUED:
        ran = stages_run(_run(["dvc", "queue", "logs", name], repo))
        assert "report" in ran and ran <= FAST_STAGES, f"{name}: unexpected stages ran: {sorted(ran)}"


def test_temp_fusion_experiment_runs_only_downstream_stages(repo):
    models = yaml.safe_load((repo / "params.yaml").read_text())["fusion"]["models"]
    weights = ",".join(["1.0"] + ["0.0"] * (len(models) - 1))  # other weights than the preset's, one per fused model
    output = _run(["dvc", "exp", "run", "--temp", "-S", f"fusion.weights=[{weights}]"], repo)
    ran = stages_run(output)
    assert "report" in ran and ran <= FAST_STAGES, f"unexpected stages ran: {sorted(ran)}"
    assert not [s for s in ran if s.startswith(UPSTREAM_STAGES)]


def _wait_for_queue(repo: Path, timeout: float) -> dict[str, str]:
    """``{experiment name: status}`` once no queued experiment is Queued or Running."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [line.split() for line in _run(["dvc", "queue", "status"], repo, stdout_only=True).splitlines()]
        status = {row[1]: row[-1] for row in rows if len(row) >= 3 and row[1] in QUEUED}
        if len(status) == len(QUEUED) and not {"Queued", "Running"} & set(status.values()):
            return status
        assert time.monotonic() < deadline, f"queue still busy after {timeout} s: {status}"
        time.sleep(3)


@pytest.mark.parametrize(
    ("key", "value", "stale"),
    [
        (
            ("models", "osnet_ain", "train", "lr"),
            0.002,
            {"train@osnet_ain", "extract@osnet_ain", "soup@osnet_ain_soup"},
        ),
        (
            ("extract", "dinov2_lora"),
            {"flip": False, "differs_from_validation": "no flip TTA"},
            {"extract@dinov2_lora", "export@dinov2_lora"},
        ),
        (
            ("distances", "metric"),
            "euclidean",
            {
                "distances@osnet_ain",
                "distances@osnet_ain_seed1",
                "distances@resnet50_ibn",
                "distances@dinov2_lora",
                "soup@osnet_ain_soup",
                "fuse",
                *(f"export@{model}" for model in ("osnet_ain", "osnet_ain_seed1", "resnet50_ibn", "dinov2_lora")),
            },
        ),
        (("qe", "k"), 3, {"rerank", "score"}),
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


# ---- what reruns: GPU-hours are the user's money ------------------------------------------------

MODELS = ("osnet_ain", "resnet50_ibn", "dinov2_lora")
GPU_STAGES = {f"{stage}@{model}" for stage in ("train", "extract") for model in MODELS}


def _files(repo: Path, *folders: str) -> dict[str, tuple[int, int]]:
    """``{path: (inode, mtime_ns)}`` of every file under ``folders``: changes when one is rewritten."""
    found = {}
    for folder in folders:
        for path in (repo / folder).rglob("*"):
            if path.is_file():
                found[path.relative_to(repo).as_posix()] = (path.stat().st_ino, path.stat().st_mtime_ns)
    return found


def _weights_and_features(repo: Path) -> dict[str, tuple[int, int]]:
    return _files(repo, "artifacts/checkpoints", "artifacts/models", "artifacts/features")


def _set_params(repo: Path, *changes: tuple[tuple[str, ...], object]) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for key, value in changes:
        node = params
        for part in key[:-1]:
            node = node[part]
        node[key[-1]] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture()
def restored(repo):
    """The repo as committed after the test: sources, params, dvc.lock, and the DVC outputs."""
    yield repo
    _run(["git", "checkout", "--", "."], repo)
    _run(["dvc", "checkout", "--force"], repo)
    assert json.loads(_run(["dvc", "status", "--json"], repo, stdout_only=True)) == {}


def _edit(repo: Path, name: str, old: str, new: str) -> None:
    path = repo / name
    text = path.read_text()
    assert old in text, f"{name}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


def test_edits_that_shape_no_weights_retrain_nothing_and_rewrite_no_checkpoint(restored):
    repo = restored
    before = _weights_and_features(repo)
    _edit(repo, "src/soccerreid/schema.py", '"""', '"""A docstring line added by a reader.\n\n')
    _edit(repo, "src/soccerreid/schema.py", "import h5py", "import h5py  # HDF5")
    _edit(repo, "src/soccerreid/reporting/report.py", "from __future__", "# a reader's comment\nfrom __future__")
    _edit(repo, "src/soccerreid/retrieval/fusion.py", "from __future__", "# fusion comment\nfrom __future__")
    _edit(repo, "src/soccerreid/evaluation/methods.py", "from __future__", "# scoring comment\nfrom __future__")
    _edit(
        repo,
        "src/soccerreid/config/models.py",
        "    splits: tuple[",
        "    def flipped(self) -> bool:\n        return self.flip\n\n    splits: tuple[",
    )  # code in the extraction config
    _set_params(repo, (("models", "osnet_ain", "train", "workers"), 1), (("extract", "resnet50_ibn", "workers"), 1))
    stale = set(json.loads(_run(["dvc", "status", "--json"], repo, stdout_only=True)))
    assert stale >= GPU_STAGES  # DVC re-runs them: their deps changed

    output = _run(["dvc", "repro"], repo)
    assert stages_run(output) >= GPU_STAGES
    for model in MODELS:
        assert f"train@{model}: artifacts/models/{model} kept: weight-shaping config, data and code unchanged" in output
        assert f"extract {model}: artifacts/features/{model} kept" in output
        assert f"export {model}: artifacts/export/{model} kept" in output
    assert "starting fresh" not in output and "resuming" not in output and "exporting" not in output
    assert _weights_and_features(repo) == before, "a checkpoint, model or features file was rewritten"
    assert json.loads(_run(["dvc", "status", "--json"], repo, stdout_only=True)) == {}


def test_a_sigkilled_extract_changes_nothing_downstream_and_the_next_run_leaves_no_leftover(restored):
    repo = restored
    features = repo / "artifacts" / "features"
    before = _files(repo, "artifacts/features/osnet_ain")
    _set_params(
        repo,
        (("extract", "osnet_ain", "flip"), False),
        (("extract", "osnet_ain", "differs_from_validation"), "e2e: a feature change to kill mid-write"),
    )
    command = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]["extract"]["do"]["cmd"]
    argv = [sys.executable if arg == "python" else arg for arg in command.replace("${key}", "osnet_ain").split()]
    proc = subprocess.Popen(
        argv,
        cwd=repo,
        env=dict(os.environ, PYTHONPATH=str(repo / "src")),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while (
        proc.poll() is None
        and time.monotonic() < deadline
        and not any(p.is_file() for p in features.glob(".osnet_ain.*.tmp/*"))
    ):
        time.sleep(0.005)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, (
        f"the extraction ended (exit {proc.returncode}) before it was killed mid-write"
    )
    assert list(features.glob(".osnet_ain.*.tmp")), "no temp folder: not killed mid-write"
    assert _files(repo, "artifacts/features/osnet_ain") == before

    status = json.loads(_run(["dvc", "status", "--json"], repo, stdout_only=True))
    assert set(status) == {"extract@osnet_ain", "export@osnet_ain"}, f"downstream stages look changed: {sorted(status)}"
    _run(["dvc", "repro", "extract@osnet_ain"], repo)
    assert not [p for p in (repo / "artifacts").rglob(".*.tmp")], "a leftover survived the next run"
    assert _files(repo, "artifacts/features/osnet_ain") != before


def test_deleting_a_models_outputs_and_checkpoints_forces_a_retrain(restored):
    repo = restored
    model = repo / "artifacts" / "models" / "osnet_ain" / "model.pt"
    weights, features = model.read_bytes(), _files(repo, "artifacts/features")
    last = (repo / "artifacts" / "checkpoints" / "osnet_ain" / "last.pt").stat().st_mtime_ns
    shutil.rmtree(repo / "artifacts" / "models" / "osnet_ain")
    shutil.rmtree(repo / "artifacts" / "checkpoints" / "osnet_ain")
    output = _run(["dvc", "repro"], repo)
    assert "train@osnet_ain" in stages_run(output) and "kept: weight-shaping" not in output
    assert (repo / "artifacts" / "checkpoints" / "osnet_ain" / "last.pt").stat().st_mtime_ns != last
    assert model.read_bytes() == weights  # seeded, on this CPU: the same weights again ...
    assert "extract osnet_ain: artifacts/features/osnet_ain kept" in output  # ... so nothing re-extracts
    assert _files(repo, "artifacts/features") == features
