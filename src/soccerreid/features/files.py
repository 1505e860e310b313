"""Features of loose image files: the ``soccerreid embed`` and ``rank`` verbs and the explorer's search.

SoccerNet file names give each row its bbox_idx, action, identity and class; other names get row
numbers and one action.

Examples::

    fs = embed_images(load_model("artifacts/models/osnet_ain/model.pt"), find_images(["crops/"]), role=None)
    fs.features.shape         # (N, D) float32
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from soccerreid.data.naming import parse_challenge_name, parse_name
from soccerreid.errors import DataError
from soccerreid.schema import FeatureSet


def embed_images(embedder, paths: list[str], role: str | None, device: str = "auto"):
    """A :class:`~soccerreid.schema.FeatureSet` of image files: SoccerNet file names give bbox_idx,
    action, identity and class; other names get row numbers as bbox_idx and one action."""
    roles = np.array([role or ("query" if "query" in Path(p).parts[:-1] else "gallery") for p in paths])
    meta = _soccernet_fields(paths)
    if meta is None:
        n = len(paths)
        meta = {
            "bbox_idx": np.arange(n),
            "action_idx": np.zeros(n, np.int64),
            "person_uid": None,
            "clazz": np.full(n, ""),
        }
    _check_unique(paths, roles, meta["bbox_idx"])
    features = embedder.embed(paths, device=device)
    return FeatureSet(
        features=features,
        role=roles,
        model=embedder.info.arch,
        split="",
        normalized=embedder.config.normalize,
        embedder=embedder.info.weights_id,
        path=np.array(paths),
        **meta,
    )


def _soccernet_fields(paths: list[str]) -> dict | None:
    """bbox_idx, action_idx, person_uid (None unless every name is labelled) and clazz, if every name is SoccerNet's."""
    names = []
    for path in paths:
        for parse in (parse_name, parse_challenge_name):
            try:
                names.append(parse(path))
                break
            except DataError:
                continue
        else:
            return None
    uid = np.array([n.person_uid for n in names], np.int64)
    return {
        "bbox_idx": np.array([n.bbox_idx for n in names], np.int64),
        "action_idx": np.array([n.action_idx for n in names], np.int64),
        "person_uid": None if (uid < 0).any() else uid,
        "clazz": np.array([n.clazz for n in names]),
    }


def _check_unique(paths: list[str], roles: np.ndarray, bbox_idx: np.ndarray) -> None:
    seen: dict[tuple[str, int], str] = {}
    for path, role, bbox in zip(paths, roles.tolist(), bbox_idx.tolist()):
        if (role, bbox) in seen:
            raise DataError(f"{path}: {role} bbox_idx {bbox} again (also {seen[role, bbox]}); images of two splits?")
        seen[role, bbox] = path
