"""The crop index: build, write, read back, subsets, and every bad input with its message."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from soccerreid.data.index import COLUMNS, decode_splits, read_index, scan_split, select_train_fraction, write_index
from soccerreid.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def train(tiny_raw) -> pd.DataFrame:
    return decode_splits([scan_split(tiny_raw / "reid" / "train", "train")])[0].frame


@pytest.mark.parametrize("split", ["train", "valid", "test", "challenge"])
def test_round_trip_is_exact(tiny_raw, tmp_path, split):
    frame = decode_splits([scan_split(tiny_raw / "reid" / split, split)], workers=2)[0].frame
    path = write_index(frame, tmp_path, split)
    assert path == tmp_path / f"{split}.csv"
    back = read_index(tmp_path, split)
    pd.testing.assert_frame_equal(back, frame)
    assert list(back.columns) == list(COLUMNS)
    assert all(back[c].dtype == np.int64 for c in ("bbox_idx", "action_idx", "person_uid", "height", "label"))


def test_train_rows_and_labels(tiny_raw, train):
    assert set(train["role"]) == {"train"} and set(train["split"]) == {"train"}
    pairs = train[["action_idx", "person_uid"]].drop_duplicates()
    assert sorted(train["label"].unique()) == list(range(len(pairs)))
    assert (train.groupby("label")[["action_idx", "person_uid"]].nunique() == 1).all().all()
    assert "None" in set(train["jersey"])  # kept as text, not NaN
    assert all(Path(p).is_file() and os.path.isabs(p) for p in train["path"])  # tmp is outside cwd
    assert all(g.startswith("synthetic_league/2014-2015/") and g.count("/") == 2 for g in train["game"])
    assert train["bbox_idx"].is_monotonic_increasing


def test_query_gallery_and_challenge_rows(tiny_raw):
    valid = decode_splits([scan_split(tiny_raw / "reid" / "valid", "valid")])[0].frame
    assert list(valid["role"].unique()) == ["query", "gallery"]  # sorted by role then bbox_idx
    assert (valid["label"] == -1).all() and (valid["person_uid"] >= 0).all()
    challenge = decode_splits([scan_split(tiny_raw / "reid" / "challenge", "challenge")])[0].frame
    assert (challenge[["person_uid", "frame_idx", "label"]] == -1).all().all()
    assert (challenge[["clazz", "jersey", "uai", "game"]] == "").all().all()


def test_paths_under_cwd_are_relative(tiny_raw, monkeypatch):
    monkeypatch.chdir(tiny_raw.parent)
    frame = decode_splits([scan_split(Path("raw/reid/test"), "test")])[0].frame
    assert all(p.startswith("raw/reid/test/") for p in frame["path"])


def test_select_train_fraction_is_nested_deterministic_and_contiguous(train):
    small, mid, full = (select_train_fraction(train, f, seed=5) for f in (0.3, 0.6, 1.0))
    assert set(small["action_idx"]) < set(mid["action_idx"]) < set(full["action_idx"])
    assert small["action_idx"].nunique() == 1 and mid["action_idx"].nunique() == 2  # ceil(fraction * 3)
    pd.testing.assert_frame_equal(select_train_fraction(train, 0.3, seed=5), small)
    for subset in (small, mid):
        assert sorted(subset["label"].unique()) == list(range(subset["label"].nunique()))
    pd.testing.assert_frame_equal(full, train)
    others = {tuple(sorted(select_train_fraction(train, 0.3, seed=s)["action_idx"].unique())) for s in range(12)}
    assert len(others) > 1  # the seed matters


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_select_train_fraction_rejects_out_of_range(train, fraction):
    with pytest.raises(ConfigError, match=rf"^train_fraction: expected a value in \(0, 1\], got {fraction}$"):
        select_train_fraction(train, fraction, seed=0)


def test_read_index_errors_name_the_file(tmp_path, train):
    path = tmp_path / "train.csv"
    with pytest.raises(DataError, match=rf"^{path}: index file not found \(run the prepare stage first\)$"):
        read_index(tmp_path, "train")
    train.drop(columns="uai").to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"^{path}: missing column 'uai' \(expected columns: path, split, .*label\)$"):
        read_index(tmp_path, "train")
    train.assign(height="tall").to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"^{path}: column 'height' holds a non-integer value$"):
        read_index(tmp_path, "train")
    train.to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"^{tmp_path / 'valid.csv'}: index file not found"):
        read_index(tmp_path, "valid")
    path.rename(tmp_path / "valid.csv")
    with pytest.raises(DataError, match=rf"^{tmp_path / 'valid.csv'}: row 2 has split 'train', expected 'valid'$"):
        read_index(tmp_path, "valid")
    path.write_text("")
    with pytest.raises(DataError, match=rf"^{path}: cannot read index CSV \(.+\)$"):
        read_index(tmp_path, "train")


def test_missing_split_and_role_folders(raw_copy):
    with pytest.raises(
        DataError,
        match=rf"^{raw_copy / 'reid' / 'nowhere'}: split folder not found "
        r"\(expected the unzipped SoccerNet valid split\)$",
    ):
        decode_splits([scan_split(raw_copy / "reid" / "nowhere", "valid")])[0]
    gallery = raw_copy / "reid" / "test" / "gallery"
    gallery.rename(raw_copy / "reid" / "test" / "galery")
    with pytest.raises(DataError, match=rf"^{gallery}: folder not found \(expected test/query/ and test/gallery/\)$"):
        decode_splits([scan_split(raw_copy / "reid" / "test", "test")])[0]


def test_empty_split_and_malformed_name(raw_copy, tmp_path):
    (tmp_path / "empty" / "query").mkdir(parents=True)
    (tmp_path / "empty" / "gallery").mkdir()
    with pytest.raises(DataError, match=rf"^{tmp_path / 'empty'}: no .png crops found$"):
        decode_splits([scan_split(tmp_path / "empty", "challenge")])[0]
    bad = next((raw_copy / "reid" / "train").rglob("*.png")).with_name("1-2-3-Player_team_left-120x40.png")
    bad.write_bytes(b"")
    with pytest.raises(DataError, match=rf"^{bad}: malformed crop file name \(expected .*\)$"):
        decode_splits([scan_split(raw_copy / "reid" / "train", "train")])[0]


def test_duplicate_bbox_idx_within_a_list(raw_copy):
    gallery = sorted((raw_copy / "reid" / "challenge" / "gallery").glob("*.png"))[0]
    bbox, _, size = gallery.name.split("-")
    twin = gallery.with_name(f"{bbox}-999-{size}")
    twin.write_bytes(gallery.read_bytes())
    with pytest.raises(
        DataError, match=r"challenge/gallery/.*: gallery bbox_idx \d+ is also used by .*challenge/gallery/.*\.png$"
    ):
        decode_splits([scan_split(raw_copy / "reid" / "challenge", "challenge")])[0]


def test_query_and_gallery_share_bbox_idx(tiny_raw):
    """SoccerNet numbers query and gallery from 0 each: the index keeps both, keyed by role."""
    frame = decode_splits([scan_split(tiny_raw / "reid" / "valid", "valid")])[0].frame
    shared = set(frame.bbox_idx[frame.role == "query"]) & set(frame.bbox_idx[frame.role == "gallery"])
    assert 0 in shared
    assert not frame.duplicated(["role", "bbox_idx"]).any()
    assert len(frame) == len(list((tiny_raw / "reid" / "valid").rglob("*.png")))
