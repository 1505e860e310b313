"""ruff, as .ci/run calls it, formats and lints every Python file of the package, the stages, the
tests and the benchmarks: an exclude pattern that matches a folder name anywhere (``data`` once
skipped src/soccerreid/data and tests/data) would let those files drift past the line length."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("src", "stages", "tests", "benchmarks")  # the folders .ci/run passes to ruff


def test_ruff_sees_every_python_file_that_ci_lints():
    ruff = Path(sys.executable).parent / "ruff"
    shown = subprocess.run(
        [str(ruff), "check", "--show-files", *CHECKED], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    seen = {Path(line.strip()).resolve() for line in shown.splitlines() if line.strip().endswith(".py")}
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *(f"{folder}/*.py" for folder in CHECKED)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    missing = sorted(name for name in tracked if (ROOT / name).resolve() not in seen)
    assert tracked and not missing, f"ruff skips {len(missing)} file(s), first {missing[:3]}"
