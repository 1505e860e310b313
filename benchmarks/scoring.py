"""Benchmark: our per-action retrieval path against torchreid per action and the devkit's full matrix.

At SoccerNet valid scale (1,751 actions, 11,638 queries, 34,355 gallery; synthetic clustered
features of three models, dims 512 / 2048 / 384) it times:

- ours: read features, 3 x per-action distance blocks, weighted fusion, k-reciprocal
  re-ranking (20/6/0.3) and mAP/CMC, in a child process so its peak RSS is its own (the
  fastest of ``--repeat`` runs counts, as other jobs share the CPU);
- the anchor, in this process: per action in a Python loop, torchreid's
  ``compute_distance_matrix``, the same fusion, ``re_ranking`` and ``evaluate_rank``;
- the devkit's way on a subsample of actions: a full Q x G matrix, a full-row sort, then a mask
  of other actions (no re-ranking: the devkit's global re-ranking does not fit in memory), with
  ours on the same subsample.

Both sides use one BLAS / torch thread. It prints a table of times, ratios to the anchor and
peak memory, and ends with one JSON line: ``speedup`` (anchor / ours), ``peak_rss_mb`` (ours),
``max_abs_diff`` (our re-ranked q-g distances vs. the anchor's) and more.

    python benchmarks/scoring.py                   # full valid scale, a few minutes on 2 cores
    python benchmarks/scoring.py --actions 200 --queries 1300 --gallery 3900 --devkit-actions 60
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from synthetic_blocks import synthetic_feature_set, synthetic_split

from soccerreid.evaluation.metrics import RANKS, score_queries, summarize
from soccerreid.retrieval import features_to_blocks, rerank_blocks
from soccerreid.retrieval.fusion import fuse_blocks
from soccerreid.schema import read_blocks, read_features, write_blocks, write_features

RERANK = (20, 6, 0.3)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=1751)
    parser.add_argument("--queries", type=int, default=11638)
    parser.add_argument("--gallery", type=int, default=34355)
    parser.add_argument("--dims", type=int, nargs="+", default=[512, 2048, 384])
    parser.add_argument("--noise", type=float, nargs="+", default=[4.5, 4.5, 3.5], help="per model; lower is better")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.2, 0.2, 0.6])
    parser.add_argument("--devkit-actions", type=int, default=300, help="actions in the devkit-style subsample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of our path; the fastest counts (shared CPU)")
    parser.add_argument("--role", choices=["main", "ours", "devkit"], default="main", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def peak_rss_mb() -> float:
    """Peak resident memory of this process image so far, in MiB (Linux ``VmHWM``).

    Not ``getrusage``: its ``ru_maxrss`` survives ``exec`` and would report the parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def make_features(args: argparse.Namespace, workdir: Path) -> list[Path]:
    """Write one features file per model to ``workdir``; returns their paths."""
    split = synthetic_split(args.actions, args.queries, args.gallery, seed=args.seed)
    paths = []
    for i, (dim, noise) in enumerate(zip(args.dims, args.noise)):
        path = workdir / f"model{i}.h5"
        write_features(path, synthetic_feature_set(split, dim, noise, seed=args.seed + 1 + i, model=f"model{i}"))
        paths.append(path)
    return paths


def timed(times: dict, name: str, func, *a, **kw):
    """Call ``func`` and add its wall time to ``times[name]``."""
    start = time.perf_counter()
    result = func(*a, **kw)
    times[name] = times.get(name, 0.0) + time.perf_counter() - start
    return result


def run_ours(args: argparse.Namespace, workdir: Path) -> dict:
    """Our full path in this (child) process, best of ``--repeat`` runs; writes its blocks for the comparison."""
    runs = [ours_once(args, workdir) for _ in range(args.repeat)]
    times, fused, reranked, scores = min(runs, key=lambda run: sum(v for k, v in run[0].items() if k != "read"))
    write_blocks(workdir / "ours_fused.h5", fused)
    write_blocks(workdir / "ours_reranked.h5", reranked)
    return {"times": times, "peak_rss_mb": peak_rss_mb(), "scores": scores}


