"""Training-test helpers: a tiny learnable re-id set (PNG crops + index CSVs), params files and
a runner for the train stage.

Each identity is a person-shaped crop: a team kit shared with teammates plus its own hair,
shirt band and socks, on a random two-colour backdrop drawn anew for every image, with size,
shift, brightness and noise jitter. An untrained network's features follow the backdrop and
rank poorly; a few optimiser steps learn to look at the person.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml

from soccerreid.data.index import COLUMNS, assign_labels, write_index

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "stages" / "train.py"


def person(rng: np.random.Generator, look: dict, height: int) -> np.ndarray:
    """(height, ~height/2, 3) uint8 RGB crop of one identity's ``look`` with random jitter."""
    width = max(12, height // 2)
    img = np.empty((height, width, 3), np.float32)
    img[:] = rng.integers(0, 256, 3)  # a random backdrop per image: the nuisance to learn to ignore
    img[: height // 2] = rng.integers(0, 256, 3)
    head, top, mid, low = int(0.02 * height), int(0.18 * height), int(0.55 * height), int(0.8 * height)
    left, right = int(0.2 * width), int(0.8 * width)
    img[head:top, int(0.35 * width) : int(0.65 * width)] = look["hair"]
    img[top:mid, left:right] = look["shirt"]
    img[mid:low, left:right] = look["shorts"]
    band = top + int(look["band"] * (mid - top - height // 8))
    img[band : band + height // 8, left:right] = look["trim"]
    img[low:, left : int(0.45 * width)] = look["socks"]
    img[low:, int(0.55 * width) : right] = look["socks"]
    img *= rng.uniform(0.8, 1.2)
    img += rng.normal(0, 25, img.shape)
    return np.clip(np.roll(img, int(rng.integers(-2, 3)), axis=1), 0, 255).astype(np.uint8)


def make_split(
    folder: Path, split: str, actions: range, ids_per_action: int, images: tuple, seed: int, teams: bool = True
) -> pd.DataFrame:
    """Write one split's crops under ``folder`` and return its index frame (columns ``COLUMNS``).

    Each action has two teams: teammates share shirt and shorts colours and differ only by
    hair, a band across the shirt (colour and height) and socks, the way kits make SoccerNet hard.
    ``teams=False`` gives every identity its own kit (an easier set that trains in a few steps).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for action in actions:
        kits = [
            {k: rng.integers(0, 256, 3) for k in ("shirt", "shorts")} for _ in range(2 if teams else ids_per_action)
        ]
        for uid in range(ids_per_action):
            look = {k: rng.integers(0, 256, 3) for k in ("hair", "trim", "socks")}
            look.update(kits[uid % len(kits)], band=rng.uniform())
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
        "path": str(path),
        "split": split,
        "role": role,
        "bbox_idx": bbox,
        "action_idx": action,
        "person_uid": uid,
        "frame_idx": frame,
        "clazz": "Player_team_left",
        "jersey": "None",
        "uai": "x",
        "height": height,
        "width": img.shape[1],
        "game": "g",
    }


def write_tiny_set(root: Path, train_actions: int = 6, valid_actions: int = 3, ids_per_action: int = 6) -> Path:
    """Crops under ``root`` and ``root/index/{train,valid}.csv``; returns the index folder."""
    index = root / "index"
    train = make_split(root, "train", range(train_actions), ids_per_action, (1, 3), seed=1)
    valid = make_split(root, "valid", range(100, 100 + valid_actions), ids_per_action, (3, 4), seed=2)
    write_index(train, index, "train")
    write_index(valid, index, "valid")
    return index


def write_params(folder: Path, model: dict, name: str = "tiny") -> Path:
    """A copy of the repo's params.yaml whose only model is ``model`` (a ``models.<name>`` mapping)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["models"] = {name: model}
    last = model["train"]["phases"][-1]  # extraction embeds as the final phase's validation did
    params["extract"] = {name: {"height": last.get("height", 256), "width": last.get("width", 128)}}
    params["fusion"].update(models=[name], weights=[1.0])
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def stage_command(
    params: Path, index: Path, out: Path, name: str = "tiny", launcher: tuple = (sys.executable,)
) -> list:
    """The train stage's command line with every output under ``out``."""
    return [
        *launcher,
        str(STAGE),
        "--params",
        str(params),
        "--model",
        name,
        "--index",
        str(index),
        "--out",
        str(out / "model"),
        "--checkpoints",
        str(out / "checkpoints"),
        "--live",
        str(out / "live"),
        "--device",
        "cpu",
        "--no-progress",
    ]


def stage_env() -> dict:
    """Environment of a stage subprocess: offline hubs, quiet warnings, 1 torch thread per process."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return env


def run_stage(command: list, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a stage command to completion; fail the test with its stderr if it fails."""
    done = subprocess.run(command, cwd=cwd, env=stage_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done
