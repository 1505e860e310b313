"""The export stage's folder: ``model.onnx``, ``model.ts`` and ``model_card.md``, checked on real crops."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from soccerreid.export._card import model_card
from soccerreid.export._formats import FORMATS, SUFFIXES, export_file
from soccerreid.features import Embedder
from soccerreid.io import write_text

CHECK_CROPS = 32


def export_model(
    embedder: Embedder, folder: str | os.PathLike, images: Sequence, name: str, crops_source: str
) -> dict[str, float]:
    """Write ``model.onnx``, ``model.ts`` and ``model_card.md`` into ``folder``; returns each format's max abs diff.

    Each file is checked against the torch model on ``images`` (described by ``crops_source`` in
    the card) before the next is written; a failed check is an :class:`~soccerreid.errors.ExportError`.

    Examples::

        with atomic_dir("artifacts/export/osnet_ain") as out:
            export_model(model, out, crops, "osnet_ain", "32 crops of data/index/valid.csv")   # {"onnx": 3e-7, ...}
    """
    folder = Path(folder)
    diffs = {fmt: export_file(embedder, fmt, folder / f"model{SUFFIXES[fmt]}", images, name) for fmt in FORMATS}
    write_text(folder / "model_card.md", model_card(name, embedder, diffs, crops_source))
    return diffs


def pick_check_crops(frame: pd.DataFrame, count: int = CHECK_CROPS) -> list[str]:
    """Paths of ``count`` crops spread evenly over an index table (queries and gallery alike).

    Examples::

        pick_check_crops(read_index("data/index", "valid"))     # 32 paths
    """
    rows = np.unique(np.linspace(0, len(frame) - 1, min(count, len(frame))).round().astype(np.int64))
    return frame["path"].iloc[rows].tolist()
