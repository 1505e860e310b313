"""bbox_info JSON: found wherever it sits, read in both layouts, cross-checked with names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soccerreid.data.index import scan_split
from soccerreid.data.metadata import find_bbox_info, read_bbox_info
from soccerreid.errors import DataError


def test_found_in_every_split_of_the_synthetic_tree(tiny_raw):
    reid = tiny_raw / "reid"
    assert find_bbox_info(reid / "train") == [reid / "train" / "train_bbox_info.json"]
    for split in ("valid", "test", "challenge"):
        assert find_bbox_info(reid / split) == [reid / split / f"{split}_bbox_info.json"]


def test_found_under_any_name_and_depth(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "valid_bbox_info_v3.json").write_text("{}")
    (tmp_path / "other.json").write_text("{}")
    assert find_bbox_info(tmp_path) == [tmp_path / "a" / "b" / "valid_bbox_info_v3.json"]


def test_grouped_and_flat_layouts(tiny_raw):
    valid = read_bbox_info(tiny_raw / "reid" / "valid" / "valid_bbox_info.json")
    assert {role for role, _ in valid} == {"query", "gallery"}
    assert valid["query", 0] != valid["gallery", 0]  # each list counts from 0: both kept, apart
    assert valid["query", 0]["bbox_idx"] == valid["gallery", 0]["bbox_idx"] == 0
    train = read_bbox_info(tiny_raw / "reid" / "train" / "train_bbox_info.json")
    assert {role for role, _ in train} == {"train"}
    some = next(iter(train.values()))
    assert {"bbox_idx", "action_idx", "person_uid", "frame_idx", "clazz", "id", "UAI", "height", "width"} <= set(some)


def test_unreadable_json_is_one_line_error(tmp_path):
    path = tmp_path / "bbox_info.json"
    path.write_text('{"query": {"1": ')
    with pytest.raises(DataError, match=rf"^{path}: cannot read bbox_info JSON \(.+\)$"):
        read_bbox_info(path)
    path.write_text("[1, 2]")
    with pytest.raises(DataError, match=rf"^{path}: expected a JSON object keyed by bbox_idx or by query/gallery$"):
        read_bbox_info(path)
    path.write_text('{"abc": {"bbox_idx": 1}}')
    with pytest.raises(DataError, match=rf"^{path}: train entry 'abc' is not a bbox_idx-keyed object$"):
        read_bbox_info(path)


def _rewrite(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_metadata_disagreeing_with_a_file_name_names_both(raw_copy):
    path = raw_copy / "reid" / "valid" / "valid_bbox_info.json"
    key = next(iter(json.loads(path.read_text())["gallery"]))
    _rewrite(path, lambda d: d["gallery"][key].update(person_uid=999999))
    with pytest.raises(
        DataError, match=rf"^{path}: gallery bbox {key} has person_uid=999999 but its file name says \d+$"
    ):
        scan_split(raw_copy / "reid" / "valid", "valid")


def test_minor_disagreements_are_notes(raw_copy):
    path = raw_copy / "reid" / "train" / "train_bbox_info.json"
    keys = sorted(json.loads(path.read_text()), key=int)[:2]

    def bump(data):
        for key in keys:
            data[key]["height"] += 1
        data[keys[0]]["UAI"] = "999x999_000000000000"

    _rewrite(path, bump)
    scanned = scan_split(raw_copy / "reid" / "train", "train")
    assert scanned.notes == [
        f"{path}: 1 entries disagree with their file names on UAI (first: train bbox {keys[0]}); file names win",
        f"{path}: 2 entries disagree with their file names on height (first: train bbox {keys[0]}); file names win",
    ]


def test_query_entry_is_checked_against_the_query_crop_of_the_same_bbox_idx(raw_copy):
    """Swapping query 0 and gallery 0 in the JSON is caught: the lists are never merged."""
    path = raw_copy / "reid" / "test" / "test_bbox_info.json"
    data = json.loads(path.read_text())
    data["query"]["0"], data["gallery"]["0"] = data["gallery"]["0"], data["query"]["0"]
    path.write_text(json.dumps(data))
    with pytest.raises(
        DataError, match=rf"^{path}: query bbox 0 has (action_idx|person_uid)=\d+ but its file name says \d+$"
    ):
        scan_split(raw_copy / "reid" / "test", "test")


def test_missing_metadata_is_a_note_not_an_error(raw_copy):
    (raw_copy / "reid" / "train" / "train_bbox_info.json").unlink()
    scanned = scan_split(raw_copy / "reid" / "train", "train")
    assert scanned.notes == [
        f"{raw_copy / 'reid' / 'train'}: no bbox_info JSON found; labels come from file names only"
    ]


def test_crops_the_metadata_does_not_list_make_the_counts_wrong(raw_copy):
    path = raw_copy / "reid" / "challenge" / "challenge_bbox_info.json"
    _rewrite(path, lambda d: d["gallery"].pop("0"))
    with pytest.raises(
        DataError,
        match=rf"^{path}: lists \d+ crops but the split holds \d+ \(0 missing, 1 not listed; "
        r"first: gallery bbox 0 is not listed\); the copy is incomplete or modified: "
        r"unzip or download it again$",
    ):
        scan_split(raw_copy / "reid" / "challenge", "challenge")


def test_released_labels_are_cross_checked_too(raw_copy):
    labels = raw_copy / "reid" / "test_bbox_info.json"
    _rewrite(labels, lambda d: d["gallery"]["0"].update(action_idx=999))
    with pytest.raises(DataError, match=rf"^{labels}: gallery bbox 0 has action_idx=999 but its file name says \d+$"):
        scan_split(raw_copy / "reid" / "test", "test", [labels])
