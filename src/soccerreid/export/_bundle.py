"""The export stage's folder: tracker-ready ONNX and TorchScript files with BoxMOT's sidecars, the
deployed score and the model card, each file checked on real crops; kept while what shapes it
(:func:`export_fingerprint`) holds (:func:`write_export`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from soccerreid.config.models import ExtractConfig
from soccerreid.export._boxmot import export_tracker_file, tracker_size, write_sidecar
from soccerreid.export._card import model_card
from soccerreid.export._formats import FORMATS, SUFFIXES, load_runner
from soccerreid.export._tracker import deployed_scores
from soccerreid.features import Embedder
from soccerreid.fingerprint import (
    Fingerprint,
    cached_outputs,
    code_parts,
    file_digest,
    files_digest,
    frame_digest,
    shaping_values,
    value_digest,
)
from soccerreid.io import write_json, write_text
from soccerreid.schema import FeatureSet

CHECK_CROPS = 32
TRACKER = {fmt: f"tracker{SUFFIXES[fmt]}" for fmt in FORMATS}  # BoxMOT's contract, the DAG's feature out


def export_model(
    embedder: Embedder,
    folder: str | os.PathLike,
    images: Sequence,
    name: str,
    crops_source: str,
    valid: tuple[pd.DataFrame, FeatureSet, str] | None = None,
) -> dict[str, float]:
    """Write the :data:`TRACKER` files (each with ``<file>.metadata.json``) and ``model_card.md`` into
    ``folder``; returns each file's max abs diff to the torch model. (The plain network, for a caller that
    flips and normalises itself, is :func:`~soccerreid.export._formats.export_file`: ``soccerreid export``.)
    The files take ``embedder.config.supersample`` (k, :class:`~soccerreid.config.models.ExtractConfig`)
    times the model's input size and the sidecars ask the tracker for it.

    Each file is checked against the torch model on ``images`` (described by ``crops_source`` in
    the card) before the next is written; a failed check is an :class:`~soccerreid.errors.ExportError`.
    With ``valid`` = (index table, the DAG's features of it, metric), ``tracker.onnx`` is also scored
    as a tracker computes features (:func:`~soccerreid.export._tracker.deployed_scores`), written to
    ``deployed.json`` and shown in the card beside the DAG's score.

    Examples::

        with atomic_dir("artifacts/export/osnet_ain") as out:
            export_model(model, out, crops, "osnet_ain", "32 crops of valid.csv")   # {"tracker.onnx": 3e-7, ...}
    """
    folder, supersample = Path(folder), embedder.config.supersample
    diffs = {}
    for fmt, file in TRACKER.items():
        diffs[file] = export_tracker_file(embedder, fmt, folder / file, images, name, supersample)
        write_sidecar(folder / file, embedder, name, supersample)
    deployed = None
    if valid is not None:
        run = load_runner("onnx", folder / TRACKER["onnx"])
        deployed = deployed_scores(run, *valid[:2], *tracker_size(embedder, supersample), valid[2])
        write_json(folder / "deployed.json", deployed)
    card = model_card(name, embedder, diffs, crops_source, deployed)
    write_text(folder / "model_card.md", card)
    return diffs


def export_fingerprint(
    weights: str | os.PathLike,
    cfg: ExtractConfig,
    crops: Sequence[str],
    script: str | os.PathLike,
    valid: tuple[pd.DataFrame, str | os.PathLike, str] | None = None,
) -> Fingerprint:
    """Parts: the model file's bytes; ``cfg`` (with the tracker's ``supersample``) without its
    operational fields; the check crops' bytes; with ``valid`` = (index table, the DAG's features
    file, metric), the table's rows without the path column, its crops' bytes, the features file's bytes
    and the metric (the deployed score); the code of ``script`` (the stage) and of all it runs."""
    parts = {
        "model file": file_digest(weights),
        "extract config": value_digest(shaping_values(cfg)),
        "check crops": files_digest(crops),
    }
    if valid is not None:
        frame, features, metric = valid
        parts |= {
            "valid rows": frame_digest(frame.drop(columns="path")),
            "valid crops": files_digest(frame["path"]),
            "valid features": file_digest(features),
            "metric": value_digest(metric),
        }
    return Fingerprint({**parts, **code_parts(script)})


def write_export(
    embedder: Embedder,
    out: str | os.PathLike,
    images: Sequence,
    name: str,
    crops_source: str,
    fingerprint: Fingerprint,
    valid: tuple[pd.DataFrame, FeatureSet, str] | None = None,
) -> dict[str, float] | None:
    """:func:`export_model` into ``out``, whole or not at all, stamped with ``fingerprint``
    (:func:`~soccerreid.fingerprint.cached_outputs`). Returns None, writing nothing, when ``out``
    already holds that fingerprint's export; else each file's max abs diff to the torch model."""
    with cached_outputs(fingerprint, out) as folders:
        if folders is None:
            return None
        return export_model(embedder, folders[0], images, name, crops_source, valid)


def pick_check_crops(frame: pd.DataFrame, count: int = CHECK_CROPS) -> list[str]:
    """Paths of ``count`` crops spread evenly over an index table (queries and gallery alike).

    Examples::

        pick_check_crops(read_index("data/index", "valid"))     # 32 paths
    """
    rows = np.unique(np.linspace(0, len(frame) - 1, min(count, len(frame))).round().astype(np.int64))
    return frame["path"].iloc[rows].tolist()
