"""Shared tiny synthetic SoccerNet tree for the data-layer tests (generated once per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import TINY

from soccerreid.config.data import SyntheticConfig
from soccerreid.data.synthetic import generate_synthetic


@pytest.fixture(scope="session")
def tiny_config() -> SyntheticConfig:
    """The generator config of :func:`tiny_raw` (9 actions of 5-8 people)."""
    return TINY


@pytest.fixture(scope="session")
def tiny_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only tiny synthetic raw folder (``reid/`` + ``challenge_groundtruth.json``)."""
    raw = tmp_path_factory.mktemp("tiny") / "raw"
    generate_synthetic(TINY, raw)
    assert_soccernet_numbering(raw / "reid")
    return raw


def assert_soccernet_numbering(reid: Path) -> None:
    """The tree is numbered as SoccerNet numbers it: each list's bbox_idx counts 0..n-1, so
    query and gallery indices overlap, and action_idx restarts in every split."""
    first_action = {}
    for split, lists in (
        ("train", ("",)),
        ("valid", ("query", "gallery")),
        ("test", ("query", "gallery")),
        ("challenge", ("query", "gallery")),
    ):
        boxes = {}
        for role in lists:
            names = [p.name.split("-") for p in (reid / split / role).rglob("*.png")]
            boxes[role] = sorted(int(n[0]) for n in names)
            assert boxes[role] == list(range(len(names))), f"{split}/{role}: bbox_idx is not 0..n-1"
            first_action[split] = min(int(n[1]) for n in names)
        if split != "train":
            assert set(boxes["query"]) & set(boxes["gallery"]), f"{split}: query and gallery bbox_idx do not overlap"
    assert set(first_action.values()) == {0}, f"action_idx does not restart per split: {first_action}"


@pytest.fixture
def raw_copy(tiny_raw: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny raw folder that a test may damage."""
    return Path(shutil.copytree(tiny_raw, tmp_path / "raw"))
