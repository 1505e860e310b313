"""Which of valid, test and challenge a stage's input folder holds, and reading one split of several models.

The file side of the retrieval stages (distances, fuse, rerank, score), so that
:mod:`soccerreid.retrieval` stays pure numpy: every folder holds one ``<split>.h5`` per split of
:data:`~soccerreid.vocab.EVAL_SPLITS` it has (layouts in :mod:`soccerreid.schema`).

Examples::

    split_files("artifacts/fused", what="fused distances")          # {"valid": Path(".../valid.h5"), ...}
    splits = present_splits("artifacts/distances", ("resnet50_ibn", "osnet_ain"))
    blocks, _ = read_model_blocks("artifacts/distances", ("resnet50_ibn", "osnet_ain"), "valid")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from soccerreid.errors import DataError
from soccerreid.layout import model_file, split_file
from soccerreid.retrieval.fusion import check_aligned
from soccerreid.schema import DistanceBlocks, FeatureSet, read_blocks, read_features
from soccerreid.vocab import EVAL_SPLITS


def split_files(folder: str | os.PathLike, what: str | None = None) -> dict[str, Path]:
    """``{split: folder/<split>.h5}`` for every split of :data:`EVAL_SPLITS` that ``folder`` holds, in that order.

    ``what`` names the files for the one-line :class:`DataError` raised when there are none;
    without it, no file is an empty dict.

    Examples::

        split_files("artifacts/features/osnet_ain", what="features file")   # {"valid": ..., "test": ...}
        split_files("artifacts/reranked")                                   # {} before the rerank stage
    """
    files = {split: split_file(folder, split) for split in EVAL_SPLITS}
    files = {split: path for split, path in files.items() if path.is_file()}
    if not files and what is not None:
        raise DataError(f"{folder}: no {what} for any of {', '.join(EVAL_SPLITS)} (<split>.h5)")
    return files


def present_splits(root: str | os.PathLike, models: Sequence[str]) -> list[str]:
    """The splits every model of ``models`` has under ``root`` (``<root>/<model>/<split>.h5``), valid among them.

    A split only some models have, or no valid split, is a one-line :class:`DataError`.

    Examples::

        present_splits("artifacts/distances", ("resnet50_ibn", "dinov2_lora", "osnet_ain"))   # ["valid", "test"]
    """
    root, splits = Path(root), []
    for split in EVAL_SPLITS:
        have = [model_file(root, m, split).is_file() for m in models]
        if any(have) and not all(have):
            missing = models[have.index(False)]
            raise DataError(f"{model_file(root, missing, split)}: missing, while other models have {split}")
        splits += [split] if all(have) else []
    if "valid" not in splits:
        raise DataError(f"{root}: no valid distances for {', '.join(models)}; the grid search needs <model>/valid.h5")
    return splits


def read_model_blocks(
    distances: str | os.PathLike, models: Sequence[str], split: str, features: str | os.PathLike | None = None
) -> tuple[list[DistanceBlocks], list[FeatureSet] | None]:
    """``(blocks, feature_sets)`` of every model on ``split``: one :class:`DistanceBlocks` per model from
    ``<distances>/<model>/<split>.h5``, checked to hold the same actions and rows
    (:func:`~soccerreid.retrieval.fusion.check_aligned`), and, when ``features`` is given, one
    (N, D) :class:`FeatureSet` per model from ``<features>/<model>/<split>.h5`` (else None).

    Examples::

        blocks, feature_sets = read_model_blocks("artifacts/distances", models, "test", features="artifacts/features")
    """
    paths = [model_file(distances, m, split) for m in models]
    blocks = [read_blocks(p) for p in paths]
    check_aligned(blocks, [str(p) for p in paths])
    feature_sets = [read_features(model_file(features, m, split)) for m in models] if features is not None else None
    return blocks, feature_sets
