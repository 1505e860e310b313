"""Data layer cost and difficulty: synthetic generation, crop validation, and how hard the ReID task is.

Three measurements on the default ``data.synthetic`` config of params.yaml:

1. Generation wall time with ``workers`` processes against the single-process anchor.
2. Crop validation (full decode of every crop, as the prepare stage does) with our threaded
   OpenCV decode against the anchor: PIL ``Image.open(...).load()`` in one thread.
3. Difficulty of the generated valid split under the official protocol (per-action ranking):
   random ranking (the anchor) against a raw-pixel baseline (16x32 thumbnails, cosine).
   A real task lies well above random and well below 1.0.

    python benchmarks/synthetic_data.py --params params.yaml --workers 2

Prints a table (seconds or mAP, ratio to the anchor) and ends with ONE JSON line of figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from soccerreid.config import load_params
from soccerreid.data.index import decode_splits, scan_split
from soccerreid.data.synthetic import generate_synthetic
from soccerreid.data.validate import find_invalid_images
from soccerreid.images import read_rgb


def time_generation(config, raw: Path, workers: int) -> tuple[float, float, int]:
    """Wall and CPU seconds (this process and its children) to generate, and the crop count."""
    cpu0 = _cpu_seconds()
    start = time.perf_counter()
    counts = generate_synthetic(config, raw, workers)
    wall = time.perf_counter() - start
    return wall, _cpu_seconds() - cpu0, sum(n for roles in counts.values() for n in roles.values())


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def time_validation(paths: list[Path], workers: int) -> tuple[float, float]:
    """Seconds to decode every crop: ours (threaded cv2) and the anchor (PIL, one thread)."""
    start = time.perf_counter()
    find_invalid_images(paths, workers)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.load()
    return ours, time.perf_counter() - start


def score_per_action(frame: pd.DataFrame, distances) -> float:
    """Official-protocol mAP: each query ranked against its own action's gallery."""
    query, gallery = frame[frame.role == "query"], frame[frame.role == "gallery"]
    aps = []
    for action, queries in query.groupby("action_idx"):
        same = gallery[gallery.action_idx == action]
        dist = distances(queries.index.to_numpy(), same.index.to_numpy())
        for row, uid in enumerate(queries.person_uid.to_numpy()):
            hits = np.flatnonzero(same.person_uid.to_numpy()[np.argsort(dist[row], kind="stable")] == uid)
            aps.append(np.mean(np.arange(1, len(hits) + 1) / (hits + 1)))
    return float(np.mean(aps))


def pixel_features(paths: list[str]) -> np.ndarray:
    """(N, 1536) float32 unit vectors of mean-centred 16x32 RGB thumbnails."""
    thumbs = [cv2.resize(read_rgb(p), (16, 32), interpolation=cv2.INTER_AREA).astype(np.float32).ravel() for p in paths]
    feats = np.stack(thumbs)
    feats -= feats.mean(axis=1, keepdims=True)
    return feats / np.linalg.norm(feats, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = load_params(args.params).data.synthetic
    with tempfile.TemporaryDirectory() as tmp:
        anchor_wall, anchor_cpu, images = time_generation(config, Path(tmp) / "one", workers=1)
        wall, cpu, _ = time_generation(config, Path(tmp) / "many", workers=args.workers)
        paths = sorted((Path(tmp) / "many").rglob("*.png"))
        ours_decode, anchor_decode = time_validation(paths, args.workers)
        valid = decode_splits([scan_split(Path(tmp) / "many" / "reid" / "valid", "valid")])[0].frame
        rng = np.random.default_rng(0)
        random_map = score_per_action(valid, lambda q, g: rng.random((len(q), len(g))))
        feats = pixel_features(valid.path.tolist())
        pixel_map = score_per_action(valid, lambda q, g: -feats[q] @ feats[g].T)
    rows = [
        ("generate, 1 process (anchor)", anchor_wall, 1.0),
        (f"generate, {args.workers} processes", wall, anchor_wall / wall),
        ("validate, PIL 1 thread (anchor)", anchor_decode, 1.0),
        (f"validate, cv2 {args.workers} threads", ours_decode, anchor_decode / ours_decode),
        ("valid mAP, random ranking (anchor)", random_map, 1.0),
        ("valid mAP, raw-pixel baseline", pixel_map, pixel_map / random_map),
    ]
    print(f"{'measurement':<40}{'value':>10}{'ratio':>8}")
    for name, value, ratio in rows:
        print(f"{name:<40}{value:>10.3f}{ratio:>8.2f}")
    figures = {
        "images": images,
        "generate_s": round(wall, 2),
        "generate_cpu_s": round(cpu, 2),
        "generate_1proc_s": round(anchor_wall, 2),
        "generate_speedup": round(anchor_wall / wall, 2),
        "validate_s": round(ours_decode, 3),
        "validate_speedup": round(anchor_decode / ours_decode, 2),
        "valid_map_random": round(random_map, 4),
        "valid_map_pixels": round(pixel_map, 4),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
