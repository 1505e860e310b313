"""Atomic outputs: a file or folder appears whole or not at all, and failures leave no debris."""

import fnmatch
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from soccerreid.io import atomic_dir, atomic_path, remove_leftovers, remove_leftovers_in, write_json

ROOT = Path(__file__).resolve().parents[1]


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "out" / "scores.json"
    write_json(target, {"mAP": 0.5})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == '{\n  "mAP": 0.5\n}\n'
    assert [p.name for p in target.parent.iterdir()] == ["scores.json"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_get_the_umask_mode_not_the_temp_files_0600(tmp_path, umask):
    """Another user of a shared box reads what an ordinary open() would have let them read."""
    previous = os.umask(umask)
    try:
        write_json(tmp_path / "scores.json", {"mAP": 0.5})
        with atomic_dir(tmp_path / "models") as folder:
            (folder / "model.pt").write_bytes(b"w")
    finally:
        os.umask(previous)
    assert (tmp_path / "scores.json").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "models").stat().st_mode & 0o777 == 0o777 & ~umask


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


def test_temp_names_match_the_dvcignore_pattern_and_the_next_write_removes_leftovers(tmp_path):
    ignored = [line for line in (ROOT / ".dvcignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ".*.tmp" in ignored
    target = tmp_path / "osnet_ain"
    with atomic_dir(target) as tmp:
        assert fnmatch.fnmatch(tmp.name, ".*.tmp") and tmp.parent == tmp_path
        with atomic_path(tmp / "valid.h5") as inner:
            assert fnmatch.fnmatch(inner.name, ".*.tmp")
    # what SIGKILLed writes leave: a temp folder, a renamed-aside old folder, a temp file
    (tmp_path / ".osnet_ain.a1b2c3d4.tmp").mkdir()
    (tmp_path / ".osnet_ain.a1b2c3d4.tmp" / "valid.h5").write_bytes(b"half")
    (tmp_path / ".osnet_ain.e5f6g7h8.old.tmp").mkdir()
    (tmp_path / ".scores.json.zz11yy22.tmp").write_text("{")
    (tmp_path / ".osnet_ain_x2.q1w2e3r4.tmp").mkdir()  # another target's
    with atomic_dir(target) as tmp:
        (tmp / "valid.h5").write_bytes(b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".osnet_ain_x2.q1w2e3r4.tmp",
        ".scores.json.zz11yy22.tmp",
        "osnet_ain",
    ]
    write_json(tmp_path / "scores.json", {})
    assert remove_leftovers(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".osnet_ain_x2.q1w2e3r4.tmp", "osnet_ain", "scores.json"]
    assert [p.name for p in remove_leftovers_in(tmp_path)] == [".osnet_ain_x2.q1w2e3r4.tmp"]


WRITER = """
import sys, time
from soccerreid.io import atomic_dir, atomic_path
with atomic_dir(sys.argv[1]) as tmp:
    (tmp / "valid.h5").write_bytes(b"whole")
    with atomic_path(tmp / "test.h5") as part:
        part.write_bytes(b"half")
        print("writing", flush=True)
        time.sleep(600)
"""


def test_a_sigkilled_write_leaves_the_old_output_and_only_ignored_temp_names(tmp_path):
    target = tmp_path / "features" / "osnet_ain"
    with atomic_dir(target) as tmp:
        (tmp / "valid.h5").write_bytes(b"old")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    visible = [p for p in target.parent.rglob("*") if not any(fnmatch.fnmatch(part, ".*.tmp") for part in p.parts)]
    assert sorted(p.relative_to(target.parent).as_posix() for p in visible) == ["osnet_ain", "osnet_ain/valid.h5"]
    assert (target / "valid.h5").read_bytes() == b"old"
    assert len(list(target.parent.glob(".osnet_ain.*.tmp"))) == 1
    remove_leftovers(target)
    assert [p.name for p in target.parent.iterdir()] == ["osnet_ain"]
