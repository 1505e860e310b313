"""Every on-disk layout of the pipeline, in one place: read, write and validate.

Features HDF5 (one file per model and split, ``artifacts/features/<model>/<split>.h5``)
---------------------------------------------------------------------------------------
==============  ===========  =====================================================================
member          dtype        shape and meaning
==============  ===========  =====================================================================
``features``    float32      (N, D) embeddings, L2-normalised when attr ``normalized`` is true
``bbox_idx``    int64        (N,) SoccerNet bbox_idx: position in its role's list; (role, bbox_idx) is unique
``action_idx``  int64        (N,) action of each crop; identities are only valid within an action
``role``        bytes (S7)   (N,) ``query``, ``gallery`` or ``train``
``person_uid``  int64        (N,) identity within the action; shape (0,) when unlabelled (challenge)
``clazz``       bytes (S32)  (N,) SoccerNet class (Player_team_left, ...); empty for challenge
``path``        str (utf-8)  (N,) optional: the image each row was embedded from (``soccerreid embed``)
attrs           str / bool   ``model``, ``split``, ``normalized``, ``schema`` (= "features/1"), and
                             ``embedder``: ``<arch>/<variant>@<weights id>`` of the model file that
                             embedded the rows ('' when unknown); rows of two ids never mix
==============  ===========  =====================================================================

Rows are sorted by (action_idx, role query-before-gallery, bbox_idx).

Distance blocks HDF5 (``artifacts/distances/<model>/<split>.h5``, ``artifacts/fused/...``,
``artifacts/reranked/...``): one square block per action; see :class:`DistanceBlocks` and the
table above ``DISTANCES_SCHEMA`` below.

Examples::

    fs = FeatureSet(features, bbox_idx, action_idx, role, person_uid, clazz,
                    model="osnet_ain", split="valid", normalized=True)
    write_features("artifacts/features/osnet_ain/valid.h5", fs)
    fs = read_features("artifacts/features/osnet_ain/valid.h5")   # validated
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import h5py
import numpy as np

from soccerreid.errors import DataError
from soccerreid.io import atomic_path
from soccerreid.vocab import ROLES

FEATURES_SCHEMA = "features/1"


@dataclass(frozen=True)
class FeatureSet:
    """Embeddings of one model on one split, with the metadata retrieval needs.

    ``features`` (N, D) float32; ``bbox_idx``, ``action_idx`` (N,) int64; ``role`` (N,) str;
    ``person_uid`` (N,) int64 or ``None`` when unlabelled; ``clazz`` (N,) str; ``embedder`` the
    model file's :attr:`~soccerreid.models.ModelInfo.weights_id`; ``path`` (N,) str or ``None``.
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
    embedder: str = ""
    path: np.ndarray | None = None

    @property
    def labelled(self) -> bool:
        """True when identities are known (every split but challenge)."""
        return self.person_uid is not None

    @property
    def is_query(self) -> np.ndarray:
        """(N,) bool mask of query rows."""
        return self.role == "query"

    def take(self, rows: np.ndarray) -> FeatureSet:
        """The same set restricted to ``rows`` (int64 indices or a bool mask), in that order."""

        def pick(column):
            return None if column is None else column[rows]

        return replace(
            self,
            features=self.features[rows],
            bbox_idx=self.bbox_idx[rows],
            action_idx=self.action_idx[rows],
            role=self.role[rows],
            person_uid=pick(self.person_uid),
            clazz=self.clazz[rows],
            path=pick(self.path),
        )


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
        if fs.path is not None:
            f.create_dataset("path", data=np.asarray(fs.path, dtype=object)[order], dtype=h5py.string_dtype())
        f.attrs.update(
            model=fs.model, split=fs.split, normalized=bool(fs.normalized), schema=FEATURES_SCHEMA, embedder=fs.embedder
        )


