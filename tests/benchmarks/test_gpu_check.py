"""benchmarks/gpu.py, the one-command GPU check, runs on CPU with tiny sizes, from src/, so it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_runs_every_section_on_cpu(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env.pop("WORLD_SIZE", None)
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--device", "cpu", "--tiny", "--budget-s", "1e9"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])

    steps = figures["train_steps"]
    assert set(steps) == {"osnet_ain@64x32", "resnet50_ibn@64x32", "dinov2_lora@56x28"}
    for row in steps.values():
        assert row["ours_img_s"] > 0 and row["torchreid_img_s"] > 0 and row["batch"] == 8 and row["classes"] == 500
        assert row["ratio"] == pytest.approx(row["ours_img_s"] / row["torchreid_img_s"], rel=0.05)

    run = figures["torchrun"]
    assert run["killed_after_epoch"] == 0 and run["resumed"] and run["finished"] and run["epochs"] == 2
    assert run["ddp"] == "DDP over 1 rank(s), backend gloo" and not run["nccl"] and not run["sync_batchnorm"]

    compiled = figures["compiled_extraction"]
    assert set(compiled) == {"osnet_ain@64x32", "resnet50_ibn@64x32", "dinov2_lora@56x28"}
    for row in compiled.values():
        assert row["max_abs_diff"] < 1e-4  # fp32 on CPU: inductor's frozen graph gives the same embeddings
        assert row["eager_img_s"] > 0 and row["compiled_img_s"] > 0

    pipeline = figures["input_pipeline"]
    assert pipeline["img_s"] > 0 and pipeline["workers"] == os.cpu_count() and pipeline["size"] == [256, 128]
    assert pipeline["feeds_gpu"] is None  # tiny sizes train at no 256x128 size to compare with
