"""Rankings in the official SoccerNet format, validated by the official scorer's own rules.

A ranking maps each query's bbox_idx (a string key) to the bbox_idx ints of its action's whole
gallery, nearest first: ``{"<query bbox_idx>": [gallery bbox_idx, ...]}``. It is the EvalAI
submission format for the challenge split.

Examples::

    ranking = ranking_from_blocks(reranked)
    write_ranking("artifacts/rankings/valid.json", ranking, reranked)   # validated first
    official_scores(ground_truth_from_blocks(reranked), ranking)        # {"mAP", "rank1"}
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from soccerreid.errors import DataError
from soccerreid.evaluation.metrics import rank_queries
from soccerreid.io import write_json
from soccerreid.schema import DistanceBlocks
from soccerreid.vocab import EVAL_ROLES


def ranking_from_blocks(blocks: DistanceBlocks) -> dict[str, list[int]]:
    """``{str(query bbox_idx): [gallery bbox_idx, ...]}``, queries in block order, nearest first.

    Ties keep gallery (bbox_idx) order, the order the scorer in :mod:`.metrics` uses.

    Examples::

        ranking_from_blocks(blocks)["54404"][:3]   # three nearest gallery bbox_idx
    """
    parts = [(query, blocks.bbox_idx[ranked].tolist()) for query, ranked in rank_queries(blocks)]
    query = np.concatenate([q for q, _ in parts])
    lists = [row for _, rows in parts for row in rows]
    keys = blocks.bbox_idx[query].tolist()
    return {str(keys[i]): lists[i] for i in np.argsort(query, kind="stable")}


def validate_ranking(ranking: dict, blocks: DistanceBlocks, source: str = "ranking") -> None:
    """Apply the official scorer's rules; a broken rule is a :class:`DataError` naming ``source``.

    Every query has an entry; entries hold ints only, each once, all from the query's action,
    and the action's whole gallery. Unknown query keys are rejected too.

    Examples::

        validate_ranking(json.loads(Path("submission.json").read_text()), challenge_blocks)
    """
    galleries = _action_galleries(blocks)
    queries = _query_actions(blocks)
    unknown = sorted(set(ranking) - set(queries))
    if unknown:
        raise DataError(f"{source}: unknown query '{unknown[0]}' (not a query of split {blocks.split or '?'})")
    for key, action in queries.items():
        if key not in ranking:
            raise DataError(f"{source}: no ranking for query '{key}'")
        _check_entry(ranking[key], galleries[action], key, source)


def _check_entry(entry: object, gallery: set[int], key: str, source: str) -> None:
    if not isinstance(entry, list):
        raise DataError(f"{source}: ranking of query '{key}' must be a list, got {type(entry).__name__}")
    if set(map(type, entry)) - {int}:
        bad = next(g for g in entry if type(g) is not int)
        raise DataError(f"{source}: ranking of query '{key}' must hold ints only, got {bad!r}")
    listed = set(entry)
    if len(listed) != len(entry):
        raise DataError(f"{source}: ranking of query '{key}' lists a gallery item more than once")
    if listed != gallery:
        stray = sorted(listed - gallery)
        what = (
            f"item {stray[0]} is not in its action's gallery"
            if stray
            else f"misses gallery item {min(gallery - listed)}"
        )
        raise DataError(f"{source}: ranking of query '{key}' {what}")


def _query_actions(blocks: DistanceBlocks) -> dict[str, int]:
    """``{str(query bbox_idx): action_idx}`` for every query."""
    member_action = np.repeat(blocks.action_idx, blocks.sizes)
    is_query = np.arange(member_action.size) < np.repeat(blocks.member_offsets[:-1] + blocks.n_query, blocks.sizes)
    return dict(zip(map(str, blocks.bbox_idx[is_query].tolist()), member_action[is_query].tolist()))


def _action_galleries(blocks: DistanceBlocks) -> dict[int, set[int]]:
    """``{action_idx: set of gallery bbox_idx}``."""
    starts = blocks.member_offsets[:-1] + blocks.n_query
    ends = blocks.member_offsets[1:]
    bbox = blocks.bbox_idx.tolist()
    return {a: set(bbox[s:e]) for a, s, e in zip(blocks.action_idx.tolist(), starts.tolist(), ends.tolist())}


def write_ranking(path: str | os.PathLike, ranking: dict, blocks: DistanceBlocks) -> None:
    """Validate ``ranking`` against ``blocks`` and write it atomically as compact JSON.

    Examples::

        write_ranking("artifacts/rankings/challenge.json", ranking_from_blocks(blocks), blocks)
    """
    validate_ranking(ranking, blocks, str(path))
    write_json(path, ranking, indent=None)


def ground_truth_from_blocks(blocks: DistanceBlocks) -> dict:
    """The official ground-truth layout ``{"query": {...}, "gallery": {...}}`` of labelled ``blocks``.

    Examples::

        json.dumps(ground_truth_from_blocks(blocks))   # what the official scorer reads
    """
    if not blocks.labelled:
        raise DataError(f"{blocks.split or 'blocks'}: cannot build a ground truth from unlabelled data")
    query_end = np.repeat(blocks.member_offsets[:-1] + blocks.n_query, blocks.sizes)
    is_query = np.arange(blocks.bbox_idx.size) < query_end
    member_action = np.repeat(blocks.action_idx, blocks.sizes).tolist()
    entries = [
        {"bbox_idx": b, "action_idx": a, "person_uid": u, "clazz": c}
        for b, a, u, c in zip(
            blocks.bbox_idx.tolist(), member_action, blocks.person_uid.tolist(), blocks.clazz.tolist()
        )
    ]
    return {
        role: {str(e["bbox_idx"]): e for e, q in zip(entries, is_query.tolist()) if q == (role == "query")}
        for role in EVAL_ROLES
    }


def spread_actions(blocks: DistanceBlocks, max_actions: int) -> DistanceBlocks:
    """``blocks`` restricted to at most ``max_actions`` actions evenly spaced over the split (all when fewer).

    The chosen actions keep their blocks, members and labels unchanged, in split order.

    Examples::

        spread_actions(valid, 200).sizes.size       # 200 of SoccerNet valid's 1,751 actions
    """
    total = blocks.sizes.size
    if total <= max_actions:
        return blocks
    chosen = np.unique(np.linspace(0, total - 1, max_actions).round().astype(np.int64))
    starts, ends = blocks.member_offsets[chosen], blocks.member_offsets[chosen + 1]
    members = np.concatenate([np.arange(s, e) for s, e in zip(starts.tolist(), ends.tolist())])
    values = np.concatenate([blocks.values[blocks.offsets[a] : blocks.offsets[a + 1]] for a in chosen.tolist()])
    sizes = blocks.sizes[chosen]
    return replace(
        blocks,
        values=values,
        offsets=np.concatenate(([0], np.cumsum(sizes**2))).astype(np.int64),
        action_idx=blocks.action_idx[chosen],
        n_query=blocks.n_query[chosen],
        n_gallery=blocks.n_gallery[chosen],
        bbox_idx=blocks.bbox_idx[members],
        person_uid=None if blocks.person_uid is None else blocks.person_uid[members],
        clazz=blocks.clazz[members],
    )


def official_scores(ground_truth: dict | str | os.PathLike, ranking: dict | str | os.PathLike) -> dict:
    """``{"mAP", "rank1"}`` from the official ``SoccerNet.Evaluation.ReIdentification.evaluate``.

    Each argument is a mapping or the path of its JSON file. The scorer's printout is swallowed;
    its ``ValueError``/``TypeError`` on a bad ranking becomes a one-line :class:`DataError`.

    Examples::

        official_scores("data/index/challenge_groundtruth.json", "artifacts/rankings/challenge.json")
    """
    from SoccerNet.Evaluation.ReIdentification import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        gt_path = _as_json_file(ground_truth, Path(tmp) / "groundtruth.json")
        ranking_path = _as_json_file(ranking, Path(tmp) / "ranking.json")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                result = evaluate(str(gt_path), str(ranking_path))
        except (ValueError, TypeError, KeyError) as err:
            raise DataError(f"official scorer rejected {ranking_path.name}: {err}") from None
    return {"mAP": float(result["mAP"]), "rank1": float(result["rank-1"])}


def _as_json_file(obj: dict | str | os.PathLike, path: Path) -> Path:
    if isinstance(obj, dict):
        path.write_text(json.dumps(obj))
        return path
    return Path(obj)


def attach_labels(blocks: DistanceBlocks, ground_truth: dict, source: str = "ground truth") -> DistanceBlocks:
    """``blocks`` with ``person_uid`` and ``clazz`` taken from a bbox_info-layout ``ground_truth``.

    A gallery member missing from it is a :class:`DataError` naming ``source``. A query missing
    from it (ground truths drop queries that have no gallery positive) gets an identity of its
    own, so it is counted in ``queries_without_positive`` and, as in the official scorer, left
    out of the averages.

    Examples::

        labelled = attach_labels(challenge_blocks, json.loads(Path(gt_path).read_text()), gt_path)
    """
    gallery, queries = ground_truth.get("gallery", {}), ground_truth.get("query", {})
    is_query = np.arange(blocks.bbox_idx.size) < np.repeat(blocks.member_offsets[:-1] + blocks.n_query, blocks.sizes)
    keys = [str(b) for b in blocks.bbox_idx.tolist()]
    missing = [k for k, q in zip(keys, is_query) if not q and k not in gallery]
    if missing:
        raise DataError(f"{source}: no gallery entry for bbox_idx {missing[0]} of split {blocks.split or '?'}")
    entries = [(queries if q else gallery).get(k) for k, q in zip(keys, is_query)]
    unknown = -1 - np.arange(len(entries))  # never equal to a real person_uid (>= 0) or each other
    uid = np.array([int(e["person_uid"]) if e else u for e, u in zip(entries, unknown)], dtype=np.int64)
    clazz = np.array([str(e.get("clazz", "")) if e else "" for e in entries])
    return replace(blocks, person_uid=uid, clazz=clazz)
