"""Headless Chromium (Debian's) to look at a finished run, and helpers that read the run's files.

The run is ``finished_run`` (tests/dagruns.py): the outputs of the suite's one smoke ``dvc repro``
in dvc.yaml's layout. ``explorer`` starts ``soccerreid explore`` on it; the expected pictures come
from the run's files (index labels, blocks, the final ranking) through the plain helpers at the
end, not from the explorer's code.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from soccerreid.schema import read_blocks

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = ROOT / "tests" / "artifacts" / "explorer"  # git-ignored; kept after the run to look at


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def explorer(root: Path):
    """``soccerreid explore --root root`` on a free loopback port, as a user starts it; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = open(root.parent / f"explore-{port}.log", "w+")  # noqa: SIM115 (closed in the finally below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "soccerreid", "explore", "--root", str(root), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (
                f"soccerreid explore exited with {proc.returncode}:\n{Path(log.name).read_text()}"
            )
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, f"soccerreid explore did not answer on {url} in 120 s"
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium, Debian's package (``bash .ci/run`` installs it), driven by Playwright."""
    assert CHROMIUM, "chromium not found: apt-get install -y chromium (bash .ci/run installs it when missing)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])  # CI runs as root
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, request):
    """A fresh page; its screenshot is kept as ``tests/artifacts/explorer/<test>.png`` when the test ends."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)  # a loaded 2-core box: the page waits, the test's own timeout stays in charge
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def settled_status(page, seconds: float = 120) -> str:
    """The ``#status`` text once it shows a message: while a call runs, gradio's progress timer
    ("0.1s") is in the element too."""
    deadline = time.monotonic() + seconds
    text = page.inner_text("#status")
    while not text.startswith("Error") and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        text = page.inner_text("#status")
    return text


def labels(root: Path, split: str) -> dict[tuple[str, int], int]:
    """``{(role, bbox_idx): person_uid}`` of a split, from the index CSV."""
    frame = pd.read_csv(root / "data" / "index" / f"{split}.csv")
    return {(r, int(b)): int(u) for r, b, u in zip(frame["role"], frame["bbox_idx"], frame["person_uid"])}


def blocks_ranking(path: Path) -> dict[int, list[int]]:
    """Each query's gallery bbox_idx by ascending distance (ties in gallery order), from a blocks file."""
    blocks = read_blocks(path)
    ranking = {}
    for a in range(blocks.action_idx.size):
        members = blocks.bbox_idx[blocks.member_offsets[a] : blocks.member_offsets[a + 1]]
        nq = int(blocks.n_query[a])
        for i, row in enumerate(blocks.query_gallery(a)):
            ranking[int(members[i])] = members[nq:][np.argsort(row, kind="stable")].tolist()
    return ranking


def final_ranking(root: Path, split: str) -> dict[int, list[int]]:
    """The final method's ranking: the score stage's official-format file."""
    return {int(q): g for q, g in json.loads((root / "artifacts" / "rankings" / f"{split}.json").read_text()).items()}


def hits(ranking: dict[int, list[int]], truth: dict[tuple[str, int], int]) -> dict[int, list[bool]]:
    """Per query, whether each ranked gallery crop is of the query's identity."""
    return {q: [truth["gallery", g] == truth["query", q] for g in ranked] for q, ranked in ranking.items()}


def average_precision(matches: list[bool]) -> float:
    """The mean of the precision at each true match (the official scorer's AP)."""
    found = np.flatnonzero(matches)
    return float(np.mean((np.arange(found.size) + 1) / (found + 1)))
