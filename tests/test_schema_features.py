"""The features HDF5 schema: round trip, and every defect a one-line DataError naming the file
(missing and unreadable files for both HDF5 layouts)."""

import h5py
import numpy as np
import pytest
from synthetic_blocks import synthetic_feature_set, synthetic_split

from soccerreid.errors import DataError
from soccerreid.schema import read_blocks, read_features, write_features


@pytest.fixture(scope="module")
def feature_set():
    split = synthetic_split(num_actions=5, num_queries=15, num_gallery=40, seed=1)
    return synthetic_feature_set(split, dim=8, noise=2.0, seed=2, model="toy")


@pytest.fixture
def path(tmp_path, feature_set):
    path = tmp_path / "valid.h5"
    write_features(path, feature_set)
    return path


def test_round_trip_keeps_every_member_and_attr(path, feature_set):
    back = read_features(path)
    for name in ("features", "bbox_idx", "action_idx", "role", "person_uid", "clazz"):
        assert np.array_equal(getattr(back, name), getattr(feature_set, name)), name
    assert back.features.dtype == np.float32
    assert (back.model, back.split, back.normalized) == (feature_set.model, feature_set.split, feature_set.normalized)


def test_query_and_gallery_share_bbox_idx_but_a_role_never_repeats_one(path, feature_set, tmp_path):
    assert set(feature_set.bbox_idx[feature_set.role == "query"]) & set(
        feature_set.bbox_idx[feature_set.role == "gallery"]
    )
    read_features(path)  # SoccerNet numbering: valid
    bbox = feature_set.bbox_idx.copy()
    gallery = np.flatnonzero(feature_set.role == "gallery")
    bbox[gallery[1]] = bbox[gallery[0]]
    _replace(path, "bbox_idx", bbox)
    with pytest.raises(
        DataError,
        match=rf"^{path}: gallery bbox_idx {bbox[gallery[0]]} appears more than once "
        r"\(a crop is keyed by role and bbox_idx\)$",
    ):
        read_features(path)


def _replace(path, name, data):
    with h5py.File(path, "a") as f:
        del f[name]
        if data is not None:
            f.create_dataset(name, data=data)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("role", None, r"missing member 'role' \(schema features/1\)"),
        ("features", np.zeros((55, 8), np.float64), "'features' must be float32, got float64"),
        ("features", np.zeros(55, np.float32), r"'features' must be 2-D \(N, D\), got shape \(55,\)"),
        (
            "bbox_idx",
            np.arange(3, dtype=np.int64),
            r"'bbox_idx' must have shape \(55,\) to match 'features', got \(3,\)",
        ),
        ("action_idx", np.zeros(55, np.float32), "'action_idx' must be integer, got float32"),
        ("role", np.array([b"probe"] * 55), "'role' must be one of \\['train', 'query', 'gallery'\\], got 'probe'"),
        ("features", np.full((55, 8), np.nan, np.float32), "'features' contains NaN or inf"),
    ],
)
def test_member_defects(path, name, data, message):
    _replace(path, name, data)
    with pytest.raises(DataError, match=f"^{path}: {message}"):
        read_features(path)


@pytest.mark.parametrize("attr", ["model", "split", "normalized", "schema"])
def test_missing_attribute(path, attr):
    with h5py.File(path, "a") as f:
        del f.attrs[attr]
    with pytest.raises(DataError, match=f"^{path}: missing attribute '{attr}'"):
        read_features(path)


def test_other_schema_version(path):
    with h5py.File(path, "a") as f:
        f.attrs["schema"] = "features/0"
    with pytest.raises(DataError, match=f"^{path}: schema is 'features/0', expected 'features/1'"):
        read_features(path)


@pytest.mark.parametrize(("read", "kind"), [(read_features, "features"), (read_blocks, "distances")])
def test_missing_and_unreadable_files(tmp_path, read, kind):
    with pytest.raises(DataError, match=f"^{tmp_path / 'none.h5'}: {kind} file not found"):
        read(tmp_path / "none.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(DataError, match=f"^{tmp_path / 'text.h5'}: not a readable HDF5 file"):
        read(tmp_path / "text.h5")
