"""Cached re-run benchmark: `dvc exp run -S fusion.weights=...` after a repro at SoccerNet scale.

In a scratch copy of the repo, the retrieval half of the DAG (distances@<model> -> fuse ->
rerank -> score) runs on synthetic features at the sizes of SoccerNet's valid, test and
challenge splits (1,751 / 1,715 / 1,310 actions; 3 models of dims 512, 2048 and 384). Then a
fusion experiment is timed end to end, DVC included. Anchor, measured in the same run: the
full `dvc repro` of that same DAG from features.

    python benchmarks/rerun.py            # a few minutes on 2 cores

Last line: one JSON object with `seconds`, `cpu_seconds`, `upstream_stages_run`, `stages_run`, `full_repro_seconds`,
`scale` and `load_1min` (the load average at the start, before and after the experiment).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from synthetic_blocks import synthetic_feature_set, synthetic_split

from soccerreid.schema import write_features

ROOT = Path(__file__).resolve().parents[1]
KEPT_STAGES = ("distances", "fuse", "rerank", "score")
FAST_STAGES = {"fuse", "rerank", "score"}
SPLIT_SIZES = {"valid": (1751, 11638, 34355), "test": (1715, 11777, 34989), "challenge": (1310, 9021, 26082)}
MODELS = {
    "resnet50_ibn": (2048, 6.4),
    "dinov2_lora": (384, 3.2),
    "osnet_ain": (512, 3.3),
}  # (dim, noise): mAP about 0.5, 0.7, 0.7


def run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """Run ``cmd`` in ``cwd``; returns (seconds, stdout + stderr); raises on failure.

    ``run.cpu_seconds`` is then the CPU time of the command and its descendants (user + system):
    unlike the wall time it hardly depends on what else runs on the machine."""
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu_seconds = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout + done.stderr


def copy_repo(dest: Path) -> None:
    """Copy the repo's tracked and untracked-but-not-ignored files to ``dest``."""
    listing = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in listing:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)


def trim_dag(repo: Path) -> None:
    """Keep only the retrieval stages; their inputs become the synthetic features below."""
    dag = yaml.safe_load((repo / "dvc.yaml").read_text())
    stages = {name: dag["stages"][name] for name in KEPT_STAGES}
    stages["score"]["deps"] = [d for d in stages["score"]["deps"] if d != "data/index"]
    trimmed = {"metrics": ["metrics/scores.json"], "stages": stages}
    (repo / "dvc.yaml").write_text(yaml.safe_dump(trimmed, sort_keys=False))


def write_synthetic_features(repo: Path, scale: float) -> None:
    """Features of every model and split at SoccerNet sizes (times ``scale``)."""
    for s, (split, (actions, queries, gallery)) in enumerate(SPLIT_SIZES.items()):
        sizes = [max(1, int(round(v * scale))) for v in (actions, queries, gallery)]
        labels = synthetic_split(*sizes, seed=s)
        for m, (model, (dim, noise)) in enumerate(MODELS.items()):
            fs = synthetic_feature_set(labels, dim=dim, noise=noise, seed=10 * s + m, model=model)
            write_features(
                repo / "artifacts" / "features" / model / f"{split}.h5", dataclasses.replace(fs, split=split)
            )


def stages_run(output: str) -> list[str]:
    return sorted(set(re.findall(r"Running stage '([^']+)'", output)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of SoccerNet's split sizes")
    args = parser.parse_args()
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="soccerreid-rerun-") as tmp:
        repo = Path(tmp)
        copy_repo(repo)
        trim_dag(repo)
        write_synthetic_features(repo, args.scale)
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "bench"]):
            run(["git", "-c", "user.email=b@example.com", "-c", "user.name=bench", *cmd[1:]], repo)
        full_seconds, full_output = run(["dvc", "repro"], repo)
        run(["git", "add", "-A"], repo)
        run(["git", "-c", "user.email=b@example.com", "-c", "user.name=bench", "commit", "-qm", "repro"], repo)
        load.append(os.getloadavg()[0])
        seconds, output = run(["dvc", "exp", "run", "-S", "fusion.weights=[0.3,0.3,0.4]"], repo)
        cpu_seconds = run.cpu_seconds
        load.append(os.getloadavg()[0])
        _, diff_json = run(["dvc", "metrics", "diff", "--json"], repo)
    ran = stages_run(output)
    upstream = [s for s in ran if s not in FAST_STAGES]
    print(f"{'what':<44}{'seconds':>10}{'ratio':>10}")
    print(f"{'dvc repro (distances x3, fuse, rerank, score)':<44}{full_seconds:>10.2f}{1.0:>10.2f}")
    print(f"{'dvc exp run -S fusion.weights=[0.3,0.3,0.4]':<44}{seconds:>10.2f}{seconds / full_seconds:>10.2f}")
    print(
        f"stages run by the experiment: {', '.join(ran)}; upstream stages run: {len(upstream)}; "
        f"CPU time of the experiment, DVC included: {cpu_seconds:.2f} s"
    )
    print(
        f"1-min load average: {load[0]:.2f} at the start, {load[1]:.2f} before and {load[2]:.2f} after the experiment"
    )
    diff = json.JSONDecoder().raw_decode(diff_json[diff_json.index("{") :])[0]["metrics/scores.json"]
    for key in ("mAP", "rank1"):
        print(f"dvc metrics diff {key}: {diff[key]['old']:.4f} -> {diff[key]['new']:.4f}")
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu_seconds, 2),
                "upstream_stages_run": len(upstream),
                "stages_run": ran,
                "full_repro_seconds": round(full_seconds, 2),
                "scale": args.scale,
                "load_1min": load,
            }
        )
    )


if __name__ == "__main__":
    main()
