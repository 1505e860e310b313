"""Rehearsal of the real path: SoccerNet's archives on a loopback Hub, the real SDK download,
data outside DVC, then the README's experiments.

The synthetic data (smoke-sized, numbered the SoccerNet way) is packed into the four published
zips and the two label files (hubmock.build_soccernet_archives). ``presets/soccernet-cpu.yaml``
(presets/soccernet.yaml with tiny sizes) runs with ``data.download: true`` against the mock,
for data kept inside the repo but git-ignored (``data/soccernet``, the preset's place) and at an
absolute path outside it (there, ``dvc repro prepare`` only: the download and the index are
what differ). After the full ``dvc repro``: the README's queued Table 1 sweep (two queued
experiments and ``dvc queue start``), then a ``--temp`` fusion experiment. Neither may rerun
prepare, train, extract or distances, and the report stage must draw its figures from the crops.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dvcrepo import FAST_STAGES, UPSTREAM_STAGES, commit, copy_repo, run, scratch, stages_run
from hubmock import HubMock, build_soccernet_archives

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
def published(tmp_path_factory, smoke_prepared) -> Iterator[dict[str, dict[str, Path]]]:
    """The published SoccerNet files, built from the smoke-sized synthetic data (the session's prepare output)."""
    with scratch(tmp_path_factory, "published") as base:
        yield build_soccernet_archives(smoke_prepared / "data" / "raw" / "reid", base / "hub")


@pytest.fixture(scope="module")
def rehearsal(published, tmp_path_factory) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """A repo after ``dvc repro`` on data downloaded inside it, git-ignored (the preset's place);
    yields (repo, SoccerNet dir, hub env)."""
    with scratch(tmp_path_factory, "inside_repo_git_ignored") as base:
        yield _rehearse(published, base, [], {"prepare", "train@osnet_ain", "report"})


@pytest.fixture(scope="module")
def prepared_outside(published, tmp_path_factory) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """A repo after ``dvc repro prepare`` on data downloaded to an absolute path outside it."""
    with scratch(tmp_path_factory, "outside_repo") as base:
        yield _rehearse(published, base, ["prepare"], {"prepare"}, outside=True)


def _rehearse(
    published: dict[str, dict[str, Path]], base: Path, targets: list[str], ran: set[str], outside: bool = False
) -> tuple[Path, Path, dict[str, str]]:
    """Copy the repo under ``base``, point it at SoccerNet (``outside``: an absolute path beside
    the repo), ``dvc repro`` its ``targets`` (none: all) through a loopback Hub, check that the
    stages ``ran`` ran and commit."""
    repo = copy_repo(base / "repo")
    params = yaml.safe_load((repo / "presets" / "soccernet-cpu.yaml").read_text())
    if outside:
        params["data"]["soccernet_dir"] = str(base / "SoccerNet")
    # the smoke-sized archives: 10 % of train without None ids holds 5 identities (real SoccerNet: thousands)
    params["models"]["dinov2_lora"]["train"].update(
        {level: 4 for level in ("ids_per_batch", "ids_per_action", "actions_per_game", "games_per_competition")}
    )
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    soccernet = (repo / params["data"]["soccernet_dir"]).resolve()
    commit(repo, "soccernet-cpu")
    with HubMock(published) as hub:
        env = hub.env(base / "hf")
        output = run(["dvc", "repro", *targets], repo, env=env)
    assert ran <= stages_run(output)
    commit(repo, "repro")
    return repo, soccernet, env


@pytest.mark.parametrize("case", ["rehearsal", "prepared_outside"])
def test_data_lives_outside_dvc_and_the_index_points_at_it(case, request):
    repo, soccernet, _ = request.getfixturevalue(case)
    for split in ("train", "valid", "test", "challenge"):
        paths = pd.read_csv(repo / "data" / "index" / f"{split}.csv")["path"]
        assert paths.str.startswith(str(soccernet / "reid" / split) + "/").all()
    assert not run(["git", "ls-files", "data/soccernet"], repo, stdout_only=True).strip()
    assert json.loads((repo / "data" / "raw" / "SOURCE.json").read_text())["reid_dir"] == str(soccernet / "reid")


def test_the_run_on_downloaded_data_trains_scores_and_agrees_with_the_official_scorer(rehearsal):
    repo, _, _ = rehearsal
    assert (repo / "artifacts" / "models" / "osnet_ain" / "model.pt").is_file()
    scores = json.loads((repo / "metrics" / "scores.json").read_text())
    assert scores["official"]["agrees"] and "challenge" in scores


def test_queued_sweep_runs_only_downstream_stages(rehearsal):
    repo, _, env = rehearsal
    for name, overrides in QUEUED.items():
        run(["dvc", "exp", "run", "--queue", "-n", name, *overrides], repo, env=env)
    run(["dvc", "queue", "start", "-j", "1"], repo, env=env)
    try:
        status = _wait_for_queue(repo, env, timeout=900)
    finally:
        run(["dvc", "queue", "stop"], repo, env=env)
    assert all(status[name] == "Success" for name in QUEUED), status
    for name in QUEUED:
        ran = stages_run(run(["dvc", "queue", "logs", name], repo, env=env))
        assert "report" in ran and ran <= FAST_STAGES, f"{name}: unexpected stages ran: {sorted(ran)}"


def test_temp_fusion_experiment_runs_only_downstream_stages(rehearsal):
    repo, _, env = rehearsal
    models = yaml.safe_load((repo / "params.yaml").read_text())["fusion"]["models"]
    weights = ",".join(["1.0"] + ["0.0"] * (len(models) - 1))  # other weights than the preset's, one per fused model
    output = run(["dvc", "exp", "run", "--temp", "-S", f"fusion.weights=[{weights}]"], repo, env=env)
    ran = stages_run(output)
    assert "report" in ran and ran <= FAST_STAGES, f"unexpected stages ran: {sorted(ran)}"
    assert not [s for s in ran if s.startswith(UPSTREAM_STAGES)]


def _wait_for_queue(repo: Path, env: dict[str, str], timeout: float) -> dict[str, str]:
    """``{experiment name: status}`` once no queued experiment is Queued or Running."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [line.split() for line in run(["dvc", "queue", "status"], repo, env=env, stdout_only=True).splitlines()]
        status = {row[1]: row[-1] for row in rows if len(row) >= 3 and row[1] in QUEUED}
        if len(status) == len(QUEUED) and not {"Queued", "Running"} & set(status.values()):
            return status
        assert time.monotonic() < deadline, f"queue still busy after {timeout} s: {status}"
        time.sleep(3)
