"""The scale curve: the whole DAG on synthetic SoccerNet at fractions of the real split sizes.

For each fraction (default 1 %, 3 %, 10 % of SoccerNet's 248,234 / 45,993 / 46,766 / 35,103
train / valid / test / challenge crops) it copies this repository into a fresh git + DVC project,
writes a params.yaml (``params.yaml`` with the generator sized to the fraction, one epoch per
training phase, every model at the smallest input its arch takes, every worker count at the box's
cores) and runs each stage with ``dvc repro --single-item``, in DAG order, with ``--threads``
torch threads per process. Per stage it records the wall time, the CPU seconds of the whole
process tree, and its peak memory: the larger of the tree's PSS (summed over dvc, the stage and
its workers; sampled from every 20 ms up to every second) and the largest single process's exact
peak RSS (``wait4``), see :func:`run_measured`. It also times the index step alone
(``build_index``: the part of ``prepare`` that real SoccerNet runs too).

Then it fits, per stage, the growth exponent b of ``cost = a * work^b`` (least squares in log-log
over the fractions) for CPU seconds and for peak memory, and extrapolates both to 100 %. The
16-core wall time is the CPU seconds over 16 for the stages that spread over cores (prepare,
train, extract) and the CPU seconds themselves for the single-process ones. With ``--gpu FILE``
(the JSON line of ``benchmarks/gpu.py``) the train and extract stages also get a GPU estimate.

    python benchmarks/scale.py --fractions 0.01 0.03 0.1 --out scale.json
    python benchmarks/scale.py --table scale.json [--gpu gpu.json]      # the table again, no runs

Prints the table and ends with one JSON line: ``{"fractions", "stages": {name: {...}}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import yaml

from soccerreid.config import load_params
from soccerreid.config.data import SplitActions, SyntheticConfig
from soccerreid.data.synthetic import plan_dataset
from soccerreid.vocab import SPLITS

ROOT = Path(__file__).resolve().parents[1]
SOCCERNET = {"train": 248_234, "valid": 45_993, "test": 46_766, "challenge": 35_103}
MODELS = ("osnet_ain", "resnet50_ibn", "dinov2_lora")
STAGES = (
    "prepare",
    *(f"{kind}@{m}" for kind in ("train", "extract", "distances") for m in MODELS),
    "fuse",
    "rerank",
    "score",
    "report",
)
PARALLEL = ("prepare", "index only", "train@", "extract@")  # stages whose work spreads over cores
MEMORY_LIMIT_GB = 24.0
# SoccerNet train crops per (action, person_uid) identity: 55 % of identities have one crop, 33.5 %
# two (third-party figures, REFERENCE.md), the other 11.5 % taken as 3.5 on average.
IMAGES_PER_IDENTITY = 0.55 * 1 + 0.335 * 2 + 0.115 * 3.5
FIRST_SAMPLE_S, SAMPLE_S = 0.02, 1.0  # the tree-memory sampler's first and longest periods
TINY_SIZE = {
    "osnet_ain": (32, 16),
    "resnet50_ibn": (32, 16),
    "dinov2_lora": (28, 28),
}  # height, width (>= 16; ViT: x14)


def crops_per_action(seed: int = 0) -> dict[str, float]:
    """Mean crops per action of each split under the generator's defaults (planned, not rendered)."""
    counts = defaultdict(list)
    for plan in plan_dataset(SyntheticConfig(seed=seed, actions=SplitActions(40, 40, 40, 40))):
        counts[plan.split].append(len(plan.shots))
    return {split: float(np.mean(v)) for split, v in counts.items()}


def scale_params(fraction: float, cores: int) -> dict:
    """params.yaml for one fraction: the default params (models, PK batches, retrieval) with the
    generator sized to the fraction, one epoch per phase at the smallest input each arch takes
    (:data:`TINY_SIZE`: the CPU could not finish the preset's sizes), and all cores."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    per_action = crops_per_action()
    actions = {s: max(1, round(fraction * SOCCERNET[s] / per_action[s])) for s in SPLITS}
    data = params["data"]
    data["synthetic"]["actions"] = actions
    data["synthetic"]["games"] = max(8, actions["train"] // 40)
    (data if "workers" in data else data["synthetic"])["workers"] = cores
    for name, model in params["models"].items():
        height, width = TINY_SIZE[model["arch"]]
        model["train"]["workers"] = cores
        for phase in model["train"]["phases"]:
            phase.update(epochs=1, height=height, width=width)
        params["extract"][name].update(height=height, width=width, workers=cores)
    return params


def snapshot_repository(folder: Path) -> Path:
    """Copy this repository's tracked and new files (tests and docs aside) to ``folder``, once, so
    every fraction runs the same code even if the working tree changes meanwhile."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    for name in listed:
        if (ROOT / name).is_file() and not name.startswith(("tests/", "docs/")):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    return folder


def make_project(folder: Path, source: Path, params: dict) -> None:
    """A git + DVC project: a copy of the ``source`` snapshot with ``params`` as its params.yaml."""
    shutil.copytree(source, folder)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    load_params(folder / "params.yaml")  # a bad params file fails here, before any run
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=scale", "-c", "user.email=scale@localhost", "commit", "-qm", "scale"],
    ):
        subprocess.run(command, cwd=folder, check=True)


