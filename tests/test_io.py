"""Atomic outputs: a file or folder appears whole or not at all, and failures leave no debris."""

import pytest

from soccerreid.io import atomic_dir, atomic_path, write_json


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "out" / "scores.json"
    write_json(target, {"mAP": 0.5})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == '{\n  "mAP": 0.5\n}\n'
    assert [p.name for p in target.parent.iterdir()] == ["scores.json"]


def test_atomic_dir_replaces_the_whole_folder(tmp_path):
    target = tmp_path / "rankings"
    target.mkdir()
    (target / "stale.json").write_text("{}")
    with atomic_dir(target) as tmp:
        (tmp / "valid.json").write_text("{}")
        assert (target / "stale.json").is_file()  # the old folder stays until the new one is whole
    assert sorted(p.name for p in target.iterdir()) == ["valid.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rankings"]


def test_atomic_dir_keeps_the_old_folder_on_error(tmp_path):
    target = tmp_path / "rankings"
    target.mkdir()
    (target / "valid.json").write_text("old")
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "valid.json").write_text("new")
        raise ValueError("bad input")
    assert (target / "valid.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rankings"]
