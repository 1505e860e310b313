"""Training and tracker resizes against the evaluation resize: pixel agreement and speed per crop.

The anchor is evaluation's resize, torchreid's ``FeatureExtractor`` recipe: PIL bilinear with
antialiasing (``T.Resize`` on a PIL image). Against it, on the same decoded crops of the
embedded synthetic SoccerNet (heights 30-300 px, most of them enlarged to the input size):

- ``soccerreid.training.augment.resize``: torchvision's uint8 antialiased bilinear kernel;
- cv2 ``INTER_AREA`` when shrinking, ``INTER_LINEAR`` when enlarging (the training resize before);
- cv2 ``INTER_LINEAR`` alone: what BoxMOT feeds an exported model (no antialiasing; also the
  training resize drawn with ``augment.tracker_resize``);
- that resize to 3x the input size, then torch's antialiased bilinear down to it: what an exported
  graph could do if its sidecar asked a tracker for 3x the size (a candidate fix, docs/benchmarks.md).

One thread each (a DataLoader worker's setting).

    python benchmarks/resize.py --actions 20

Prints a table (mean absolute difference to PIL in grey levels over all crops, over the crops at
least 1.5x the input's height, max absolute difference, microseconds per crop, speed against PIL)
and ends with one JSON line ``{"sizes": {"256x128": {...}}, "crops": N}``.
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

SIZES = ((256, 128), (128, 64), (96, 48))  # the real preset's; the default's osnet_ain and resnet50_ibn
SHRUNK = 1.5  # a crop this many times the input's height or more is downscaled enough to alias


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


def tracker_resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    return resize(img, height, width, tracker=True)


def supersampled_resize(img: np.ndarray, height: int, width: int, factor: int = 3) -> np.ndarray:
    """cv2 bilinear to ``factor`` x the size, then antialiased bilinear down to it, rounded to uint8."""
    big = cv2.resize(img, (width * factor, height * factor), interpolation=cv2.INTER_LINEAR)
    x = torch.from_numpy(big).permute(2, 0, 1)[None].float()
    small = torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear", antialias=True)
    return small[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def microseconds(fn, crops: list[np.ndarray], height: int, width: int, repeats: int = 3) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        for img in crops:
            fn(img, height, width)
    return (time.perf_counter() - start) / (repeats * len(crops)) * 1e6


def differences(fn, crops: list[np.ndarray], height: int, width: int) -> tuple[float, float | None, int]:
    """Mean absolute difference to the PIL resize over every pixel of every crop, the same over the
    crops at least :data:`SHRUNK` x ``height`` high (None if there are none), and the max over all."""
    diffs = [np.abs(fn(i, height, width).astype(np.int16) - pil_resize(i, height, width)) for i in crops]
    shrunk = [d for d, i in zip(diffs, crops, strict=True) if i.shape[0] >= SHRUNK * height]
    flat = np.concatenate([d.ravel() for d in diffs])
    shrunk_mean = float(np.concatenate([d.ravel() for d in shrunk]).mean()) if shrunk else None
    return float(flat.mean()), shrunk_mean, int(flat.max())


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
    print(f"{'size':<9}{'resize':<36}{'mean |d|':>10}{'shrunk':>8}{'max |d|':>9}{'us/crop':>9}{'vs PIL':>8}")
    figures = {}
    for height, width in SIZES:
        anchor = microseconds(pil_resize, crops, height, width)
        rows = {}
        for name, fn in (
            ("PIL bilinear AA (eval, anchor)", pil_resize),
            ("torchvision uint8 AA (training)", resize),
            ("cv2 area/linear (training before)", cv2_resize),
            ("cv2 bilinear (tracker)", tracker_resize),
            ("cv2 bilinear 3x, torch AA (graph)", supersampled_resize),
        ):
            us = anchor if fn is pil_resize else microseconds(fn, crops, height, width)
            mean, shrunk, worst = differences(fn, crops, height, width)
            size = f"{height}x{width}"
            shown = "-" if shrunk is None else f"{shrunk:.3f}"
            print(f"{size:<9}{name:<36}{mean:>10.3f}{shown:>8}{worst:>9}{us:>9.0f}{anchor / us:>7.2f}x")
            rows[name.split(" (")[0]] = {
                "mean_abs_diff": round(mean, 4),
                "shrunk_mean_abs_diff": None if shrunk is None else round(shrunk, 4),
                "max_abs_diff": worst,
                "us_per_crop": round(us, 1),
            }
        figures[f"{height}x{width}"] = rows
    print(json.dumps({"sizes": figures, "crops": len(crops)}))


if __name__ == "__main__":
    main()
