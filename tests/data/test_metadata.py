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
        assert find_bbox_info(reid / split) == [reid / split / "bbox_info.json"]


def test_found_under_any_name_and_depth(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "valid_bbox_info_v3.json").write_text("{}")
    (tmp_path / "other.json").write_text("{}")
    assert find_bbox_info(tmp_path) == [tmp_path / "a" / "b" / "valid_bbox_info_v3.json"]


def test_grouped_and_flat_layouts(tiny_raw):
    valid = read_bbox_info(tiny_raw / "reid" / "valid" / "bbox_info.json")
    assert {entry.role for entry in valid.values()} == {"query", "gallery"}
    train = read_bbox_info(tiny_raw / "reid" / "train" / "train_bbox_info.json")
    assert {entry.role for entry in train.values()} == {None}
    some = next(iter(train.values())).fields
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
    with pytest.raises(DataError, match=rf"^{path}: entry 'abc' is not a bbox_idx-keyed object$"):
        read_bbox_info(path)


def _rewrite(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_metadata_disagreeing_with_a_file_name_names_both(raw_copy):
    path = raw_copy / "reid" / "valid" / "bbox_info.json"
    key = next(iter(json.loads(path.read_text())["gallery"]))
    _rewrite(path, lambda d: d["gallery"][key].update(person_uid=999999))
    with pytest.raises(DataError, match=rf"^{path}: bbox {key} has person_uid=999999 but its file name says \d+$"):
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
        f"{path}: 1 entries disagree with their file names on UAI (first: bbox {keys[0]}); file names win",
        f"{path}: 2 entries disagree with their file names on height (first: bbox {keys[0]}); file names win",
    ]


def test_metadata_role_disagreeing_with_folder(raw_copy):
    path = raw_copy / "reid" / "test" / "bbox_info.json"
    data = json.loads(path.read_text())
    key = next(iter(data["query"]))
    data["gallery"][key] = data["query"].pop(key)
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=rf"^{path}: bbox {key} is listed as gallery but its crop is in query/$"):
        scan_split(raw_copy / "reid" / "test", "test")


def test_missing_metadata_is_a_note_not_an_error(raw_copy):
    (raw_copy / "reid" / "train" / "train_bbox_info.json").unlink()
    scanned = scan_split(raw_copy / "reid" / "train", "train")
    assert scanned.notes == [f"{raw_copy / 'reid' / 'train'}: no bbox_info JSON found; labels come from file names only"]


def test_unlisted_crops_are_counted_in_a_note(raw_copy):
    path = raw_copy / "reid" / "challenge" / "bbox_info.json"
    _rewrite(path, lambda d: d["gallery"].pop(next(iter(d["gallery"]))))
    scanned = scan_split(raw_copy / "reid" / "challenge", "challenge")
    assert scanned.notes == [f"{path}: 1 crops are not listed, 0 entries have no crop"]
