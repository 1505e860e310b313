"""The embedded synthetic SoccerNet: exact on-disk format, protocol rules, determinism."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from soccerreid.config.data import SplitActions
from soccerreid.data.index import decode_splits, scan_split
from soccerreid.data.naming import parse_challenge_name, parse_name
from soccerreid.data.synthetic import generate_synthetic, plan_dataset
from soccerreid.images import read_rgb
from soccerreid.vocab import CLASSES


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_bytes_whatever_the_workers(tiny_raw, tmp_path, tiny_config):
    generate_synthetic(tiny_config, tmp_path / "again", workers=2)
    assert _digest(tmp_path / "again") == _digest(tiny_raw)


def test_another_seed_gives_other_data(tiny_config):
    first = plan_dataset(tiny_config)
    other = plan_dataset(dataclasses.replace(tiny_config, seed=4))
    assert [s.seed for a in first for s in a.shots] != [s.seed for a in other for s in a.shots]


def test_layout_is_soccernet(tiny_raw):
    reid = tiny_raw / "reid"
    assert sorted(p.name for p in reid.iterdir()) == [
        "challenge",
        "challenge_bbox_info.json",
        "test",
        "test_bbox_info.json",
        "train",
        "valid",
    ]
    for png in (reid / "train").rglob("*.png"):
        assert len(png.relative_to(reid / "train").parts) == 5  # championship/season/game/action/file
        parse_name(png)
    for split in ("valid", "test"):
        assert sorted(p.name for p in (reid / split).iterdir()) == ["gallery", "query", f"{split}_bbox_info.json"]
        for png in (reid / split).rglob("*.png"):
            assert len(png.relative_to(reid / split).parts) == 6
    for png in (reid / "challenge").rglob("*.png"):
        assert len(png.relative_to(reid / "challenge").parts) == 2  # flat query/ and gallery/
        parse_challenge_name(png)


def test_names_metadata_and_pixels_agree(tiny_raw, tiny_config):
    for split in ("train", "valid"):
        # scanning cross-checks bbox_info against the names
        frame = decode_splits([scan_split(tiny_raw / "reid" / split, split)])[0].frame
        for row in frame.itertuples():
            assert read_rgb(row.path).shape == (row.height, row.width, 3)
            assert tiny_config.crop_height[0] <= row.height <= tiny_config.crop_height[1]
        assert set(frame["clazz"]) <= set(CLASSES)


def test_challenge_metadata_has_no_labels_but_the_released_labels_do(tiny_raw):
    public = json.loads((tiny_raw / "reid" / "challenge" / "challenge_bbox_info.json").read_text())
    truth = json.loads((tiny_raw / "reid" / "challenge_bbox_info.json").read_text())
    assert public.keys() == truth.keys() == {"query", "gallery"}
    for role in ("query", "gallery"):
        assert public[role].keys() == truth[role].keys()
        for entry in public[role].values():
            assert set(entry) == {"bbox_idx", "action_idx", "height", "width", "relative_path"}
        for entry in truth[role].values():
            assert {"person_uid", "frame_idx", "clazz", "id", "UAI"} <= set(entry)


@pytest.mark.parametrize("split", ["valid", "test", "challenge"])
def test_every_query_has_a_gallery_positive_in_its_action(tiny_raw, split):
    path = tiny_raw / (
        "reid/challenge_bbox_info.json" if split == "challenge" else f"reid/{split}/{split}_bbox_info.json"
    )
    truth = json.loads(path.read_text())
    gallery = Counter((e["action_idx"], e["person_uid"]) for e in truth["gallery"].values())
    queries = [(e["action_idx"], e["person_uid"]) for e in truth["query"].values()]
    assert queries and all(gallery[q] >= 1 for q in queries)
    assert len(set(queries)) == len(queries)  # one query per identity


def test_actions_look_like_soccernet(tiny_config):
    config = dataclasses.replace(
        tiny_config, actions=SplitActions(6, 1, 1, 1), people_per_action=(15, 25), frames_per_action=(2, 4)
    )
    actions = [a for a in plan_dataset(config) if a.split == "train"]
    for action in actions:
        people = {s.person.person_uid: s.person for s in action.shots}
        assert 15 <= len(people) <= 25
        classes = Counter(p.clazz for p in people.values())
        assert classes["Player_team_left"] >= 2 and classes["Player_team_right"] >= 2
        for side in ("left", "right"):  # teammates share a kit: the hard negatives
            kits = {p.kit for p in people.values() if p.clazz == f"Player_team_{side}"}
            assert len(kits) == 1
        frames = {s.camera.frame_idx for s in action.shots}
        assert 2 <= len(frames) <= 4
    views = Counter(s.pose.view for a in actions for s in a.shots)
    assert set(views) == {"front", "back", "left", "right"}
    jerseys = [j for a in actions for j in a.jerseys.values()]
    assert any(j.isdigit() for j in jerseys) and any(j.isalpha() and j != "None" for j in jerseys) and "None" in jerseys


@pytest.mark.parametrize("people", [(3, 3), (4, 6), (24, 26)])
def test_people_per_action_is_respected(tiny_config, people):
    config = dataclasses.replace(
        tiny_config, actions=SplitActions(4, 1, 1, 1), people_per_action=people, frames_per_action=(4, 4)
    )
    for action in plan_dataset(config):
        uids = {s.person.person_uid for s in action.shots}
        assert people[0] <= len(uids) <= people[1]


def test_real_players_recur_under_new_uids(tiny_config):
    config = dataclasses.replace(tiny_config, actions=SplitActions(8, 1, 1, 1))
    seen: dict[tuple, set[int]] = {}
    for action in plan_dataset(config):
        for shot in action.shots:
            seen.setdefault((shot.person.look, shot.person.number), set()).add(shot.person.person_uid)
    assert max(len(uids) for uids in seen.values()) > 1


def test_crops_are_neither_blank_nor_noise(tiny_raw):
    paths = sorted((tiny_raw / "reid" / "train").rglob("*.png"))[:20]
    for path in paths:
        rgb = read_rgb(path).astype(np.float32)
        assert rgb.std() > 8  # a figure on grass, not a flat image
        green = rgb[..., 1].mean() - rgb[..., [0, 2]].mean()
        assert green > 0  # grass background dominates the border
