"""Scratch copies of this repository, with their own git and DVC, for tests that run the DAG.

Examples::

    repo = copy_repo(tmp_path / "repo")
    commit(repo, "baseline")
    stages_run(run(["dvc", "repro"], repo))     # {'prepare', 'train@osnet_ain', ...}

    with scratch(tmp_path_factory, "e2e") as base:  # in a module fixture: removed at its teardown
        yield copy_repo(base)
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM_STAGES = ("prepare", "train@", "extract@", "distances@", "soup@")
FAST_STAGES = {"fuse", "rerank", "score", "report"}
_GIT = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]


def run(
    cmd: list[str], cwd: Path, stdout_only: bool = False, env: dict[str, str] | None = None, timeout: float = 2400
) -> str:
    """Run ``cmd`` in ``cwd`` with this venv first on PATH; assert it succeeded; return its output."""
    full = dict(os.environ, DVC_NO_ANALYTICS="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(cmd, cwd=cwd, env={**full, **(env or {})}, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout if stdout_only else done.stdout + done.stderr


def run_in_copy(cmd: list[str], repo: Path, stdout_only: bool = False) -> str:
    """:func:`run` with the copy's own package code on PYTHONPATH: what DVC hashes is what runs."""
    return run(cmd, repo, stdout_only, env={"PYTHONPATH": str(repo / "src")})


def copy_repo(dest: Path) -> Path:
    """Copy the tracked and untracked-but-not-ignored files of this repo into ``dest``, git-initialised."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        source = ROOT / name
        if source.is_file() and not name.startswith((".venv/", "metrics/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    run(["git", "init", "-q", "-b", "main"], dest)
    return dest


def commit(repo: Path, message: str) -> None:
    """``git add -A`` and commit everything in ``repo``."""
    run([*_GIT, "add", "-A"], repo)
    run([*_GIT, "commit", "-qm", message], repo)


def stages_run(output: str) -> set[str]:
    """The DVC stages that ``output`` (of dvc repro / exp run / queue logs) says ran."""
    return set(re.findall(r"Running stage '([^']+)'", output))


@contextlib.contextmanager
def scratch(factory, name: str) -> Iterator[Path]:
    """A new folder from pytest's ``tmp_path_factory``, removed when the block ends.

    pytest removes a passed test's ``tmp_path`` but keeps every ``mktemp`` folder of a module or
    session fixture to the session's end; a DVC copy after ``dvc repro`` holds gigabytes
    (checkpoints, exports, the DVC cache), and CI's disk is not ours to size.
    """
    path = factory.mktemp(name)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
