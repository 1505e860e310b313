"""What shapes extract@<model>'s features, as a :class:`soccerreid.fingerprint.Fingerprint`.

Examples::

    fp = extraction_fingerprint("artifacts/models/osnet_ain/model.pt", model_cfg, cfg, frames, __file__)
    if is_current("artifacts/features/osnet_ain", fp):
        ...                                  # nothing to extract
"""

from __future__ import annotations

import os

import pandas as pd

from soccerreid.config.models import ExtractConfig, ModelConfig
from soccerreid.fingerprint import (
    Fingerprint,
    code_parts,
    file_digest,
    files_digest,
    frame_digest,
    shaping_values,
    value_digest,
)

TRAINING_ONLY = (
    "train",
    "augment",
    "pretrained",
)  # fields of ModelConfig that reach features only through the model file


def extraction_fingerprint(
    weights: str | os.PathLike,
    model_cfg: ModelConfig,
    cfg: ExtractConfig,
    frames: dict[str, pd.DataFrame],
    script: str | os.PathLike,
) -> Fingerprint:
    """Parts: the model file's bytes; ``model_cfg`` without :data:`TRAINING_ONLY` (the network and
    mean/std); ``cfg`` without its operational fields (``workers``, ``threads``, ``differs_from_validation``); for each split of ``frames`` (index
    tables) its rows without the path column and the bytes of its crops; the code of ``script``
    (the stage) and of all it runs.
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
