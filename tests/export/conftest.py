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
    """``exported(family, fmt, tracker=False)`` -> (the file, its checked max abs diff to torch on
    ``crops``): the plain network (:func:`export_file`) or the tracker-ready graph
    (:func:`export_tracker_file`) of ``model_files[family]``, written on first use. Tests must not
    change the file."""
    folder = tmp_path_factory.mktemp("exports")
    made: dict[tuple[str, str, bool], tuple[Path, float]] = {}

    def export(family: str, fmt: str, tracker: bool = False) -> tuple[Path, float]:
        key = (family, fmt, tracker)
        if key not in made:
            path = folder / f"{family}-{'tracker' if tracker else 'plain'}{SUFFIXES[fmt]}"
            write = export_tracker_file if tracker else export_file
            made[key] = (path, write(soccerreid.load_model(model_files[family]), fmt, path, crops, name=family))
        return made[key]

    return export
