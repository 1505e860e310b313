"""Training input pipeline throughput (decode + augment, no model) against a plain torchvision one.

Both pipelines read the same synthetic PNG crops (heights 30-300 px, like SoccerNet's) and
produce normalised float (B, 3, H, W) batches with flip, pad+crop, color jitter and random
erasing. Ours: cv2 decode + uint8 augmentation (LUT jitter, in-place erasing) in DataLoader
workers, PK batches of uint8, one batched normalise (:func:`soccerreid.training.augment.to_float`)
in the main process. The anchor:
PIL decode + a torchvision ``transforms`` chain per sample, in the same number of workers.

    python benchmarks/input_pipeline.py --images 3000 --workers 2

Prints a table (images/s, ratio to the anchor) and ends with one JSON line:
``{"images_per_s", "anchor_images_per_s", "speedup", ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD, AugmentConfig, TrainConfig
from soccerreid.cpu import thread_budget, use_cpu_threads
from soccerreid.training.augment import to_float
from soccerreid.training.data import make_train_loader


def write_crops(folder: Path, n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``n`` textured PNG crops of random size; returns paths, identity labels, action ids."""
    rng = np.random.default_rng(seed)
    paths, labels = [], rng.integers(0, n // 3, n)
    for i in range(n):
        h = int(rng.integers(30, 301))
        w = max(12, int(h * rng.uniform(0.35, 0.55)))
        img = np.full((h, w, 3), rng.integers(0, 256, 3), np.uint8)
        img[h // 2 :] = rng.integers(0, 256, 3)
        noise = rng.normal(0, 12, (h, w, 3))
        img = np.clip(img + noise, 0, 255).astype(np.uint8)
        path = folder / f"{i}.png"
        cv2.imwrite(str(path), img)
        paths.append(str(path))
    return paths, labels, labels // 8


class TorchvisionCrops(Dataset):
    """The anchor: PIL decode + torchvision transforms, one sample at a time."""

    def __init__(self, paths: list[str], height: int, width: int, aug: AugmentConfig) -> None:
        self.paths = paths
        self.transform = T.Compose(
            [
                T.Resize((height, width)),
                T.RandomHorizontalFlip(aug.flip),
                T.Pad(aug.pad),
                T.RandomCrop((height, width)),
                T.ColorJitter(aug.color_jitter, aug.color_jitter, aug.color_jitter),
                T.ToTensor(),
                T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
                T.RandomErasing(aug.random_erasing),
            ]
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(Image.open(self.paths[i]).convert("RGB"))


def time_loader(batches, finish=lambda b: b) -> tuple[float, float]:
    """(images/s, this process's CPU microseconds per image) over all batches but the first
    (worker start-up excluded). With no workers the CPU time is all the pipeline's work, and it
    does not depend on what else runs on the machine."""
    count, start = 0, None
    for batch in batches:
        x = finish(batch)
        if start is None:
            start, cpu = time.perf_counter(), time.process_time()
            continue
        count += len(x)
    return count / (time.perf_counter() - start), (time.process_time() - cpu) / count * 1e6


def run_ours(paths, labels, actions, height, width, aug, workers, threads=0) -> tuple[float, float]:
    """Our loader with the trainer's thread budget (``threads`` 0: the cores the workers leave), cv2 one thread."""
    use_cpu_threads(thread_budget(threads, workers))
    train = TrainConfig(workers=workers, ids_per_batch=16, images_per_id=4, ids_per_action=4)
    loader = make_train_loader(paths, labels, actions, height, width, aug, train, seed=0)
    return time_loader(loader, lambda b: to_float(b[0], IMAGENET_MEAN, IMAGENET_STD))


def run_anchor(paths, height, width, aug, workers) -> tuple[float, float]:
    loader = DataLoader(TorchvisionCrops(paths, height, width, aug), batch_size=64, shuffle=True, num_workers=workers)
    return time_loader(loader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    args = parser.parse_args()
    torch.manual_seed(0)
    aug = AugmentConfig()
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        paths, labels, actions = write_crops(Path(tmp), args.images, seed=0)
        anchor, _ = run_anchor(paths, args.height, args.width, aug, args.workers)
        ours, _ = run_ours(paths, labels, actions, args.height, args.width, aug, args.workers)
        ours_w0, cpu_w0 = run_ours(paths, labels, actions, args.height, args.width, aug, 0, threads=1)
    load.append(os.getloadavg()[0])
    rows = [
        ("torchvision PIL (anchor)", args.workers, anchor),
        ("soccerreid cv2 + batched", args.workers, ours),
        ("soccerreid, 1 thread", 0, ours_w0),
    ]
    print(
        f"input pipeline at {args.height}x{args.width}, {args.images} PNG crops, "
        f"our torch threads {thread_budget(0, args.workers)}, "
        f"1-min load average {load[0]:.2f} -> {load[1]:.2f} on {os.cpu_count()} cores"
    )
    print(f"{'pipeline':<28}{'workers':>8}{'images/s':>11}{'vs anchor':>11}")
    for name, workers, rate in rows:
        print(f"{name:<28}{workers:>8}{rate:>11.0f}{rate / anchor:>10.2f}x")
    print(
        f"soccerreid in the main process: {cpu_w0:.0f} CPU us per image (one thread: little affected by load; "
        f"{args.workers} workers on {args.workers} free cores reach at most about "
        f"{args.workers * 1e6 / cpu_w0:.0f} images/s)"
    )
    figures = {
        "images_per_s": round(ours, 1),
        "anchor_images_per_s": round(anchor, 1),
        "speedup": round(ours / anchor, 2),
        "images_per_s_no_workers": round(ours_w0, 1),
        "cpu_us_per_image_no_workers": round(cpu_w0, 1),
        "workers": args.workers,
        "size": [args.height, args.width],
        "images": args.images,
        "load_1min": load,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
