"""The suite's one DAG run, shared (a pytest plugin, loaded by tests/conftest.py).

``smoke_prepared`` is a scratch copy of this repo (its own git and DVC) with presets/smoke.yaml as
params.yaml, after ``dvc repro prepare``; ``smoke_run`` is the same copy after the whole
``dvc repro``, committed. Every test that needs a finished run uses these: the e2e checks, the
explorer (through ``finished_run``, a copy of the run's outputs it may read and damage) and the
challenge preset (through :func:`dvcrepo.adopt_prepare`, so only train onwards runs there).

A test that uses one of them is marked ``slow`` (by tests/conftest.py), whatever its module says:
``-m "not slow"`` never builds a DAG.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from dvcrepo import commit, copy_repo, run_in_copy, scratch, stages_run

DAG_FIXTURES = {"smoke_prepared", "smoke_run", "finished_run"}
# what a finished run is to the explorer: dvc.yaml's paths of the index, crops, blocks, rankings,
# scores, reports and model files (no checkpoints, features, exports or DVC cache)
RUN_OUTPUTS = (
    "data",
    "artifacts/models",
    "artifacts/distances",
    "artifacts/fused",
    "artifacts/reranked",
    "artifacts/rankings",
    "metrics",
    "reports",
    "params.yaml",
)


@pytest.fixture(scope="session")
def smoke_prepared(tmp_path_factory) -> Iterator[Path]:
    """A repo copy on presets/smoke.yaml after ``dvc repro prepare``, committed (removed at the session's end)."""
    with scratch(tmp_path_factory, "smoke") as base:
        repo = copy_repo(base)
        shutil.copy(repo / "presets" / "smoke.yaml", repo / "params.yaml")
        commit(repo, "smoke")
        assert stages_run(run_in_copy(["dvc", "repro", "prepare"], repo)) == {"prepare"}
        commit(repo, "prepare")
        yield repo


@pytest.fixture(scope="session")
def smoke_run(smoke_prepared) -> Path:
    """``smoke_prepared`` after the whole ``dvc repro``, committed: every model, soup, export and report.

    Tests that change it put it back (git and ``dvc checkout``) or leave a consistent run behind
    (``dvc exp run`` applies an experiment's params and outputs together).
    """
    output = run_in_copy(["dvc", "repro"], smoke_prepared)
    assert "prepare" not in stages_run(output)
    assert {"train@osnet_ain", "soup@osnet_ain_soup", "fuse", "rerank", "score", "report"} <= stages_run(output)
    commit(smoke_prepared, "repro")
    return smoke_prepared


@pytest.fixture(scope="session")
def finished_run(smoke_run, tmp_path_factory) -> Iterator[Path]:
    """A copy of the smoke run's outputs in dvc.yaml's layout, for the explorer (which only reads a run)."""
    with scratch(tmp_path_factory, "run") as root:
        for name in RUN_OUTPUTS:
            source = smoke_run / name
            if source.is_dir():
                shutil.copytree(source, root / name)
            else:
                shutil.copy2(source, root / name)
        yield root
