"""Training resize against the evaluation resize: pixel agreement and speed per crop.

The anchor is evaluation's resize, torchreid's ``FeatureExtractor`` recipe: PIL bilinear with
antialiasing (``T.Resize`` on a PIL image). Against it, on the same decoded crops of the
embedded synthetic SoccerNet (heights 30-300 px, most of them enlarged to the input size):

- ``soccerreid.training.augment.resize``: torchvision's uint8 antialiased bilinear kernel;
- cv2 ``INTER_AREA`` when shrinking, ``INTER_LINEAR`` when enlarging (the training resize before).

One thread each (a DataLoader worker's setting).

    python benchmarks/resize.py --actions 20

Prints a table (mean and max absolute difference to PIL in grey levels, microseconds per crop,
speed against PIL) and ends with one JSON line ``{"sizes": {"256x128": {...}}, "crops": N}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from soccerreid.config.data import SplitActions, SyntheticConfig
from soccerreid.data.synthetic import generate_synthetic
from soccerreid.images import read_rgb
from soccerreid.training.augment import resize

SIZES = ((256, 128), (128, 64))


def synthetic_crops(actions: int, workers: int) -> list[np.ndarray]:
    """Decoded RGB crops (h, w, 3) uint8 of a small synthetic SoccerNet train split."""
    config = SyntheticConfig(actions=SplitActions(train=actions, valid=1, test=1, challenge=1), games=2)
    with tempfile.TemporaryDirectory() as tmp:
        generate_synthetic(config, tmp, workers=workers)
        return [read_rgb(p) for p in sorted(Path(tmp).rglob("*.png"))]


def pil_resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((width, height), Image.BILINEAR))


def cv2_resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    shrink = img.shape[0] > height or img.shape[1] > width
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def microseconds(fn, crops: list[np.ndarray], height: int, width: int, repeats: int = 3) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        for img in crops:
            fn(img, height, width)
    return (time.perf_counter() - start) / (repeats * len(crops)) * 1e6


def differences(fn, crops: list[np.ndarray], height: int, width: int) -> tuple[float, int]:
    """Mean and max absolute difference to the PIL resize, over every pixel of every crop."""
    diffs = [np.abs(fn(i, height, width).astype(np.int16) - pil_resize(i, height, width)) for i in crops]
    flat = np.concatenate([d.ravel() for d in diffs])
    return float(flat.mean()), int(flat.max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=20, help="synthetic train actions (about 34 crops each)")
    parser.add_argument("--workers", type=int, default=2, help="generator processes")
    args = parser.parse_args()
    crops = synthetic_crops(args.actions, args.workers)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    heights = [c.shape[0] for c in crops]
    print(
        f"resize to the input size, {len(crops)} synthetic crops {min(heights)}-{max(heights)} px high "
        f"(median {int(np.median(heights))}), one thread"
    )
    print(f"{'size':<9}{'resize':<34}{'mean |d|':>10}{'max |d|':>9}{'us/crop':>9}{'vs PIL':>8}")
    figures = {}
    for height, width in SIZES:
        anchor = microseconds(pil_resize, crops, height, width)
        rows = {}
        for name, fn in (
            ("PIL bilinear AA (eval, anchor)", pil_resize),
            ("torchvision uint8 AA (training)", resize),
            ("cv2 area/linear (training before)", cv2_resize),
        ):
            us = anchor if fn is pil_resize else microseconds(fn, crops, height, width)
            mean, worst = differences(fn, crops, height, width)
            print(f"{f'{height}x{width}':<9}{name:<34}{mean:>10.3f}{worst:>9}{us:>9.0f}{anchor / us:>7.2f}x")
            rows[name.split(" (")[0]] = {
                "mean_abs_diff": round(mean, 4),
                "max_abs_diff": worst,
                "us_per_crop": round(us, 1),
            }
        figures[f"{height}x{width}"] = rows
    print(json.dumps({"sizes": figures, "crops": len(crops)}))


if __name__ == "__main__":
    main()