def ours_once(args: argparse.Namespace, workdir: Path) -> tuple:
    """One timed run: ``(times, fused, reranked, scores)``."""
    times, blocks = {}, []
    for i in range(len(args.dims)):
        fs = timed(times, "read", read_features, workdir / f"model{i}.h5")
        blocks.append(timed(times, "distances", features_to_blocks, fs, "cosine"))
        del fs
    fused = timed(times, "fusion", fuse_blocks, "weighted", blocks, args.weights)
    reranked = timed(times, "rerank", rerank_blocks, fused, *RERANK)
    scores = timed(times, "score", lambda b: summarize(score_queries(b), RANKS), reranked)
    return times, fused, reranked, scores


def subsample_rows(fs, num_actions: int) -> np.ndarray:
    """Row indices of the first ``num_actions`` actions of a features set."""
    return np.flatnonzero(np.isin(fs.action_idx, np.unique(fs.action_idx)[:num_actions]))


def run_devkit(args: argparse.Namespace, workdir: Path) -> dict:
    """The devkit's way on a subsample (full Q x G matrix, full-row sort, mask), then ours on it."""
    sets = [read_features(workdir / f"model{i}.h5") for i in range(len(args.dims))]
    rows = subsample_rows(sets[0], args.devkit_actions)
    feats = [fs.features[rows] for fs in sets]
    meta = sets[0]
    action, uid, is_query = meta.action_idx[rows], meta.person_uid[rows], meta.is_query[rows]
    del sets
    before = psutil.Process().memory_info().rss / 2**20
    start = time.perf_counter()
    devkit = devkit_scores(feats, action, uid, is_query, args.weights)
    devkit_s = time.perf_counter() - start
    rss = peak_rss_mb() - before
    start = time.perf_counter()
    ours = ours_plain_scores(feats, meta, rows, args.weights)
    ours_s = time.perf_counter() - start
    return {
        "devkit_s": devkit_s,
        "devkit_rss_mb": rss,
        "ours_s": ours_s,
        "devkit": devkit,
        "ours": ours,
        "queries": int(is_query.sum()),
        "gallery": int((~is_query).sum()),
    }


def devkit_scores(feats: list, action, uid, is_query, weights) -> dict:
    """mAP and Rank-1 from a full fused Q x G cosine matrix, sorted whole, then masked per action."""
    w = np.asarray(weights) / np.sum(weights)
    q, g = np.flatnonzero(is_query), np.flatnonzero(~is_query)
    dist = np.zeros((q.size, g.size), dtype=np.float32)
    for weight, x in zip(w, feats):
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        dist += np.float32(weight) * (1 - x[q] @ x[g].T)
    order = np.argsort(dist, axis=1, kind="stable")
    same = action[g][order] == action[q][:, None]
    ranked_uid = uid[g][order]
    aps, first = [], []
    for i in range(q.size):
        hits = ranked_uid[i][same[i]] == uid[q[i]]
        positions = np.flatnonzero(hits) + 1
        aps.append(np.mean(np.arange(1, positions.size + 1) / positions))
        first.append(positions[0])
    return {"mAP": float(np.mean(aps)), "rank1": float(np.mean(np.array(first) == 1))}


def ours_plain_scores(feats: list, meta, rows: np.ndarray, weights) -> dict:
    """Our per-action path on the same subsample, without re-ranking (as the devkit-style run)."""
    blocks = []
    for x in feats:
        fs = type(meta)(
            x,
            meta.bbox_idx[rows],
            meta.action_idx[rows],
            meta.role[rows],
            meta.person_uid[rows],
            meta.clazz[rows],
            meta.model,
            meta.split,
            False,
        )
        blocks.append(features_to_blocks(fs, "cosine"))
    return summarize(score_queries(fuse_blocks("weighted", blocks, weights)), RANKS)


