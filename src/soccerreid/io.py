"""Atomic file output: every artifact appears whole or not at all.

Examples::

    with atomic_path("artifacts/fused/valid.h5") as tmp:
        write_blocks(tmp, blocks)          # written to a temp file in the same folder
    # renamed into place only if the block exited without an exception

    write_json("metrics/scores.json", {"mAP": 0.5})
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it over ``path``, on error delete it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``path`` whole, on error it is removed.

    The old folder is renamed aside before the new one is renamed in, and deleted only after, so
    no moment exists where neither is on disk under a name.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old_path = tmp_path.with_suffix(".old")
    try:
        yield tmp_path
        if target.exists():
            os.replace(target, old_path)
        os.replace(tmp_path, target)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
        shutil.rmtree(old_path, ignore_errors=True)


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=indent) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
