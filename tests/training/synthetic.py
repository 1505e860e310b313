"""A tiny learnable re-id set for training tests: PNG crops plus train/valid index CSVs.

Each identity is a person-shaped crop with its own shirt and shorts colours and a stripe; its
images differ by size, shift and noise. Teammates share nothing, so a few optimiser steps
separate identities, while an untrained network (random weights) ranks them poorly.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from soccerreid.data.index import COLUMNS, assign_labels, write_index


def person(rng: np.random.Generator, look: dict, height: int) -> np.ndarray:
    """(height, ~height/2, 3) uint8 RGB crop of one identity's ``look`` with random jitter."""
    width = max(12, height // 2)
    img = np.full((height, width, 3), look["grass"], np.float32)
    top, mid, low = int(0.15 * height), int(0.55 * height), int(0.8 * height)
    left, right = int(0.2 * width), int(0.8 * width)
    img[top:mid, left:right] = look["shirt"]
    img[mid:low, left:right] = look["shorts"]
    stripe = top + int(look["stripe"] * (mid - top - 2))
    img[stripe : stripe + max(1, height // 20), left:right] = look["trim"]
    img += rng.normal(0, 8, img.shape)
    shift = int(rng.integers(-2, 3))
    return np.clip(np.roll(img, shift, axis=1), 0, 255).astype(np.uint8)


def make_split(folder: Path, split: str, actions: range, ids_per_action: int, images: tuple, seed: int) -> pd.DataFrame:
    """Write one split's crops under ``folder`` and return its index frame (columns ``COLUMNS``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for action in actions:
        for uid in range(ids_per_action):
            look = {k: rng.integers(0, 256, 3) for k in ("shirt", "shorts", "trim")}
            look.update(grass=np.array([40, 120, 40]), stripe=rng.uniform())
            count = int(rng.integers(images[0], images[1] + 1))
            for frame in range(count):
                rows.append(_write_crop(folder, split, rng, look, action, uid, frame, len(rows)))
    frame = pd.DataFrame(rows)
    frame["label"] = assign_labels(frame) if split == "train" else -1
    return frame[list(COLUMNS)]


def _write_crop(folder, split, rng, look, action, uid, frame, bbox) -> dict:
    height = int(rng.integers(40, 97))
    img = person(rng, look, height)
    path = folder / split / f"{bbox}-{action}-{uid}-{frame}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img[:, :, ::-1])
    role = "train" if split == "train" else ("query" if frame == 0 else "gallery")
    return {
        "path": str(path), "split": split, "role": role, "bbox_idx": bbox, "action_idx": action,
        "person_uid": uid, "frame_idx": frame, "clazz": "Player_team_left", "jersey": "None",
        "uai": "x", "height": height, "width": img.shape[1], "game": "g",
    }  # fmt: skip


def write_tiny_set(root: Path, train_actions: int = 6, valid_actions: int = 3, ids_per_action: int = 6) -> Path:
    """Crops under ``root`` and ``root/index/{train,valid}.csv``; returns the index folder."""
    index = root / "index"
    train = make_split(root, "train", range(train_actions), ids_per_action, (1, 3), seed=1)
    valid = make_split(root, "valid", range(100, 100 + valid_actions), ids_per_action, (3, 4), seed=2)
    write_index(train, index, "train")
    write_index(valid, index, "valid")
    return index
