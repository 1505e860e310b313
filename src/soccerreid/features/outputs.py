"""The extract stage's outputs: what shapes them (:func:`extraction_fingerprint`), and writing
them, kept while that fingerprint holds, else whole (:func:`write_extraction`).

Examples::

    fp = extraction_fingerprint("artifacts/models/osnet_ain/model.pt", model_cfg, cfg, frames, __file__)
    rates = write_extraction(embedder, frames, "osnet_ain", "artifacts/features/osnet_ain", fp)
    # None: kept, nothing written; else {split: images per second}
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import pandas as pd

from soccerreid.config.models import ExtractConfig, ModelConfig
from soccerreid.features.embedder import Embedder, extract_split
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
from soccerreid.schema import write_features

TRAINING_ONLY = (
    "train",
    "augment",
    "pretrained",
)  # fields of ModelConfig that reach features only through the model file


def extraction_fingerprint(
    weights: str | os.PathLike,
    model_cfg: ModelConfig,
    cfg: ExtractConfig,
    frames: Mapping[str, pd.DataFrame],
    script: str | os.PathLike,
) -> Fingerprint:
    """Parts: the model file's bytes; ``model_cfg`` without :data:`TRAINING_ONLY` (the network and
    mean/std); ``cfg`` without its operational fields (``workers``, ``threads``,
    ``differs_from_validation``); for each split of ``frames`` (index tables) its rows without the
    path column and the bytes of its crops; the code of ``script`` (the stage) and of all it runs.
    """
    network = {k: v for k, v in shaping_values(model_cfg).items() if k not in TRAINING_ONLY}
    parts = {
        "model file": file_digest(weights),
        "model config": value_digest(network),
        "extract config": value_digest(shaping_values(cfg)),
    }
    for split, frame in frames.items():
        parts[f"{split} rows"] = frame_digest(frame.drop(columns="path"))
        parts[f"{split} crops"] = files_digest(frame["path"])
    return Fingerprint({**parts, **code_parts(script)})


def write_extraction(
    embedder: Embedder,
    frames: Mapping[str, pd.DataFrame],
    name: str,
    out: str | os.PathLike,
    fingerprint: Fingerprint,
    device: str = "auto",
) -> dict[str, float] | None:
    """Write ``<out>/<split>.h5`` (the (N, D) float32 features of model ``name``) for every index
    table of ``frames`` (``{split: table}``) and the stamp of ``fingerprint``, whole or not at all
    (:func:`~soccerreid.fingerprint.cached_outputs`).

    Returns None, writing nothing, when ``out`` already holds that fingerprint's output; else
    ``{split: images per second}``.
    """
    with cached_outputs(fingerprint, out) as folders:
        if folders is None:
            return None
        (tmp,) = folders
        rates = {}
        for split, frame in frames.items():
            start = time.perf_counter()
            write_features(tmp / f"{split}.h5", extract_split(embedder, frame, name, split, device))
            rates[split] = len(frame) / (time.perf_counter() - start)
    return rates