def run_anchor(args: argparse.Namespace, workdir: Path) -> dict:
    """torchreid per action in a Python loop: distances, fusion, re_ranking, evaluate_rank."""
    import torch
    from threadpoolctl import threadpool_limits
    from torchreid.reid.metrics import compute_distance_matrix, evaluate_rank
    from torchreid.reid.utils.rerank import re_ranking

    torch.set_num_threads(1)
    sets = [read_features(workdir / f"model{i}.h5") for i in range(len(args.dims))]
    tensors = [torch.from_numpy(fs.features) for fs in sets]
    w = np.asarray(args.weights) / np.sum(args.weights)
    meta = sets[0]
    starts = np.r_[0, np.flatnonzero(np.diff(meta.action_idx)) + 1, meta.action_idx.size]
    totals = {"ap_sum": 0.0, "cmc_sum": np.zeros(max(RANKS)), "queries": 0}
    finals = []
    start = time.perf_counter()
    with threadpool_limits(1, user_api="blas"), contextlib.redirect_stdout(io.StringIO()):
        for lo, hi in zip(starts[:-1], starts[1:]):
            nq = int(meta.is_query[lo:hi].sum())
            dist = sum(
                float(wm) * compute_distance_matrix(t[lo:hi], t[lo:hi], "cosine").numpy() for wm, t in zip(w, tensors)
            )
            finals.append(re_ranking(dist[:nq, nq:], dist[:nq, :nq], dist[nq:, nq:], *RERANK))
            uid = meta.person_uid[lo:hi]
            cmc, mean_ap = evaluate_rank(
                finals[-1], uid[:nq], uid[nq:], np.zeros(nq), np.ones(hi - lo - nq), max_rank=50, use_cython=False
            )
            accumulate(totals, cmc, mean_ap, nq)
    seconds = time.perf_counter() - start
    n = totals["queries"]
    scores = {"mAP": float(totals["ap_sum"] / n), **{f"rank{k}": float(totals["cmc_sum"][k - 1] / n) for k in RANKS}}
    return {"seconds": seconds, "scores": scores, **compare_reranked(workdir, finals, re_ranking)}


def compare_reranked(workdir: Path, finals: list, re_ranking) -> dict:
    """Max |ours - torchreid| over all re-ranked q-g distances, on the same inputs and end to end.

    ``max_abs_diff``: torchreid's ``re_ranking`` fed our fused blocks, so both re-rank the same
    matrices. ``max_abs_diff_own_distances``: against the anchor's run on its own torchreid
    distances, which differ from ours by float rounding (~1e-7); such a difference can move a
    neighbour across a k1 or k2 cut-off and change that action's re-ranked distances.
    """
    fused, ours = read_blocks(workdir / "ours_fused.h5"), read_blocks(workdir / "ours_reranked.h5")
    same, own, moved = 0.0, 0.0, 0
    with contextlib.redirect_stdout(io.StringIO()):
        for a, final in enumerate(finals):
            nq, block = int(fused.n_query[a]), fused.block(a)
            oracle = re_ranking(block[:nq, nq:], block[:nq, :nq], block[nq:, nq:], *RERANK)
            same = max(same, float(np.abs(oracle - ours.query_gallery(a)).max()))
            diff = float(np.abs(final - ours.query_gallery(a)).max())
            own, moved = max(own, diff), moved + (diff > 1e-5)
    return {"max_abs_diff": same, "max_abs_diff_own_distances": own, "actions_moved_by_rounding": moved}


def accumulate(totals: dict, cmc: np.ndarray, mean_ap: float, nq: int) -> None:
    """Add one action's torchreid results; its CMC stops at the gallery size, so extend it."""
    full = np.concatenate([cmc, np.full(max(0, len(totals["cmc_sum"]) - len(cmc)), cmc[-1])])
    totals["ap_sum"] += mean_ap * nq
    totals["cmc_sum"] += full[: len(totals["cmc_sum"])] * nq
    totals["queries"] += nq


