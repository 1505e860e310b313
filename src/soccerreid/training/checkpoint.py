"""Atomic training checkpoints and RNG state capture.

Checkpoint folder layout (it must survive a DVC re-run: keep it outside the stage's outs or
declare it ``persist: true``)::

    last.pt              full state after the last finished epoch (resume point)
    best-phase<i>.pt     model weights of phase i's best epoch by validation mAP

``last.pt`` carries the run's weights fingerprint (:func:`soccerreid.training.weights_fingerprint`);
the trainer resumes or re-exports only a checkpoint whose fingerprint matches.

Examples::

    save_checkpoint(folder / "last.pt", state)
    state = load_checkpoint(folder / "last.pt")
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soccerreid.io import atomic_path

FORMAT = 1
LAST = "last.pt"
BEST = "best-phase{}.pt"


def best_path(folder: str | Path, phase: int) -> Path:
    """``folder/best-phase<phase>.pt``: the weights of phase ``phase``'s best epoch."""
    return Path(folder) / BEST.format(phase)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save`` atomically (a reader sees the old or the new file).

    Saved through a file object, so the bytes depend on ``state`` only: given a path, torch names
    the zip's inner folder after it, and the temp path is random.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save({"format": FORMAT, **state}, f)


def save_weights(path: str | Path, weights: dict[str, torch.Tensor]) -> None:
    """Atomically write a model ``state_dict`` (loadable with ``torch.load(weights_only=True)``)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(weights, f)


def load_checkpoint(path: str | Path) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or None when it is missing or from another format version."""
    path = Path(path)
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    return state if state.get("format") == FORMAT else None


def capture_rng() -> dict[str, Any]:
    """RNG states of python, numpy, torch CPU and (if present) every CUDA device."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