def _decode(strings: np.ndarray) -> np.ndarray:
    """(N,) fixed-width bytes -> (N,) str, as ``astype(str)`` does; ASCII is widened in one vectorised
    step (numpy's own bytes-to-str conversion was most of the time of reading a blocks file)."""
    width = strings.dtype.itemsize
    codes = strings.view(np.uint8).reshape(len(strings), width) if width else np.zeros((len(strings), 0), np.uint8)
    if not width or codes.max(initial=0) >= 128:
        return strings.astype(str)
    return np.ascontiguousarray(codes.astype(np.uint32)).view(f"<U{width}").reshape(len(strings))


def _read_h5(path: str | os.PathLike, kind: str, load, check):
    """``load(file, path)`` then ``check(result, path)``; a missing or unreadable file is a DataError."""
    path = str(path)
    if not os.path.isfile(path):
        raise DataError(f"{path}: {kind} file not found")
    try:
        with h5py.File(path, "r") as f:
            result = load(f, path)
    except OSError as err:
        raise DataError(f"{path}: not a readable HDF5 file ({err})") from None
    check(result, path)
    return result


def read_features(path: str | os.PathLike) -> FeatureSet:
    """Read and validate a features file; any defect is a one-line :class:`DataError` naming it."""
    return _read_h5(path, "features", _load_feature_set, _check_feature_set)


def _load_feature_set(f: h5py.File, path: str) -> FeatureSet:
    members = ("features", "bbox_idx", "action_idx", "role", "person_uid", "clazz")
    for name in members:
        if name not in f:
            raise DataError(f"{path}: missing member '{name}' (schema {FEATURES_SCHEMA})")
    for name in ("model", "split", "normalized", "schema"):
        if name not in f.attrs:
            raise DataError(f"{path}: missing attribute '{name}' (schema {FEATURES_SCHEMA})")
    if str(f.attrs["schema"]) != FEATURES_SCHEMA:
        raise DataError(f"{path}: schema is {f.attrs['schema']!r}, expected {FEATURES_SCHEMA!r}")
    if f["features"].dtype != np.float32:
        raise DataError(f"{path}: 'features' must be float32, got {f['features'].dtype}")
    uid = f["person_uid"][()]
    return FeatureSet(
        features=f["features"][()],
        bbox_idx=f["bbox_idx"][()],
        action_idx=f["action_idx"][()],
        role=_decode(f["role"][()]),
        person_uid=uid if uid.size else None,
        clazz=_decode(f["clazz"][()]),
        model=str(f.attrs["model"]),
        split=str(f.attrs["split"]),
        normalized=bool(f.attrs["normalized"]),
        embedder=str(f.attrs.get("embedder", "")),
        path=f["path"].asstr()[()].astype(str) if "path" in f else None,
    )


def _check_feature_set(fs: FeatureSet, path: str) -> None:
    if fs.features.ndim != 2:
        raise DataError(f"{path}: 'features' must be 2-D (N, D), got shape {fs.features.shape}")
    n = fs.features.shape[0]
    columns = {"bbox_idx": fs.bbox_idx, "action_idx": fs.action_idx, "role": fs.role, "clazz": fs.clazz}
    if fs.person_uid is not None:
        columns["person_uid"] = fs.person_uid
    if fs.path is not None:
        columns["path"] = fs.path
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
    _check_unique_keys(fs, path)
    if not np.isfinite(fs.features).all():
        raise DataError(f"{path}: 'features' contains NaN or inf")


def _check_unique_keys(fs: FeatureSet, path: str) -> None:
    """A crop is keyed by (role, bbox_idx): query and gallery indices overlap, pairs may not."""
    keys = np.rec.fromarrays([np.asarray(fs.role).astype(str), np.asarray(fs.bbox_idx)])
    unique, counts = np.unique(keys, return_counts=True)
    if (counts > 1).any():
        role, bbox = unique[np.argmax(counts > 1)]
        raise DataError(f"{path}: {role} bbox_idx {bbox} appears more than once (a crop is keyed by role and bbox_idx)")