def run_child(role: str, args: argparse.Namespace, workdir: Path) -> dict:
    """Run this script as ``role`` in a fresh process; returns its JSON result."""
    argv = [sys.executable, __file__, "--role", role, "--workdir", str(workdir)]
    argv += [
        "--dims",
        *map(str, args.dims),
        "--weights",
        *map(str, args.weights),
        "--devkit-actions",
        str(args.devkit_actions),
    ]
    argv += ["--repeat", str(args.repeat)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(ours: dict, anchor: dict, devkit: dict) -> None:
    """The table of times, ratios against the anchor and peak memory."""
    t = ours["times"]
    total = sum(v for k, v in t.items() if k != "read")
    rows = [
        ("anchor: torchreid per action (loop)", anchor["seconds"], "-"),
        ("ours: read 3 features files (not in total)", t["read"], "-"),
        ("ours: 3 x distance blocks", t["distances"], "-"),
        ("ours: weighted fusion", t["fusion"], "-"),
        ("ours: re-ranking 20/6/0.3", t["rerank"], "-"),
        ("ours: mAP + CMC", t["score"], "-"),
        ("ours: total", total, f"{ours['peak_rss_mb']:.0f}"),
        (
            f"devkit full matrix + mask ({devkit['queries']} x {devkit['gallery']})",
            devkit["devkit_s"],
            f"+{devkit['devkit_rss_mb']:.0f}",
        ),
        ("ours, same subsample, no re-ranking", devkit["ours_s"], "-"),
    ]
    print(f"{'step':<52} {'time_s':>8} {'anchor/step':>12} {'peak_rss_mb':>12}")
    for name, seconds, rss in rows:
        print(f"{name:<52} {seconds:>8.3f} {anchor['seconds'] / seconds:>12.1f} {rss:>12}")
    scale = 11638 * 34355 / (devkit["queries"] * devkit["gallery"])
    matrix_gib = 11638 * 34355 * 4 / 2**30
    print(
        f"devkit at 11,638 x 34,355: ~{devkit['devkit_s'] * scale:.0f} s by Q*G scaling; one float32 Q x G matrix is "
        f"{matrix_gib:.1f} GiB and its int64 argsort {2 * matrix_gib:.1f} GiB"
    )
    print(
        "scores (ours | anchor):",
        {k: (round(ours["scores"][k], 6), round(float(anchor["scores"][k]), 6)) for k in anchor["scores"]},
    )
    print(
        "devkit subsample mAP/Rank-1 (devkit | ours):",
        devkit["devkit"],
        {k: devkit["ours"][k] for k in ("mAP", "rank1")},
    )


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.role != "main":
        runner = run_ours if args.role == "ours" else run_devkit
        print(json.dumps(runner(args, Path(args.workdir))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        make_features(args, workdir)
        ours = run_child("ours", args, workdir)
        devkit = run_child("devkit", args, workdir)
        anchor = run_anchor(args, workdir)
    print_table(ours, anchor, devkit)
    ours_s = sum(v for k, v in ours["times"].items() if k != "read")
    summary = {
        "speedup": anchor["seconds"] / ours_s,
        "peak_rss_mb": ours["peak_rss_mb"],
        "max_abs_diff": anchor["max_abs_diff"],
        "max_abs_diff_own_distances": anchor["max_abs_diff_own_distances"],
        "actions_moved_by_rounding": anchor["actions_moved_by_rounding"],
        "ours_s": ours_s,
        "anchor_s": anchor["seconds"],
        "map_abs_diff": abs(ours["scores"]["mAP"] - anchor["scores"]["mAP"]),
        "rank1_abs_diff": abs(ours["scores"]["rank1"] - anchor["scores"]["rank1"]),
        "devkit_subsample_s": devkit["devkit_s"],
        "ours_subsample_s": devkit["ours_s"],
        "devkit_map_abs_diff": abs(devkit["devkit"]["mAP"] - devkit["ours"]["mAP"]),
        "actions": args.actions,
        "queries": args.queries,
        "gallery": args.gallery,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
