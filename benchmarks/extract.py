"""Extraction benchmark: soccerreid.features vs torchreid's FeatureExtractor (issue 4, point 8).

Same osnet_ain_x1_0 weights (saved to a local file and loaded by both), same synthetic PNG crops,
256x128, float32 on CPU, no flip TTA, no normalisation. Rows after the anchor switch on one
ingredient at a time, so the table attributes the speed-up. The compiled row is the steady
state after a one-time compile, which is timed on its own and turned into a break-even count
of crops. The last line is one JSON object.

    python benchmarks/extract.py --images 256 --batch-size 32 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD, ExtractConfig, ModelConfig
from soccerreid.features import embed_batch, extract_embeddings, make_loader
from soccerreid.models import create_model

HEIGHT, WIDTH = 256, 128


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="best of this many interleaved rounds per row")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for both (0: torch's default)")
    return parser.parse_args()


def write_crops(folder: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` PNG player-like crops (smooth colour blobs, 60-300 px tall, about 0.45 aspect)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        height = int(rng.integers(60, 300))
        width = max(16, int(height * rng.uniform(0.35, 0.55)))
        coarse = rng.integers(0, 256, size=(8, 4, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
        paths.append(str(folder / f"{i:04d}.png"))
        image.save(paths[-1])
    return paths


def build_models(folder: Path):
    """Our ReidModel (no neck: the plain osnet feature) and torchreid's FeatureExtractor, same weights."""
    torch.manual_seed(0)
    cfg = ModelConfig(arch="osnet_ain", variant="x1_0", neck="none")
    weights = folder / "osnet_ain_x1_0.pth"
    torch.save(create_model(cfg, num_classes=0).backbone.state_dict(), weights)
    ours = create_model(replace(cfg, pretrained=str(weights)), num_classes=0).eval()
    with warnings.catch_warnings(), contextlib.redirect_stdout(None):
        warnings.simplefilter("ignore")
        from torchreid.reid.utils import FeatureExtractor

        anchor = FeatureExtractor(
            "osnet_ain_x1_0", model_path=str(weights), image_size=(HEIGHT, WIDTH), device="cpu", verbose=False
        )
    return ours, anchor


def run_anchor(anchor, paths: list[str], batch_size: int) -> np.ndarray:
    """torchreid's documented use: call the extractor on lists of image paths."""
    chunks = [anchor(paths[i : i + batch_size]) for i in range(0, len(paths), batch_size)]
    return torch.cat(chunks).numpy()