# --------------------------------------------------------------------------------------------
# Distance blocks HDF5 (``artifacts/distances/<model>/<split>.h5``, ``artifacts/fused/<split>.h5``,
# ``artifacts/reranked/<split>.h5``): one square block per action over its query+gallery set.
#
# ================  ===========  ============================================================
# member            dtype        shape and meaning
# ================  ===========  ============================================================
# ``values``        float32      (sum_a n_a**2,) the blocks, concatenated, each row-major
# ``offsets``       int64        (A+1,) block a is ``values[offsets[a]:offsets[a+1]]``
# ``action_idx``    int64        (A,) action of each block, ascending
# ``n_query``       int64        (A,) queries of the action; members 0..n_query-1 of the block
# ``n_gallery``     int64        (A,) gallery of the action; the block's last n_gallery members
# ``bbox_idx``      int64        (M,) members of every block in order, M = sum_a n_a
# ``person_uid``    int64        (M,) identity within the action; shape (0,) when unlabelled
# ``clazz``         bytes (S32)  (M,) SoccerNet class of each member; empty for challenge
# attrs             str          ``split``, ``metric``, ``source``, ``schema`` (= "distances/1")
# ================  ===========  ============================================================
#
# n_a = n_query[a] + n_gallery[a]; block a, entry (i, j) is the distance from member i to member j
# of that action, so its top-right (n_query, n_gallery) corner is the action's query-gallery
# distance. Member rows follow the features file order (query before gallery, then bbox_idx).
# ``source`` names what produced the values (a model name, ``fusion:<method>`` or
# ``rerank:<k1>/<k2>/<lambda>``). No query x gallery matrix over the whole split exists.
# --------------------------------------------------------------------------------------------

DISTANCES_SCHEMA = "distances/1"


@dataclass(frozen=True)
class DistanceBlocks:
    """Per-action distance blocks of one split, in the layout above.

    ``values`` (sum n_a**2,) float32; ``offsets`` (A+1,) int64; ``action_idx``, ``n_query``,
    ``n_gallery`` (A,) int64; ``bbox_idx`` (M,) int64; ``person_uid`` (M,) int64 or ``None``;
    ``clazz`` (M,) str.

    Examples::

        blocks.block(0)                 # (n_0, n_0) float32 view of the first action
        blocks.query_gallery(0)         # its (n_query, n_gallery) corner
    """

    values: np.ndarray
    offsets: np.ndarray
    action_idx: np.ndarray
    n_query: np.ndarray
    n_gallery: np.ndarray
    bbox_idx: np.ndarray
    person_uid: np.ndarray | None
    clazz: np.ndarray
    split: str
    metric: str
    source: str

    @property
    def sizes(self) -> np.ndarray:
        """(A,) int64 members per action, n_query + n_gallery."""
        return self.n_query + self.n_gallery

    @property
    def member_offsets(self) -> np.ndarray:
        """(A+1,) int64: members of action a are rows ``member_offsets[a]:member_offsets[a+1]``."""
        return np.concatenate(([0], np.cumsum(self.sizes))).astype(np.int64)

    @property
    def labelled(self) -> bool:
        """True when identities are known."""
        return self.person_uid is not None

    def block(self, a: int) -> np.ndarray:
        """(n_a, n_a) float32 block of the a-th action (a view)."""
        n = int(self.sizes[a])
        return self.values[self.offsets[a] : self.offsets[a + 1]].reshape(n, n)

    def query_gallery(self, a: int) -> np.ndarray:
        """(n_query, n_gallery) float32 query-gallery distances of the a-th action."""
        nq = int(self.n_query[a])
        return self.block(a)[:nq, nq:]

    def with_values(self, values: np.ndarray, source: str) -> DistanceBlocks:
        """The same members and layout with new ``values`` (same shape) from ``source``."""
        return replace(self, values=np.ascontiguousarray(values, dtype=np.float32), source=source)


