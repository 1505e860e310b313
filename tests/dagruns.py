"""The suite's one DAG run, shared, and the suite's split over pytest-xdist workers (a pytest
plugin, loaded by tests/conftest.py).

``smoke_prepared`` is a scratch copy of this repo (its own git and DVC) with presets/smoke.yaml as
params.yaml, after ``dvc repro prepare``; ``smoke_run`` is the same copy after the whole
``dvc repro``, committed. Every test that needs a finished run uses these: the e2e checks and the
explorer (through ``finished_run``, a copy of the run's outputs it may read and damage); the
rehearsal packs the smoke data into SoccerNet's archives.

A test that uses one of them is marked ``slow`` here, whatever its module says: ``-m "not slow"``
never builds a DAG.

Under ``-n`` (pyproject's addopts: ``--dist loadgroup``) every worker builds its own session and
module fixtures, so the tests that share an expensive one run on one worker, in one ``xdist_group``:
the users of a shared session fixture (:data:`SHARED_FIXTURES`) together, and each module that
holds slow tests (whose module fixtures build DAGs and train) as a whole. The other tests go one
by one to whichever worker is free. The groups go first, the smoke run's first of all, so that no
worker starts a long group last. The workers split the cores between them (CPU affinity): each
one's torch, onnxruntime and the subprocesses it starts run on its share, never oversubscribed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from dvcrepo import commit, copy_repo, run_in_copy, scratch, stages_run

DAG_FIXTURES = {"smoke_prepared", "smoke_run", "finished_run"}
# session fixtures that cost tens of seconds and more: their users share a pytest-xdist worker
SHARED_FIXTURES = {"smoke_run": DAG_FIXTURES - {"smoke_prepared"}, "exports": {"exported"}}
# pytest-xdist's workers split the cores: worker gw<i> runs on every WORKERS-th core from the i-th (on two
# cores and two workers, one core each), and so do the DVC stages and commands it starts (soccerreid.cpu
# sizes torch by the affinity)
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    CORES = sorted(os.sched_getaffinity(0))
    SHARE = CORES[int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw")) % WORKERS :: WORKERS] or CORES
    os.sched_setaffinity(0, SHARE)
    torch.set_num_threads(len(SHARE))
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


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups, and before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark slow every user of the DAG run; group the tests for xdist, the groups first (the smoke run's first)."""
    for item in items:
        if DAG_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    slow_modules = {_module(item) for item in items if item.get_closest_marker("slow")}
    rank = {}
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        group = next((g for g, fixtures in SHARED_FIXTURES.items() if fixtures & names), None)
        if group is None and _module(item) in slow_modules:
            group = _module(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
        rank[item.nodeid] = 0 if group == "smoke_run" else 1 if group else 2
    items.sort(key=lambda item: rank[item.nodeid])


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


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
