"""Fixtures of the training tests (helpers live in tests/tinyset.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tinyset import write_tiny_set


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory) -> Path:
    """Index folder of a tiny train (6 actions x 6 identities) and valid set; crops beside it."""
    return write_tiny_set(tmp_path_factory.mktemp("tiny"), train_actions=6, valid_actions=3, ids_per_action=6)
