"""Embedding benchmark: the exported ONNX models in onnxruntime (CPU) against torch eager and
torchreid's FeatureExtractor (issues 13 and 22).

Same osnet_ain_x1_0 weights for every row (torchreid loads them from a local file; ours come
from a soccerreid model file; each ONNX file is ``soccerreid export``'s, checked against torch
before it is timed), the same synthetic PNG crops, 256x128, float32 on CPU, batch 32, each
library's default threads. The first three rows compute the anchor's feature (no flip, no
normalisation; max abs diff to the anchor's); the last two the DAG's (flip averaging and L2: the
tracker-ready export, ``soccerreid export --tracker``, flips inside its graph, twice the network's
work; max abs diff to torch eager's). Our rows share the decoding loader (``--workers``
processes); the anchor decodes in-process, its documented use. Rows are timed interleaved, best
of ``--repeats`` rounds. The last line is one JSON object.

    python benchmarks/embed.py --images 256 --batch-size 32 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from extract import HEIGHT, WIDTH, build_models, run_anchor, time_rows, write_crops  # benchmarks/extract.py

from soccerreid.config.models import ModelConfig
from soccerreid.export import export_file, export_tracker_file, load_runner, run_features
from soccerreid.features import load_model
from soccerreid.models import save_model

GOAL = 1.5


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="best of this many interleaved rounds per row")
    return parser.parse_args()


def main() -> None:
    args = parse()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_crops(folder, args.images)
        ours, anchor = build_models(folder)
        cfg = ModelConfig(arch="osnet_ain", variant="x1_0", neck="none")
        save_model(ours, folder / "model.pt", cfg, input_size=(HEIGHT, WIDTH))
        model = load_model(folder / "model.pt").configure(
            flip=False, normalize=False, batch_size=args.batch_size, workers=args.workers
        )
        check = export_file(model, "onnx", folder / "model.onnx", paths[:32], name="osnet_ain_x1_0")
        dag = model.configure(flip=True, normalize=True)
        check = max(check, export_tracker_file(dag, "onnx", folder / "tracker.onnx", paths[:32], "osnet_ain_x1_0"))
        run, tracker = load_runner("onnx", folder / "model.onnx"), load_runner("onnx", folder / "tracker.onnx")
        plain_features = dag.configure(flip=False, normalize=False)  # the tracker graph does both itself
        rows = [
            ("torchreid FeatureExtractor (anchor)", lambda: run_anchor(anchor, paths, args.batch_size)),
            ("torch eager: soccerreid load_model().embed", lambda: model.embed(paths, device="cpu")),
            ("onnxruntime CPU: soccerreid export --format onnx", lambda: run_features(run, model, paths)),
            ("torch eager, flip + L2 (the DAG's feature)", lambda: dag.embed(paths, device="cpu")),
            ("onnxruntime CPU: tracker.onnx (flip + L2 inside)", lambda: run_features(tracker, plain_features, paths)),
        ]
        for _, warm in rows:  # warm-up: oneDNN primitives, ORT kernels
            warm()
        results = time_rows(rows, args.repeats)
    report(results, args, (load_before, os.getloadavg()[0]), check)


def report(results, args, load: tuple[float, float], check: float) -> None:
    """Print images/s, speed-up over the anchor and max |diff| to the anchor's features, then the JSON line."""
    anchor_s, anchor_out = results[0][1], results[0][2]
    print(
        f"\nosnet_ain_x1_0, {HEIGHT}x{WIDTH}, {args.images} PNG crops, batch {args.batch_size}, {args.workers} decode "
        f"workers for ours, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"onnxruntime {ort.__version__} "
        f"(default threads: one per physical core), "
        f"1-min load average {load[0]:.1f} -> {load[1]:.1f}\n"
    )
    print(f"| {'method':48s} | images/s | speed-up | max abs diff |")
    print(f"|{'-' * 50}|---------:|---------:|-------------:|")
    figures = []
    for row, (name, seconds, out) in enumerate(results):
        reference = anchor_out if row < 3 else results[3][2]  # the DAG's feature rows: against torch eager's
        rate, diff = args.images / seconds, float(np.abs(out - reference).max())
        print(f"| {name:48s} | {rate:8.1f} | {anchor_s / seconds:7.2f}x | {diff:12.2e} |")
        figures.append((rate, anchor_s / seconds, diff))
    (anchor_rate, _, _), (eager_rate, eager_x, _), (ort_rate, ort_x, ort_diff) = figures[:3]
    (flip_rate, flip_x, _), (tracker_rate, tracker_x, tracker_diff) = figures[3:]
    verdict = "met" if ort_x >= GOAL else "not met"
    print(
        f"\nexport check (onnxruntime vs torch, 32 crops): max abs diff {check:.2e}; goal onnxruntime >= {GOAL}x "
        f"the anchor: {verdict}"
    )
    print(
        json.dumps(
            {
                "speedup": round(ort_x, 3),
                "images_per_s": round(ort_rate, 1),
                "anchor_images_per_s": round(anchor_rate, 1),
                "torch_eager_images_per_s": round(eager_rate, 1),
                "torch_eager_speedup": round(eager_x, 3),
                "max_abs_diff": ort_diff,
                "export_check": check,
                "goal_met": ort_x >= GOAL,
                "torch_eager_flip_images_per_s": round(flip_rate, 1),
                "torch_eager_flip_speedup": round(flip_x, 3),
                "tracker_onnx_images_per_s": round(tracker_rate, 1),
                "tracker_onnx_speedup": round(tracker_x, 3),
                "tracker_onnx_over_torch_eager_flip": round(tracker_rate / flip_rate, 3),
                "tracker_max_abs_diff": tracker_diff,
            }
        )
    )


if __name__ == "__main__":
    main()
