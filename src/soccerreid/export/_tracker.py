"""Features as a tracker computes them from an exported file, and their score under the SoccerNet protocol.

A tracker (BoxMOT 25) crops the box from the BGR frame, resizes it with ``cv2.resize``
(``INTER_LINEAR``, no antialiasing), converts to RGB, scales to [0, 1], normalises with ImageNet's
mean/std, runs the graph, takes its first output and L2-normalises each row (non-finite values set
to 0). :func:`tracker_features` does exactly that (a test checks it equal to BoxMOT's own encoder),
so the DAG can score what a tracker deploys without BoxMOT in its environment.

Examples::

    run = load_runner("onnx", "artifacts/export/osnet_ain/tracker.onnx")
    feats = tracker_features(run, [read_bgr(p) for p in paths], height=128, width=64)   # (N, D) float32
    deployed_scores(run, read_index("data/index", "valid"), dag, 128, 64)             # {"mAP", "rank1", ...}
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace

import cv2
import numpy as np
import pandas as pd

from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD
from soccerreid.errors import DataError
from soccerreid.evaluation import score_blocks
from soccerreid.retrieval import features_to_blocks
from soccerreid.schema import FeatureSet

BATCH = 64
SPREAD_ROWS = 1000  # evenly spaced DAG rows whose pairwise cosines give the spread of a deployed score


def read_bgr(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 BGR crop, as a tracker holds it (``cv2.imread``); an unreadable file is a DataError."""
    image = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"{path}: not a readable image")
    return image


def tracker_batch(crops: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """(N, 3, height, width) float32 from (h, w, 3) uint8 BGR crops: cv2 bilinear resize, RGB, /255, ImageNet."""
    mean = np.asarray(IMAGENET_MEAN, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(IMAGENET_STD, np.float32).reshape(1, 3, 1, 1)
    rgb = [
        cv2.cvtColor(cv2.resize(c, (width, height), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB) for c in crops
    ]
    x = np.stack(rgb).transpose(0, 3, 1, 2).astype(np.float32)
    return np.ascontiguousarray((x / np.float32(255.0) - mean) / std)


def tracker_features(
    run: Callable[[np.ndarray], np.ndarray], crops: Sequence[np.ndarray], height: int, width: int
) -> np.ndarray:
    """(N, D) float32 features of BGR ``crops`` through ``run`` (see :func:`~soccerreid.export.load_runner`)
    with a tracker's preprocessing, non-finite values set to 0, each row L2-normalised."""
    chunks = [run(tracker_batch(crops[i : i + BATCH], height, width)) for i in range(0, len(crops), BATCH)]
    features = np.concatenate(chunks).reshape(len(crops), -1)
    features = np.where(np.isfinite(features), features, 0.0)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.where(norms > 1e-12, norms, 1.0)).astype(np.float32)


def deployed_features(
    run: Callable[[np.ndarray], np.ndarray], frame: pd.DataFrame, dag: FeatureSet, height: int, width: int
) -> FeatureSet:
    """The DAG's :class:`FeatureSet` ``dag`` of an index table's crops, with every row replaced by
    the tracker's feature of the same crop (rows matched by (role, bbox_idx))."""
    paths = frame.set_index(["role", "bbox_idx"])["path"]
    keys = list(zip(dag.role.tolist(), dag.bbox_idx.tolist(), strict=True))
    missing = [key for key in keys if key not in paths.index]
    if missing:
        raise DataError(
            f"{dag.model}/{dag.split}: {len(missing)} feature rows have no crop in the index, first {missing[0]}"
        )
    features = tracker_features(run, [read_bgr(paths[key]) for key in keys], height, width)
    return replace(dag, features=features, normalized=True)


def deployed_scores(
    run: Callable[[np.ndarray], np.ndarray],
    frame: pd.DataFrame,
    dag: FeatureSet,
    height: int,
    width: int,
    metric: str = "cosine",
) -> dict:
    """Scores of the DAG's features and of the tracker's on the same crops, by the score stage's scorer.

    Returns ``{"dag": section, "deployed": section, "cosine_mean", "cosine_min", "cosine_between_crops",
    "crops"}``, each section as :func:`~soccerreid.evaluation.score_blocks` (``classes=True``) (``mAP``,
    ``rank1``, ...); the cosines compare each crop's deployed feature with its DAG feature, and
    ``cosine_between_crops`` (:func:`mean_pair_cosine` of the DAG's features) is the scale to read them
    against: how close two different crops' features already are.
    """
    deployed = deployed_features(run, frame, dag, height, width)
    reference = dag.features / np.maximum(np.linalg.norm(dag.features, axis=1, keepdims=True), 1e-12)
    cosine = (deployed.features * reference).sum(axis=1)
    return {
        "dag": score_blocks(features_to_blocks(dag, metric), classes=True),
        "deployed": score_blocks(features_to_blocks(deployed, metric), classes=True),
        "cosine_mean": float(cosine.mean()),
        "cosine_min": float(cosine.min()),
        "cosine_between_crops": mean_pair_cosine(reference),
        "crops": len(cosine),
    }


def mean_pair_cosine(features: np.ndarray, rows: int = SPREAD_ROWS) -> float | None:
    """Mean cosine between two different rows of (N, D) ``features``, over at most ``rows`` evenly spaced
    rows (every pair of them); None for fewer than two rows.

    Examples::

        mean_pair_cosine(np.eye(3))                          # 0.0: orthogonal rows
        mean_pair_cosine(np.array([[1, 0], [0, 1], [2, 0]]))  # 1/3: one pair of three points the same way
    """
    if len(features) < 2:
        return None
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    picked = unit[np.unique(np.linspace(0, len(unit) - 1, min(rows, len(unit))).round().astype(int))]
    pairs = picked @ picked.T
    count = len(picked)
    return float((pairs.sum() - np.trace(pairs)) / (count * (count - 1)))
