"""Every stage of dvc.yaml, run as DVC runs it, refuses a bad params value with one line and exit 2,
before it imports torch, pandas or any other heavy library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def _commands() -> dict[str, list[str]]:
    """Stage name -> its command line from dvc.yaml (per-model stages: the first model, or a name when
    params defines none, as for soups: the params are refused before the name is looked up)."""
    commands = {}
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        body = stage.get("do", stage)
        cmd = " ".join(body["cmd"].split()).replace("${launcher.train}", "python")
        keys = list(PARAMS.get(stage["foreach"].strip("${}"), {})) if "foreach" in stage else []
        commands[name] = cmd.replace("${key}", keys[0] if keys else "none_defined").split()
    return commands


@pytest.mark.parametrize(("stage", "cmd"), sorted(_commands().items()), ids=lambda x: x if isinstance(x, str) else "")
def test_a_bad_value_is_one_line_and_exit_2(stage, cmd, tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump({**PARAMS, "qe": {**PARAMS["qe"], "alpha": float("inf")}}))
    argv = cmd[1:]
    argv[argv.index("--params") + 1] = str(bad)
    done = subprocess.run([sys.executable, "-c", REPORT_IMPORTS, *argv], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2, f"{stage}: exit {done.returncode}\n{done.stderr[-2000:]}"
    assert done.stderr == f"error: {bad}: qe.alpha: expected a finite number, got inf\n", stage
    assert done.stdout == "heavy modules imported: []\n", stage


# runs a stage script as ``python stages/<stage>.py ...`` does, then says which heavy libraries it had imported
REPORT_IMPORTS = """
import runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    heavy = ("torch", "torchvision", "timm", "pandas", "cv2", "sklearn", "matplotlib", "onnx")
    print("heavy modules imported:", sorted(name for name in heavy if name in sys.modules))
"""
