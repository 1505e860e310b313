"""Output paths of the command, checked before any work: folders, parents, write permission, other kinds."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
import torch

from soccerreid.errors import ArgumentError
from soccerreid.io import check_output_file


def _error(path, kind="features", force=False) -> str:
    with pytest.raises(ArgumentError) as info:
        check_output_file(path, "--out", kind, force=force)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_a_new_file_under_new_folders_passes(tmp_path):
    target = tmp_path / "a" / "b" / "q.h5"
    assert check_output_file(target, "--out", "features") == target
    assert not (tmp_path / "a").exists(), "the check makes nothing"
    assert list(tmp_path.iterdir()) == []


def test_a_folder_is_not_a_file_path(tmp_path):
    assert _error(tmp_path) == f"--out {tmp_path}: is a folder (expected a file path)"


def test_a_parent_that_is_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    target = tmp_path / "notes.txt" / "sub" / "q.h5"
    assert _error(target) == f"--out {target}: {tmp_path / 'notes.txt'} is a file, not a folder"


def test_a_folder_where_nobody_may_write():
    target = Path("/proc/soccerreid-check/q.h5")  # procfs takes no new files, even from root
    assert _error(target).startswith(f"--out {target}: cannot write in /proc (")


def test_a_model_file_is_never_replaced_by_features(tmp_path):
    victim = tmp_path / "victim.pt"
    torch.save({"w": torch.zeros(1)}, victim)
    assert _error(victim) == (
        f"--out {victim}: exists and is not a features (HDF5) file; refusing to replace it (remove it, or pass --force)"
    )
    assert check_output_file(victim, "--out", "features", force=True) == victim


def test_a_file_of_the_same_kind_may_be_replaced(tmp_path):
    features = tmp_path / "q.h5"
    with h5py.File(features, "w") as f:
        f["x"] = [1]
    (tmp_path / "scores.json").write_text('{"mAP": 0.5}')
    assert check_output_file(features, "--out", "features") == features
    assert check_output_file(tmp_path / "scores.json", "--json", "json") == tmp_path / "scores.json"
    assert _error(features, kind="json").startswith(f"--out {features}: exists and is not a JSON file")


def test_a_model_file_is_not_a_torchscript_file_nor_the_reverse(tmp_path):
    model = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(1)}, model)
    scripted = tmp_path / "model.torchscript"
    torch.jit.save(torch.jit.script(torch.nn.Identity()), scripted)
    assert _error(model, kind="torchscript").startswith(f"--out {model}: exists and is not a TorchScript file")
    assert _error(scripted, kind="model").startswith(f"--out {scripted}: exists and is not a model (torch) file")
    assert check_output_file(scripted, "--out", "torchscript") == scripted
    assert check_output_file(model, "--out", "model") == model
