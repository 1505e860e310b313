"""Rehearsal of the real path: SoccerNet's archives on a loopback Hub, the real SDK download,
data outside DVC, then a run on the downloaded data.

The synthetic data (smoke-sized, numbered the SoccerNet way) is packed into the four published
zips and the two label files (hubmock.build_soccernet_archives). ``presets/soccernet-cpu.yaml``
(presets/soccernet.yaml with tiny sizes) runs with ``data.download: true`` against the mock,
for data kept inside the repo but git-ignored (``data/soccernet``, the preset's place) and at an
absolute path outside it (there, ``dvc repro prepare`` only: the download and the index are
what differ). Inside the repo, ``dvc repro report`` trains two of the preset's models, fuses,
scores and reports on the downloaded data (the exports, which no score reads, and the README's
experiments are tested on the smoke run: tests/test_e2e.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dvcrepo import commit, copy_repo, run, scratch, stages_run
from hubmock import HubMock, build_soccernet_archives

pytestmark = pytest.mark.slow
REHEARSED = ("osnet_ain", "dinov2_lora")  # of presets/soccernet-cpu.yaml's four models


@pytest.fixture(scope="module")
def published(tmp_path_factory, smoke_prepared) -> Iterator[dict[str, dict[str, Path]]]:
    """The published SoccerNet files, built from the smoke-sized synthetic data (the session's prepare output)."""
    with scratch(tmp_path_factory, "published") as base:
        yield build_soccernet_archives(smoke_prepared / "data" / "raw" / "reid", base / "hub")


@pytest.fixture(scope="module")
def rehearsal(published, tmp_path_factory) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """A repo after ``dvc repro report`` on data downloaded inside it, git-ignored (the preset's place);
    yields (repo, SoccerNet dir, hub env)."""
    with scratch(tmp_path_factory, "inside_repo_git_ignored") as base:
        yield _rehearse(published, base, ["report"], {"prepare", "train@osnet_ain", "report"})


@pytest.fixture(scope="module")
def prepared_outside(published, tmp_path_factory) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """A repo after ``dvc repro prepare`` on data downloaded to an absolute path outside it."""
    with scratch(tmp_path_factory, "outside_repo") as base:
        yield _rehearse(published, base, ["prepare"], {"prepare"}, outside=True)


def _rehearse(
    published: dict[str, dict[str, Path]], base: Path, targets: list[str], ran: set[str], outside: bool = False
) -> tuple[Path, Path, dict[str, str]]:
    """Copy the repo under ``base``, point it at SoccerNet (``outside``: an absolute path beside
    the repo), ``dvc repro`` its ``targets`` through a loopback Hub, check that the
    stages ``ran`` ran and commit."""
    repo = copy_repo(base / "repo")
    params = yaml.safe_load((repo / "presets" / "soccernet-cpu.yaml").read_text())
    if outside:
        params["data"]["soccernet_dir"] = str(base / "SoccerNet")
    # two of the preset's models, fused by its grid search: the data path is the same for every model, and
    # tests/test_challenge.py trains all four with the preset's levers (on the smoke data, adopted)
    for section in ("models", "extract"):
        params[section] = {name: params[section][name] for name in REHEARSED}
    params["fusion"].update(models=list(REHEARSED), weights=[0.6, 0.4])
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
