"""Hierarchical batches (action, game, competition levels), every image per epoch, training rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from soccerreid.errors import DataError
from soccerreid.training.rows import hierarchy_codes, training_rows
from soccerreid.training.sampler import ActionPKSampler


def _tree(competitions=2, games=2, actions=2, ids=2, images=2):
    """Rows of a full tree: identity -> action -> game -> competition, ``images`` rows per identity."""
    rows = [
        (((c * games + g) * actions + a) * ids + i, (c * games + g) * actions + a, c * games + g, c)
        for c in range(competitions)
        for g in range(games)
        for a in range(actions)
        for i in range(ids)
        for _ in range(images)
    ]
    return tuple(np.array(column) for column in zip(*rows))


def _identities(sampler: ActionPKSampler, labels: np.ndarray, k: int) -> list[np.ndarray]:
    """Per batch, the (P,) identity of each K-sample slot."""
    out = []
    for batch in sampler:
        rows = np.array([r for r, _ in batch]).reshape(-1, k)
        assert (labels[rows] == labels[rows[:, :1]]).all(), "K consecutive samples of one identity"
        out.append(labels[rows[:, 0]])
    return out


def test_batches_fill_level_by_level_action_game_competition():
    labels, actions, games, competitions = _tree()
    sampler = ActionPKSampler(
        labels,
        actions,
        ids_per_batch=8,
        images_per_id=2,
        ids_per_action=2,
        seed=0,
        games=games,
        competitions=competitions,
        actions_per_game=2,
        games_per_competition=2,
    )
    batches = _identities(sampler, labels, 2)
    assert len(batches) == len(sampler) == 2
    action_of, game_of, competition_of = (dict(zip(labels, column)) for column in (actions, games, competitions))
    for ids in batches:
        assert len(set(ids)) == 8
        assert len({competition_of[i] for i in ids}) == 1, "one competition"
        assert len({game_of[i] for i in ids}) == 2, "its two games"
        assert sorted(pd.Series([action_of[i] for i in ids]).value_counts()) == [2, 2, 2, 2], "4 actions x 2 identities"
    assert sorted(np.concatenate(batches)) == sorted(set(labels)), "each identity once"


def test_action_groups_without_higher_levels_are_pure_actions():
    labels, actions, games, competitions = _tree(competitions=1, games=4, actions=4, ids=4, images=1)
    sampler = ActionPKSampler(
        labels,
        actions,
        ids_per_batch=8,
        images_per_id=2,
        ids_per_action=4,
        seed=1,
        games=games,
        competitions=competitions,
    )
    action_of = dict(zip(labels, actions))
    for ids in _identities(sampler, labels, 2):
        groups = np.array([action_of[i] for i in ids]).reshape(2, 4)
        assert (groups == groups[:, :1]).all(), "groups of 4 identities of one action"


def test_every_image_every_epoch_in_chunks_of_k_and_distinct_ids_per_batch():
    sizes = np.array([7, 1, 2, 3, 4, 5, 6, 1, 1, 2] * 3)
    labels = np.repeat(np.arange(30), sizes)
    actions = np.repeat(np.arange(30) // 5, sizes)
    sampler = ActionPKSampler(labels, actions, ids_per_batch=6, images_per_id=2, ids_per_action=3, seed=5)
    slots = int(sum(math.ceil(n / 2) for n in sizes))
    batches = list(sampler)
    assert len(batches) == len(sampler) == math.ceil(slots / 6)
    rows = [np.array([r for r, _ in batch]).reshape(6, 2) for batch in batches]
    assert set(np.concatenate(rows).ravel()) == set(range(len(labels))), "every image"
    for chunks in rows[:-1]:
        assert len(set(labels[chunks[:, 0]])) == 6, "distinct identities within a batch"
    seven = [i for i, chunks in enumerate(rows) if (labels[chunks[:, 0]] == 0).any()]
    assert len(seven) >= 4, "a 7-image identity fills 4 slots, in 4 batches"
    for chunks in rows:
        for chunk in chunks:
            own = np.flatnonzero(labels == labels[chunk[0]])
            assert len(set(chunk.tolist())) == min(2, len(own)), (
                "a chunk repeats an image only when the identity has one"
            )


def test_hierarchical_batches_are_deterministic_and_shard_by_rank():
    labels, actions, games, competitions = _tree(competitions=2, games=3, actions=3, ids=3, images=3)
    args = dict(
        ids_per_batch=8,
        images_per_id=2,
        ids_per_action=2,
        seed=7,
        games=games,
        competitions=competitions,
        actions_per_game=2,
        games_per_competition=2,
    )
    whole = ActionPKSampler(labels, actions, **args)
    whole.set_epoch(1)
    again = ActionPKSampler(labels, actions, **args)
    again.set_epoch(1)
    assert list(whole) == list(again)
    again.set_epoch(2)
    assert list(whole) != list(again)
    shards = []
    for rank in range(2):
        shard = ActionPKSampler(labels, actions, **args, rank=rank, world_size=2)
        shard.set_epoch(1)
        shards.append(list(shard))
    for step, batch in enumerate(whole):
        assert shards[0][step] + shards[1][step] == batch


def test_shape_errors_name_the_arrays():
    with pytest.raises(
        DataError, match=r"^labels, actions, games, competitions \(4,\), \(4,\), \(3,\), \(4,\): expected"
    ):
        ActionPKSampler(
            np.arange(4), np.zeros(4), ids_per_batch=2, images_per_id=2, ids_per_action=1, seed=0, games=np.zeros(3)
        )


def _index(split: str, actions: list[int], jersey: str = "7") -> pd.DataFrame:
    rows = [
        {
            "path": f"{split}/{a}-{u}-{f}.png",
            "split": split,
            "role": "gallery" if split != "train" else "train",
            "bbox_idx": i,
            "action_idx": a,
            "person_uid": 100 * a + u + (0 if split == "train" else 50),
            "frame_idx": f,
            "clazz": "Player_team_left",
            "jersey": jersey if u else "None",
            "uai": "x",
            "height": 90,
            "width": 40,
            "game": f"league/2014-2015/{split} game {a % 2}",
            "label": -1,
        }
        for i, (a, u, f) in enumerate((a, u, f) for a in actions for u in range(3) for f in range(2))
    ]
    return pd.DataFrame(rows)


def test_training_rows_number_identities_per_split_action_and_drop_none_ids():
    frames = {"train": _index("train", [0, 1]), "valid": _index("valid", [0, 1])}  # action_idx repeats across splits
    rows = training_rows(frames)
    assert len(rows) == 24 and sorted(rows["label"].unique()) == list(range(12))
    assert rows.groupby(["split", "action_idx", "person_uid"])["label"].nunique().eq(1).all()
    actions, games, competitions = hierarchy_codes(rows)
    assert len(np.unique(actions)) == 4, "(split, action_idx) pairs"
    assert len(np.unique(games)) == 4 and len(np.unique(competitions)) == 1
    kept = training_rows(frames, drop_none_ids=True)
    assert len(kept) == 16 and (kept["jersey"] != "None").all() and kept["label"].max() == 7
    with pytest.raises(DataError, match=r"^training splits \['train'\]: no labelled crops to train on"):
        training_rows({"train": _index("train", [0]).assign(jersey="None")}, drop_none_ids=True)