def run_measured(command: list, cwd: Path, env: dict) -> dict:
    """Run ``command``; its wall seconds, CPU seconds and peak memory in MB.

    CPU seconds and ``peak_process_rss_mb`` (the largest single process's peak RSS) are exact:
    the kernel's ``wait4`` usage of the command, which includes every descendant it reaped. The
    tree's PSS and RSS (summed over dvc, the stage and its workers) are sampled, every 20 ms at
    first and then less often, up to once a second. ``peak_mb`` is the larger of the tree's
    sampled PSS and the largest process's exact RSS, so a stage shorter than any sampling period
    still gets a true figure.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as stderr:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        peak_pss = peak_rss = 0.0
        root = psutil.Process(proc.pid)
        interval = FIRST_SAMPLE_S
        while True:
            reaped, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if reaped:
                break
            pss, rss = _tree_memory(root)
            peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
            time.sleep(interval)
            interval = min(SAMPLE_S, interval * 1.5)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            stderr.seek(0)
            last = (stderr.read().strip().splitlines() or ["?"])[-1]
            raise SystemExit(f"scale.py: {' '.join(command)} failed in {cwd} ({last})")
    process_rss = usage.ru_maxrss / 1024  # KB on Linux
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_mb": round(max(peak_pss, process_rss), 1),
        "peak_pss_mb": round(peak_pss, 1),
        "peak_rss_mb": round(peak_rss, 1),
        "peak_process_rss_mb": round(process_rss, 1),
    }


def _tree_memory(root: psutil.Process) -> tuple[float, float]:
    """(PSS, RSS) in MB summed over ``root`` and its descendants; vanished processes count 0."""
    pss = rss = 0.0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    for process in processes:
        try:
            info = process.memory_full_info()
            pss, rss = pss + info.pss / 2**20, rss + info.rss / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return pss, rss


def measure_fraction(fraction: float, workdir: Path, source: Path, cores: int, threads: int) -> dict:
    """Run every stage of the DAG at ``fraction``; per-stage costs and the data's sizes."""
    folder = workdir / f"scale-{fraction:g}"
    shutil.rmtree(folder, ignore_errors=True)
    params = scale_params(fraction, cores)
    make_project(folder, source, params)
    env = dict(
        os.environ,
        PYTHONPATH=str(folder / "src"),
        DVC_NO_ANALYTICS="1",
        HF_HUB_OFFLINE="1",
        PYTHONWARNINGS="ignore",
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
    )
    stages = {}
    for stage in STAGES:
        stages[stage] = run_measured(["dvc", "repro", "--single-item", stage], folder, env)
        print(
            f"  {fraction:g} {stage:<24}{stages[stage]['wall_s']:>9.1f} s{stages[stage]['peak_mb']:>9.0f} MB",
            flush=True,
        )
    stages["index only"] = time_index(folder, env, cores)
    sizes = {split: len(pd.read_csv(folder / "data" / "index" / f"{split}.csv")) for split in SPLITS}
    return {"fraction": fraction, "crops": sizes, "actions": params["data"]["synthetic"]["actions"], "stages": stages}


INDEX_ONLY = """
import sys
from pathlib import Path
from soccerreid.data.prepare import Source, build_index
from soccerreid.data.soccernet import find_labels
reid = Path(sys.argv[1]) / "reid"
build_index(Source(reid, find_labels([reid]), soccernet=False), sys.argv[2], workers=int(sys.argv[3]))
"""