def run_variant(model, paths: list[str], cfg: ExtractConfig, channels_last: bool, bf16: bool) -> np.ndarray:
    """Our loader and embed_batch with one ingredient toggled (the library picks channels_last itself)."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    cast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    chunks = []
    with torch.inference_mode(), cast:
        for images in make_loader(paths, cfg, IMAGENET_MEAN, IMAGENET_STD):
            chunks.append(embed_batch(model, images.contiguous(memory_format=layout), flip=False, normalize=False))
    return torch.cat(chunks).numpy()


def time_rows(rows: list[tuple[str, Callable[[], np.ndarray]]], repeats: int) -> list[tuple[str, float, np.ndarray]]:
    """Best wall time of each row over ``repeats`` rounds, rows interleaved within each round.

    Interleaving spreads the load of a shared 2-core box evenly over the rows being compared.
    """
    best = {name: float("inf") for name, _ in rows}
    outputs = {}
    for _ in range(repeats):
        for name, run in rows:
            start = time.perf_counter()
            outputs[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    return [(name, best[name], outputs[name]) for name, _ in rows]


def time_compile(model, paths: list[str], cfg: ExtractConfig) -> float:
    """Seconds of the first compiled call on one batch (compiling for the static batch shape)."""
    start = time.perf_counter()
    extract_embeddings(model, paths[: cfg.batch_size], cfg, IMAGENET_MEAN, IMAGENET_STD, device="cpu")
    return time.perf_counter() - start


def main() -> None:
    args = parse()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder / "inductor")  # a cold compile, as on a new machine
        paths = write_crops(folder, args.images)
        ours, anchor = build_models(folder)
        base = ExtractConfig(
            height=HEIGHT, width=WIDTH, batch_size=args.batch_size, workers=0, flip=False, normalize=False
        )
        full = replace(base, workers=args.workers)
        compiled, compiled_cfg = copy.deepcopy(ours), replace(full, compile=True)
        rows = [
            ("torchreid FeatureExtractor (anchor)", lambda: run_anchor(anchor, paths, args.batch_size)),
            ("ours: inference_mode, NCHW, decode in-process", lambda: run_variant(ours, paths, base, False, False)),
            (f"  + {args.workers} decode workers", lambda: run_variant(ours, paths, full, False, False)),
            (
                "  + channels_last = extract_embeddings (fp32)",
                lambda: extract_embeddings(ours, paths, full, IMAGENET_MEAN, IMAGENET_STD, device="cpu"),
            ),
            (
                "  + torch.compile (extract.compile), steady state",
                lambda: extract_embeddings(compiled, paths, compiled_cfg, IMAGENET_MEAN, IMAGENET_STD, device="cpu"),
            ),
            ("  bf16 autocast (separate, not the default)", lambda: run_variant(ours, paths, full, True, True)),
        ]
        run_anchor(anchor, paths[: args.batch_size], args.batch_size)  # warm-up: oneDNN primitives
        run_variant(ours, paths[: args.batch_size], base, True, False)
        compile_s = time_compile(compiled, paths, compiled_cfg)
        results = time_rows(rows, args.repeats)
    report(results, args, (load_before, os.getloadavg()[0]), compile_s)


def report(results, args, load: tuple[float, float], compile_s: float) -> None:
    """Print the table of images/s, speed-up over the anchor and max |diff| to the anchor features,
    then the compile cost and the crop count from which compiling beats the anchor end to end."""
    anchor_s, anchor_out = results[0][1], results[0][2]
    print(
        f"\nosnet_ain_x1_0, {HEIGHT}x{WIDTH}, {args.images} PNG crops, batch {args.batch_size}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"1-min load average {load[0]:.1f} -> {load[1]:.1f}\n"
    )
    print(f"| {'method':49s} | images/s | speed-up | max abs diff |")
    print(f"|{'-' * 51}|---------:|---------:|-------------:|")
    figures = {}
    for name, seconds, out in results:
        rate, diff = args.images / seconds, float(np.abs(out - anchor_out).max())
        print(f"| {name:49s} | {rate:8.1f} | {anchor_s / seconds:7.2f}x | {diff:12.2e} |")
        figures[name] = (rate, anchor_s / seconds, diff)
    eager, fp32, bf16 = (figures[results[i][0]] for i in (3, 4, 5))
    anchor_rate = args.images / anchor_s
    saving = 1 / anchor_rate - 1 / fp32[0]
    break_even = round(compile_s / saving) if saving > 0 else None
    print(
        f"\ncompile (once per process and shape): {compile_s:.1f} s; compiled beats the anchor end to end "
        f"from {break_even} crops (a SoccerNet valid extraction is 45,993)"
    )
    print(
        json.dumps(
            {
                "speedup": round(fp32[1], 3),
                "max_abs_diff": fp32[2],
                "images_per_s": round(fp32[0], 1),
                "anchor_images_per_s": round(anchor_rate, 1),
                "compile_s": round(compile_s, 1),
                "break_even_images": break_even,
                "speedup_eager": round(eager[1], 3),
                "max_abs_diff_eager": eager[2],
                "bf16_speedup": round(bf16[1], 3),
                "bf16_max_abs_diff": bf16[2],
            }
        )
    )


if __name__ == "__main__":
    main()
