"""Shared exports: a dynamo ONNX export takes 7-12 s even of a tiny model, so each export of the
session's model files is made once and shared by the tests that only read it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import soccerreid
from soccerreid.data.index import read_index
from soccerreid.export import SUFFIXES, export_file, export_tracker_file, pick_check_crops


@pytest.fixture(scope="session")
def crops(soccernet_valid) -> list[str]:
    """Five crops spread over valid: the export checks' images."""
    return pick_check_crops(read_index(soccernet_valid, "valid"), count=5)


@pytest.fixture(scope="session")
def exported(model_files, crops, tmp_path_factory) -> Callable[..., tuple[Path, float]]:
    """``exported(family, fmt, tracker=False, supersample=1)`` -> (the file, its checked max abs diff to
    torch on ``crops``): the plain network (:func:`export_file`) or the tracker-ready graph
    (:func:`export_tracker_file`, for ``supersample`` times the input size) of ``model_files[family]``,
    written on first use. Tests must not change the file."""
    folder = tmp_path_factory.mktemp("exports")
    made: dict[tuple[str, str, bool, int], tuple[Path, float]] = {}

    def export(family: str, fmt: str, tracker: bool = False, supersample: int = 1) -> tuple[Path, float]:
        key = (family, fmt, tracker, supersample)
        if key not in made:
            path = folder / f"{family}-{f'tracker-x{supersample}' if tracker else 'plain'}{SUFFIXES[fmt]}"
            embedder = soccerreid.load_model(model_files[family])
            if tracker:
                made[key] = (path, export_tracker_file(embedder, fmt, path, crops, family, supersample))
            else:
                made[key] = (path, export_file(embedder, fmt, path, crops, name=family))
        return made[key]

    return export
