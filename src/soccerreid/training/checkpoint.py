"""Atomic training checkpoints, their config fingerprint, and RNG state capture.

Checkpoint folder layout (it must survive a DVC re-run: keep it outside the stage's outs or
declare it ``persist: true``)::

    last.pt              full state after the last finished epoch (resume point)
    best-phase<i>.pt     model weights of phase i's best epoch by validation mAP

``last.pt`` carries a fingerprint of the training config and data; a checkpoint whose
fingerprint differs is ignored (training restarts from scratch and says so).

Examples::

    fp = fingerprint(cfg_dict, train_df_keys)
    save_checkpoint(folder / "last.pt", state)
    state = load_checkpoint(folder / "last.pt")
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soccerreid.io import atomic_path

FORMAT = 1


def fingerprint(config: dict, data_keys: np.ndarray) -> str:
    """sha256 of the training config (JSON, sorted keys) and of the training rows' keys.

    ``data_keys`` is any array that identifies the training data, e.g. (N,) paths and labels.
    """
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    digest.update(np.ascontiguousarray(np.asarray(data_keys).astype(str)).tobytes())
    return digest.hexdigest()


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save`` atomically (a reader sees the old or the new file)."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def save_weights(path: str | Path, weights: dict[str, torch.Tensor]) -> None:
    """Atomically write a model ``state_dict`` (loadable with ``torch.load(weights_only=True)``)."""
    with atomic_path(path) as tmp:
        torch.save(weights, tmp)


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
