"""Embedding benchmark: the exported ONNX model in onnxruntime (CPU) against torch eager and
torchreid's FeatureExtractor (issue 13, point 5).

Same osnet_ain_x1_0 weights for all three (torchreid loads them from a local file; ours come
from a soccerreid model file; the ONNX file is ``soccerreid export``'s, checked against torch
before it is timed), the same synthetic PNG crops, 256x128, float32 on CPU, no flip TTA, no
normalisation, batch 32, each library's default threads. Our two rows share the decoding loader
(``--workers`` processes); the
anchor decodes in-process, its documented use. Rows are timed interleaved, best of
``--repeats`` rounds. The last line is one JSON object.

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
from soccerreid.export import export_file, load_runner, run_features
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
        run = load_runner("onnx", folder / "model.onnx")
        rows = [
            ("torchreid FeatureExtractor (anchor)", lambda: run_anchor(anchor, paths, args.batch_size)),
            ("torch eager: soccerreid load_model().embed", lambda: model.embed(paths, device="cpu")),
            ("onnxruntime CPU: soccerreid export --format onnx", lambda: run_features(run, model, paths)),
        ]
        run_anchor(anchor, paths[: args.batch_size], args.batch_size)  # warm-up: oneDNN primitives, ORT kernels
        model.embed(paths[: args.batch_size], device="cpu")
        run_features(run, model, paths[: args.batch_size])
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
    for name, seconds, out in results:
        rate, diff = args.images / seconds, float(np.abs(out - anchor_out).max())
        print(f"| {name:48s} | {rate:8.1f} | {anchor_s / seconds:7.2f}x | {diff:12.2e} |")
        figures.append((rate, anchor_s / seconds, diff))
    (anchor_rate, _, _), (eager_rate, eager_x, _), (ort_rate, ort_x, ort_diff) = figures
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
            }
        )
    )


if __name__ == "__main__":
    main()
