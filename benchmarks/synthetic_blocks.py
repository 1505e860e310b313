"""Random clustered embeddings with SoccerNet's query/gallery structure, for the tests and the benchmarks.

Every action queries each of its queried people once; every queried person has at least one
gallery image, and the rest of the gallery goes to queried people and to distractors. An
identity is a random unit centre; each image is its centre plus Gaussian noise, so a lower
``noise`` is a better model.

Examples::

    split = synthetic_split(num_actions=20, num_queries=130, num_gallery=400, seed=0)
    fs = synthetic_feature_set(split, dim=64, noise=0.8, seed=1, model="toy")
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from soccerreid.schema import FeatureSet

# how often a person is of each class (five of soccerreid.vocab.CLASSES, the rest never)
CLASS_WEIGHTS = {
    "Player_team_left": 0.42,
    "Player_team_right": 0.42,
    "Goalkeeper_team_left": 0.06,
    "Main_referee": 0.06,
    "Staff_members": 0.04,
}


@dataclass(frozen=True)
class SyntheticSplit:
    """Labels of a synthetic split: (N,) arrays sorted by action, query first, bbox_idx.

    ``bbox_idx`` is numbered as SoccerNet numbers it: queries 0..Q-1 and gallery 0..G-1, each
    list in row order, so query and gallery indices overlap."""

    action_idx: np.ndarray
    person_uid: np.ndarray
    is_query: np.ndarray
    bbox_idx: np.ndarray
    clazz: np.ndarray


def split_counts(
    total: int, num_actions: int, weights: np.ndarray, rng: np.random.Generator, minimum: int = 1
) -> np.ndarray:
    """(A,) int64 counts summing to ``total``, each >= ``minimum``, spread in proportion to ``weights``.

    Examples::

        split_counts(10, 3, np.ones(3), np.random.default_rng(0))   # [4, 2, 4]
    """
    extra = total - minimum * num_actions
    if extra < 0:
        raise ValueError(f"cannot give {num_actions} actions {minimum} each from a total of {total}")
    return minimum + rng.multinomial(extra, weights / weights.sum()).astype(np.int64)


def synthetic_split(num_actions: int, num_queries: int, num_gallery: int, seed: int = 0) -> SyntheticSplit:
    """Labels with exactly the given counts; per-action sizes vary like SoccerNet's (gamma spread).

    Examples::

        split = synthetic_split(1751, 11638, 34355)      # SoccerNet valid scale
    """
    rng = np.random.default_rng(seed)
    weight = rng.gamma(3.0, 1.0, num_actions)
    n_query = split_counts(num_queries, num_actions, weight, rng)
    n_gallery = n_query + split_counts(num_gallery - num_queries, num_actions, weight, rng, minimum=0)
    parts = [_action_labels(a, int(nq), int(ng), rng) for a, (nq, ng) in enumerate(zip(n_query, n_gallery))]
    action, uid, is_query = (np.concatenate(column) for column in zip(*parts))
    person_class = rng.choice(len(CLASS_WEIGHTS), size=int(uid.max()) + 1, p=list(CLASS_WEIGHTS.values()))
    bbox = np.empty(action.size, dtype=np.int64)
    bbox[is_query], bbox[~is_query] = np.arange(is_query.sum()), np.arange((~is_query).sum())
    return SyntheticSplit(action, uid, is_query, bbox, np.array(list(CLASS_WEIGHTS))[person_class[uid]])


def _action_labels(action: int, n_query: int, n_gallery: int, rng: np.random.Generator) -> tuple:
    """Action ids, person uids and query flags of one action's ``n_query + n_gallery`` images."""
    distractors = rng.integers(0, n_query + 1)
    people = action * 1000 + np.arange(n_query + distractors)
    extra = rng.choice(people, size=n_gallery - n_query)
    gallery = np.sort(np.concatenate((people[:n_query], extra)))
    uid = np.concatenate((people[:n_query], gallery)).astype(np.int64)
    is_query = np.arange(uid.size) < n_query
    return np.full(uid.size, action, dtype=np.int64), uid, is_query


def clustered_features(person_uid: np.ndarray, dim: int, noise: float, seed: int = 0) -> np.ndarray:
    """(N, dim) float32 embeddings: a random unit centre per identity plus N(0, noise**2/dim) noise.

    Examples::

        clustered_features(np.array([7, 7, 8]), dim=16, noise=1.0).shape   # (3, 16)
    """
    rng = np.random.default_rng(seed)
    ids, inverse = np.unique(person_uid, return_inverse=True)
    centres = rng.standard_normal((ids.size, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = rng.standard_normal((person_uid.size, dim), dtype=np.float32)
    x *= np.float32(noise / np.sqrt(dim))
    x += centres[inverse]
    return x


def synthetic_feature_set(
    split: SyntheticSplit, dim: int, noise: float, seed: int = 0, model: str = "synthetic", name: str = "valid"
) -> FeatureSet:
    """A labelled :class:`FeatureSet` of ``split`` with clustered features of width ``dim``.

    Examples::

        synthetic_feature_set(synthetic_split(20, 130, 400), dim=64, noise=4.0, model="toy")
    """
    return FeatureSet(
        features=clustered_features(split.person_uid, dim, noise, seed),
        bbox_idx=split.bbox_idx,
        action_idx=split.action_idx,
        role=np.where(split.is_query, "query", "gallery"),
        person_uid=split.person_uid,
        clazz=split.clazz,
        model=model,
        split=name,
        normalized=False,
    )
