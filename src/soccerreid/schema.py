"""Every on-disk layout of the pipeline, in one place: read, write and validate.

Features HDF5 (one file per model and split, ``artifacts/features/<model>/<split>.h5``)
---------------------------------------------------------------------------------------
==============  ===========  =====================================================================
member          dtype        shape and meaning
==============  ===========  =====================================================================
``features``    float32      (N, D) embeddings, L2-normalised when attr ``normalized`` is true
``bbox_idx``    int64        (N,) SoccerNet bbox_idx of each crop
``action_idx``  int64        (N,) action of each crop; identities are only valid within an action
``role``        bytes (S7)   (N,) ``query``, ``gallery`` or ``train``
``person_uid``  int64        (N,) identity within the action; shape (0,) when unlabelled (challenge)
``clazz``       bytes (S32)  (N,) SoccerNet class (Player_team_left, ...); empty for challenge
attrs           str / bool   ``model``, ``split``, ``normalized``, ``schema`` (= "features/1")
==============  ===========  =====================================================================

Rows are sorted by (action_idx, role query-before-gallery, bbox_idx).

Examples::

    fs = FeatureSet(features, bbox_idx, action_idx, role, person_uid, clazz,
                    model="osnet_ain", split="valid", normalized=True)
    write_features("artifacts/features/osnet_ain/valid.h5", fs)
    fs = read_features("artifacts/features/osnet_ain/valid.h5")   # validated
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np

from soccerreid.errors import DataError
from soccerreid.io import atomic_path

FEATURES_SCHEMA = "features/1"
ROLES = ("query", "gallery", "train")


@dataclass(frozen=True)
class FeatureSet:
    """Embeddings of one model on one split, with the metadata retrieval needs.

    ``features`` (N, D) float32; ``bbox_idx``, ``action_idx`` (N,) int64; ``role`` (N,) str;
    ``person_uid`` (N,) int64 or ``None`` when unlabelled; ``clazz`` (N,) str.
    """

    features: np.ndarray
    bbox_idx: np.ndarray
    action_idx: np.ndarray
    role: np.ndarray
    person_uid: np.ndarray | None
    clazz: np.ndarray
    model: str
    split: str
    normalized: bool

    @property
    def labelled(self) -> bool:
        """True when identities are known (every split but challenge)."""
        return self.person_uid is not None

    @property
    def is_query(self) -> np.ndarray:
        """(N,) bool mask of query rows."""
        return self.role == "query"


def sort_order(action_idx: np.ndarray, role: np.ndarray, bbox_idx: np.ndarray) -> np.ndarray:
    """(N,) int64 permutation sorting rows by (action, query before gallery, bbox_idx)."""
    role_rank = np.where(np.asarray(role) == "query", 0, 1)
    return np.lexsort((np.asarray(bbox_idx), role_rank, np.asarray(action_idx))).astype(np.int64)


def write_features(path: str | os.PathLike, fs: FeatureSet) -> None:
    """Validate ``fs`` and write it atomically to ``path`` in the layout above."""
    _check_feature_set(fs, str(path))
    order = sort_order(fs.action_idx, fs.role, fs.bbox_idx)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("features", data=np.ascontiguousarray(fs.features[order], dtype=np.float32))
        f.create_dataset("bbox_idx", data=fs.bbox_idx[order].astype(np.int64))
        f.create_dataset("action_idx", data=fs.action_idx[order].astype(np.int64))
        f.create_dataset("role", data=np.asarray(fs.role)[order].astype("S7"))
        uid = np.zeros(0, np.int64) if fs.person_uid is None else fs.person_uid[order].astype(np.int64)
        f.create_dataset("person_uid", data=uid)
        f.create_dataset("clazz", data=np.asarray(fs.clazz)[order].astype("S32"))
        f.attrs.update(model=fs.model, split=fs.split, normalized=bool(fs.normalized), schema=FEATURES_SCHEMA)


def read_features(path: str | os.PathLike) -> FeatureSet:
    """Read and validate a features file; any defect is a one-line :class:`DataError` naming it."""
    path = str(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: features file not found")
    try:
        with h5py.File(path, "r") as f:
            fs = _load_feature_set(f, path)
    except OSError as err:
        raise DataError(f"{path}: not a readable HDF5 file ({err})") from None
    _check_feature_set(fs, path)
    return fs


def validate_features(path: str | os.PathLike) -> None:
    """Raise :class:`DataError` if ``path`` is not a valid features file."""
    read_features(path)


def _load_feature_set(f: h5py.File, path: str) -> FeatureSet:
    members = ("features", "bbox_idx", "action_idx", "role", "person_uid", "clazz")
    for name in members:
        if name not in f:
            raise DataError(f"{path}: missing member '{name}' (schema {FEATURES_SCHEMA})")
    for name in ("model", "split", "normalized"):
        if name not in f.attrs:
            raise DataError(f"{path}: missing attribute '{name}' (schema {FEATURES_SCHEMA})")
    if f["features"].dtype != np.float32:
        raise DataError(f"{path}: 'features' must be float32, got {f['features'].dtype}")
    uid = f["person_uid"][()]
    return FeatureSet(
        features=f["features"][()],
        bbox_idx=f["bbox_idx"][()],
        action_idx=f["action_idx"][()],
        role=f["role"][()].astype(str),
        person_uid=uid if uid.size else None,
        clazz=f["clazz"][()].astype(str),
        model=str(f.attrs["model"]),
        split=str(f.attrs["split"]),
        normalized=bool(f.attrs["normalized"]),
    )


def _check_feature_set(fs: FeatureSet, path: str) -> None:
    if fs.features.ndim != 2:
        raise DataError(f"{path}: 'features' must be 2-D (N, D), got shape {fs.features.shape}")
    n = fs.features.shape[0]
    columns = {"bbox_idx": fs.bbox_idx, "action_idx": fs.action_idx, "role": fs.role, "clazz": fs.clazz}
    if fs.person_uid is not None:
        columns["person_uid"] = fs.person_uid
    for name, column in columns.items():
        if np.shape(column) != (n,):
            raise DataError(f"{path}: '{name}' must have shape ({n},) to match 'features', got {np.shape(column)}")
    for name in ("bbox_idx", "action_idx", "person_uid"):
        column = columns.get(name)
        if column is not None and not np.issubdtype(np.asarray(column).dtype, np.integer):
            raise DataError(f"{path}: '{name}' must be integer, got {np.asarray(column).dtype}")
    bad_roles = sorted(set(np.unique(fs.role).tolist()) - set(ROLES))
    if bad_roles:
        raise DataError(f"{path}: 'role' must be one of {list(ROLES)}, got {bad_roles[0]!r}")
    if not np.isfinite(fs.features).all():
        raise DataError(f"{path}: 'features' contains NaN or inf")
