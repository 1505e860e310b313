"""Per-action distance blocks: values, layout, and the distances HDF5 schema."""

import h5py
import numpy as np
import pytest
import torch
from synthetic_blocks import synthetic_feature_set, synthetic_split
from torchreid.reid.metrics import compute_distance_matrix

from soccerreid.errors import DataError
from soccerreid.retrieval import features_to_blocks
from soccerreid.schema import FeatureSet, read_blocks, write_blocks


@pytest.fixture(scope="module")
def feature_set():
    split = synthetic_split(num_actions=12, num_queries=60, num_gallery=200, seed=4)
    return synthetic_feature_set(split, dim=20, noise=3.0, seed=5, model="toy")


def shuffled(fs, seed=0):
    perm = np.random.default_rng(seed).permutation(len(fs.features))
    return FeatureSet(
        fs.features[perm],
        fs.bbox_idx[perm],
        fs.action_idx[perm],
        fs.role[perm],
        fs.person_uid[perm],
        fs.clazz[perm],
        fs.model,
        fs.split,
        False,
    )


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_blocks_match_torchreid_distances_per_action(feature_set, metric):
    fs = shuffled(feature_set)
    blocks = features_to_blocks(fs, metric)
    assert blocks.action_idx.tolist() == sorted(set(fs.action_idx.tolist()))
    assert blocks.values.size == (blocks.sizes**2).sum()  # no Q x G matrix: only the blocks
    for a, action in enumerate(blocks.action_idx):
        rows = np.flatnonzero(fs.action_idx == action)
        rows = rows[np.lexsort((fs.bbox_idx[rows], fs.role[rows] != "query"))]
        x = torch.from_numpy(fs.features[rows])
        np.testing.assert_allclose(blocks.block(a), compute_distance_matrix(x, x, metric).numpy(), atol=2e-5)
        assert (
            blocks.bbox_idx[blocks.member_offsets[a] : blocks.member_offsets[a + 1]].tolist()
            == fs.bbox_idx[rows].tolist()
        )
        assert blocks.n_query[a] == np.sum(fs.role[rows] == "query")
        assert np.array_equal(blocks.block(a), blocks.block(a).T)


def test_train_rows_and_query_less_actions_are_left_out(feature_set):
    fs = feature_set
    role = fs.role.copy()
    role[fs.action_idx == fs.action_idx[0]] = "gallery"  # first action has no query any more
    role[-1] = "train"
    blocks = features_to_blocks(
        FeatureSet(fs.features, fs.bbox_idx, fs.action_idx, role, fs.person_uid, fs.clazz, "toy", "valid", False)
    )
    assert fs.action_idx[0] not in blocks.action_idx
    assert fs.bbox_idx[-1] not in blocks.bbox_idx


def test_round_trip(feature_set, tmp_path):
    blocks = features_to_blocks(feature_set)
    write_blocks(tmp_path / "d.h5", blocks)
    back = read_blocks(tmp_path / "d.h5")
    for name in ("values", "offsets", "action_idx", "n_query", "n_gallery", "bbox_idx", "person_uid", "clazz"):
        assert np.array_equal(getattr(back, name), getattr(blocks, name)), name
    assert (back.split, back.metric, back.source) == ("valid", "cosine", "toy")
    unlabelled = type(blocks)(**{**blocks.__dict__, "person_uid": None})
    write_blocks(tmp_path / "u.h5", unlabelled)
    assert read_blocks(tmp_path / "u.h5").person_uid is None


def corrupt(path, name, data=None, attr=None):
    with h5py.File(path, "a") as f:
        if attr:
            del f.attrs[attr]
            return
        del f[name]
        if data is not None:
            f.create_dataset(name, data=data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(name="values"), "missing member 'values'"),
        (dict(name="offsets", data=np.zeros(3, np.int32)), "'offsets' must be int64, got int32"),
        (dict(name="values", data=np.zeros(5, np.float32)), r"'values' must have shape \(\d+,\), got \(5,\)"),
        (dict(name="offsets", data=np.arange(13, dtype=np.int64)), "'offsets' must be the running sum"),
        (dict(name="bbox_idx", data=np.zeros(4, np.int64)), r"'bbox_idx' must have shape \(260,\), got \(4,\)"),
        (
            dict(name="n_gallery", data=np.zeros(12, np.int64)),
            "every action needs at least one query and one gallery member",
        ),
        (dict(name=None, attr="metric"), "missing attribute 'metric'"),
    ],
)
def test_defects_are_one_line_errors_naming_the_file(feature_set, tmp_path, change, message):
    path = tmp_path / "d.h5"
    write_blocks(path, features_to_blocks(feature_set))
    corrupt(path, **change)
    with pytest.raises(DataError, match=f"{path}: {message}"):
        read_blocks(path)


def test_non_finite_values_are_rejected_before_writing(feature_set, tmp_path):
    blocks = features_to_blocks(feature_set)
    values = blocks.values.copy()
    values[3] = np.nan
    with pytest.raises(DataError, match="'values' contains NaN or inf"):
        write_blocks(tmp_path / "d.h5", blocks.with_values(values, "toy"))
    assert not (tmp_path / "d.h5").exists()