def write_blocks(path: str | os.PathLike, blocks: DistanceBlocks) -> None:
    """Validate ``blocks`` and write them atomically to ``path`` in the layout above."""
    _check_blocks(blocks, str(path))
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for name in ("values", "offsets", "action_idx", "n_query", "n_gallery", "bbox_idx"):
            f.create_dataset(name, data=getattr(blocks, name))
        uid = np.zeros(0, np.int64) if blocks.person_uid is None else blocks.person_uid.astype(np.int64)
        f.create_dataset("person_uid", data=uid)
        f.create_dataset("clazz", data=np.asarray(blocks.clazz).astype("S32"))
        f.attrs.update(split=blocks.split, metric=blocks.metric, source=blocks.source, schema=DISTANCES_SCHEMA)


def read_blocks(path: str | os.PathLike) -> DistanceBlocks:
    """Read and validate a distance-blocks file; any defect is a one-line :class:`DataError` naming it."""
    return _read_h5(path, "distances", _load_blocks, _check_blocks)


_BLOCK_DTYPES = {
    "values": np.float32,
    "offsets": np.int64,
    "action_idx": np.int64,
    "n_query": np.int64,
    "n_gallery": np.int64,
    "bbox_idx": np.int64,
    "person_uid": np.int64,
}


def _load_blocks(f: h5py.File, path: str) -> DistanceBlocks:
    for name in (*_BLOCK_DTYPES, "clazz"):
        if name not in f:
            raise DataError(f"{path}: missing member '{name}' (schema {DISTANCES_SCHEMA})")
    for name in ("split", "metric", "source", "schema"):
        if name not in f.attrs:
            raise DataError(f"{path}: missing attribute '{name}' (schema {DISTANCES_SCHEMA})")
    if str(f.attrs["schema"]) != DISTANCES_SCHEMA:
        raise DataError(f"{path}: schema is {f.attrs['schema']!r}, expected {DISTANCES_SCHEMA!r}")
    for name, dtype in _BLOCK_DTYPES.items():
        if f[name].dtype != dtype:
            raise DataError(f"{path}: '{name}' must be {np.dtype(dtype)}, got {f[name].dtype}")
    arrays = {name: f[name][()] for name in _BLOCK_DTYPES}
    uid = arrays.pop("person_uid")
    return DistanceBlocks(
        **arrays,
        person_uid=uid if uid.size else None,
        clazz=_decode(f["clazz"][()]),
        split=str(f.attrs["split"]),
        metric=str(f.attrs["metric"]),
        source=str(f.attrs["source"]),
    )


def _check_blocks(blocks: DistanceBlocks, path: str) -> None:
    num_actions = blocks.action_idx.shape[0]
    for name in ("action_idx", "n_query", "n_gallery"):
        if getattr(blocks, name).shape != (num_actions,):
            raise DataError(f"{path}: '{name}' must have shape ({num_actions},), got {getattr(blocks, name).shape}")
    if np.any(blocks.n_query < 1) or np.any(blocks.n_gallery < 1):
        raise DataError(f"{path}: every action needs at least one query and one gallery member")
    if np.any(np.diff(blocks.action_idx) <= 0):
        raise DataError(f"{path}: 'action_idx' must be strictly increasing")
    expected = np.concatenate(([0], np.cumsum(blocks.sizes**2)))
    if blocks.offsets.shape != expected.shape or np.any(blocks.offsets != expected):
        raise DataError(f"{path}: 'offsets' must be the running sum of (n_query + n_gallery)**2")
    if blocks.values.shape != (expected[-1],):
        raise DataError(f"{path}: 'values' must have shape ({expected[-1]},), got {blocks.values.shape}")
    _check_members(blocks, path)
    if not np.isfinite(blocks.values).all():
        raise DataError(f"{path}: 'values' contains NaN or inf")


def _check_members(blocks: DistanceBlocks, path: str) -> None:
    num_members = int(blocks.sizes.sum())
    columns = {"bbox_idx": blocks.bbox_idx, "clazz": blocks.clazz}
    if blocks.person_uid is not None:
        columns["person_uid"] = blocks.person_uid
    for name, column in columns.items():
        if np.shape(column) != (num_members,):
            raise DataError(f"{path}: '{name}' must have shape ({num_members},), got {np.shape(column)}")
