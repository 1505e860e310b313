"""benchmarks/scale.py's fit and extrapolation, on measurements whose growth is known."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FULL = {"train": 248_234, "valid": 45_993, "test": 46_766, "challenge": 35_103}


def _run(fraction: float) -> dict:
    """Measurements at ``fraction``: prepare and score linear, rerank quadratic, memory affine."""
    crops = {split: round(fraction * n) for split, n in FULL.items()}
    total = sum(crops.values())

    def cost(cpu: float, memory: float) -> dict:
        return {"wall_s": cpu, "cpu_s": cpu, "peak_mb": memory, "peak_pss_mb": memory, "peak_rss_mb": memory}

    stages = {
        "prepare": cost(0.002 * total, 100 + 0.01 * total),
        "train@osnet_ain": cost(0.05 * crops["train"], 900 + 0.001 * crops["train"]),
        "rerank": cost(1e-7 * total**2, 80.0),
        "score": cost(0.001 * total, 70.0),
    }
    return {"fraction": fraction, "crops": crops, "actions": {}, "stages": stages}


def test_scale_table_fits_exponents_and_extrapolates_to_full_size(tmp_path):
    measured = tmp_path / "scale.json"
    measured.write_text(json.dumps({"runs": [_run(f) for f in (0.01, 0.03, 0.1)]}))
    gpu = tmp_path / "gpu.json"
    gpu.write_text(
        "some table line\n"
        + json.dumps({"train_steps": {"osnet_ain@256x128": {"ours_img_s": 1000.0}}, "compiled_extraction": {}})
    )
    command = [sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--table", str(measured), "--gpu", str(gpu)]
    done = subprocess.run(
        command, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    table = json.loads(done.stdout.strip().splitlines()[-1])["stages"]
    total = sum(FULL.values())

    prepare, score, rerank, train = table["prepare"], table["score"], table["rerank"], table["train@osnet_ain"]
    assert prepare["time_exponent"] == pytest.approx(1.0, abs=0.01) and rerank["time_exponent"] == pytest.approx(
        2.0, abs=0.01
    )
    assert prepare["cpu_s_100"] == pytest.approx(0.002 * total, rel=0.01)
    assert rerank["cpu_s_100"] == pytest.approx(1e-7 * total**2, rel=0.01)
    assert prepare["wall_s_100_16_cores"] == pytest.approx(0.002 * total / 16, rel=0.01)  # spreads over cores
    assert score["wall_s_100_16_cores"] == pytest.approx(score["cpu_s_100"], abs=1)  # one process
    assert prepare["peak_gb_100"] == pytest.approx((100 + 0.01 * total) / 1024, rel=0.01)  # the affine fit
    assert score["memory_exponent"] == pytest.approx(0.0, abs=0.01) and score["fits_24_gb"]
    # 30 epochs at 256x128 of (train crops / 1.6225 identities) x 4 samples, at 1000 img/s
    assert train["gpu_s_100"] == pytest.approx(30 * FULL["train"] / 1.6225 * 4 / 1000, rel=0.001)
    assert "gpu_s_100" not in prepare


def test_a_stage_shorter_than_the_sampling_period_still_gets_its_peak_memory():
    spec = importlib.util.spec_from_file_location("scale_benchmark", ROOT / "benchmarks" / "scale.py")
    scale = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scale)
    allocate = "import numpy as np; print(np.ones(2**28 // 8).sum())"  # 256 MB, written, then the process ends
    measured = scale.run_measured([sys.executable, "-c", allocate], ROOT, dict(os.environ))
    assert measured["peak_mb"] >= 256 and measured["peak_process_rss_mb"] >= 256
    assert 0 < measured["cpu_s"] <= measured["wall_s"] + 1