def time_index(folder: Path, env: dict, cores: int) -> dict:
    """The index step of prepare alone (scan, decode and validate every crop, write the CSVs)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-c", INDEX_ONLY, str(folder / "data" / "raw"), str(Path(tmp) / "index"), str(cores)]
        return run_measured(command, folder, env)


def fit(work: list[float], cost: list[float]) -> tuple[float, float]:
    """(a, b) of ``cost = a * work^b``, least squares in log-log."""
    b, log_a = np.polyfit(np.log(work), np.log(np.maximum(cost, 1e-9)), 1)
    return float(np.exp(log_a)), float(b)


def extrapolate(work: list[float], cost: list[float], full: float) -> float:
    """Cost at ``full`` work: the larger of the power-law and the affine (fixed + per-item) fits."""
    a, b = fit(work, cost)
    slope, intercept = np.polyfit(work, cost, 1)
    return float(max(a * full**b, intercept + slope * full))


def stage_work(stage: str, crops: dict[str, int]) -> int:
    """The crops a stage handles: train for the train stage, every split otherwise."""
    return crops["train"] if stage.startswith("train@") else sum(crops.values())


def summarise(runs: list[dict], gpu: dict | None) -> dict:
    """Per stage: costs at each fraction, exponents, extrapolation to 100 % (2 and 16 cores, GPU)."""
    full = {stage: stage_work(stage, SOCCERNET) for stage in runs[0]["stages"]}
    table = {}
    for stage in runs[0]["stages"]:
        work = [stage_work(stage, run["crops"]) for run in runs]
        cpu = [run["stages"][stage]["cpu_s"] for run in runs]
        wall = [run["stages"][stage]["wall_s"] for run in runs]
        memory = [run["stages"][stage]["peak_mb"] for run in runs]
        cpu_full = extrapolate(work, cpu, full[stage])
        memory_gb = extrapolate(work, memory, full[stage]) / 1024
        row = {
            "work": work,
            "wall_s": wall,
            "cpu_s": cpu,
            "peak_mb": memory,
            "time_exponent": round(fit(work, cpu)[1], 2),
            "memory_exponent": round(fit(work, memory)[1], 2),
            "cpu_s_100": round(cpu_full),
            "peak_gb_100": round(memory_gb, 2),
            "wall_s_100_16_cores": round(cpu_full / (16 if stage.startswith(PARALLEL) else 1)),
            "fits_24_gb": memory_gb <= MEMORY_LIMIT_GB,
        }
        if gpu is not None and stage.startswith(("train@", "extract@")):
            row["gpu_s_100"] = gpu_seconds(stage, gpu)
        table[stage] = row
    return table


def gpu_seconds(stage: str, gpu: dict) -> float | None:
    """A full-scale GPU estimate from gpu.py's figures: the soccernet preset's samples over its img/s."""
    kind, model = stage.split("@")
    params = load_params(ROOT / "presets" / "soccernet.yaml")
    if kind == "extract":
        cfg = params.extract[model]
        rate = gpu["compiled_extraction"].get(f"{model}@{cfg.height}x{cfg.width}", {}).get("compiled_img_s")
        crops = sum(SOCCERNET[s] for s in cfg.splits)
        return round(crops / rate) if rate else None
    train = params.models[model].train
    samples = SOCCERNET["train"] / IMAGES_PER_IDENTITY * train.images_per_id  # a PK epoch shows each identity once
    seconds = 0.0
    for phase in train.phases:
        rate = gpu["train_steps"].get(f"{model}@{phase.height}x{phase.width}", {}).get("ours_img_s")
        if not rate:
            return None
        seconds += phase.epochs * phase.train_fraction * samples / rate
    return round(seconds)


def print_table(runs: list[dict], table: dict) -> None:
    fractions = " / ".join(f"{run['fraction']:.0%}" for run in runs)
    print(f"stage costs at {fractions} of SoccerNet (wall s, CPU s, peak MB), growth exponent, 100 % estimate")
    print(
        f"{'stage':<22}{'wall s':>22}{'CPU s':>22}{'peak MB':>20}{'b time':>8}{'b mem':>7}"
        f"{'CPU s 100%':>12}{'GB 100%':>9}{'16-core s':>11}{'GPU s':>8}"
    )
    for stage, row in table.items():
        fmt = lambda values: "/".join(f"{v:.0f}" for v in values)  # noqa: E731
        print(
            f"{stage:<22}{fmt(row['wall_s']):>22}{fmt(row['cpu_s']):>22}{fmt(row['peak_mb']):>20}"
            f"{row['time_exponent']:>8.2f}{row['memory_exponent']:>7.2f}{row['cpu_s_100']:>12}"
            f"{row['peak_gb_100']:>9.2f}{row['wall_s_100_16_cores']:>11}{str(row.get('gpu_s_100', '-')):>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.03, 0.1])
    parser.add_argument("--workdir", type=Path, default=None, help="where the projects go (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=None, help="write the measurements here (JSON)")
    parser.add_argument("--table", type=Path, default=None, help="only print the table of these measurements")
    parser.add_argument("--gpu", type=Path, default=None, help="benchmarks/gpu.py's JSON line, for the GPU column")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per process (OMP_NUM_THREADS); 1 on a shared box, where 2 ran 15x slower",
    )
    args = parser.parse_args()
    gpu = json.loads(args.gpu.read_text().strip().splitlines()[-1]) if args.gpu else None
    if args.table:
        runs = json.loads(args.table.read_text())["runs"]
    else:
        runs = run_fractions(sorted(args.fractions), args.workdir, os.cpu_count() or 1, args.threads, args.out)
    table = summarise(runs, gpu)
    print_table(runs, table)
    print(json.dumps({"fractions": [run["fraction"] for run in runs], "stages": table}))


def run_fractions(
    fractions: list[float], workdir: Path | None, cores: int, threads: int, out: Path | None
) -> list[dict]:
    """Measure each fraction in turn (``out`` is rewritten after each one, so a long run keeps its data)."""
    if len(fractions) < 2:
        raise SystemExit("scale.py: --fractions needs at least two sizes to fit a growth exponent")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        root = workdir or Path(tmp)
        shutil.rmtree(root / "source", ignore_errors=True)
        source = snapshot_repository(root / "source")
        for fraction in fractions:
            runs.append(measure_fraction(fraction, root, source, cores, threads))
            if out is not None:
                out.write_text(json.dumps({"runs": runs}, indent=1))
    return runs


if __name__ == "__main__":
    main()
