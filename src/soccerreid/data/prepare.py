"""The ``prepare`` stage's library side: get a SoccerNet ReID tree, index every split.

Output folder (written atomically)::

    <index_dir>/train.csv valid.csv test.csv challenge.csv   the crop index (soccerreid.data.index)
    <index_dir>/invalid_images.json                          crops left out: {"count", "images": [...]}
    <index_dir>/challenge_groundtruth.json                   the released challenge labels, when found
    <index_dir>/summary.json                                 images, queries, actions, identities per split

Examples::

    source = generate_source(params.data, "data/raw")
    summary = build_index(source, "data/index", workers=2)
    print(format_summary(summary))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from soccerreid.config.data import DataConfig
from soccerreid.data.index import SplitIndex, decode_splits, scan_split, write_index
from soccerreid.data.metadata import read_bbox_info
from soccerreid.data.naming import NONE_ID
from soccerreid.data.soccernet import check_counts, find_labels, locate_soccernet
from soccerreid.data.synthetic import TASK_DIR, generate_synthetic
from soccerreid.errors import DataError
from soccerreid.io import atomic_dir, write_json
from soccerreid.vocab import SPLITS

SOURCE_FILE = "SOURCE.json"


@dataclass(frozen=True)
class Source:
    """Where the unzipped splits are, the released label files found (``{split: path}``), and
    whether the data is SoccerNet's own, outside DVC (published sizes apply, absolute paths)."""

    reid_dir: Path
    labels: dict[str, Path]
    soccernet: bool


def generate_source(config: DataConfig, raw_dir: str | os.PathLike) -> Source:
    """Make the raw data available: generate it (synthetic) or locate/download/unzip SoccerNet.

    For ``soccernet`` the images stay in ``config.soccernet_dir``; ``raw_dir`` only gets a
    ``SOURCE.json`` pointing there, so that the stage output always exists.

    Examples::

        generate_source(DataConfig(), "data/raw").reid_dir       # PosixPath('data/raw/reid')
    """
    raw_dir = Path(raw_dir)
    if config.source == "synthetic":
        generate_synthetic(config.synthetic, raw_dir, config.resolved_workers)
        return Source(raw_dir / TASK_DIR, find_labels([raw_dir / TASK_DIR]), soccernet=False)
    root = Path(config.soccernet_dir)
    reid_dir = locate_soccernet(root, config.task, SPLITS, download=config.download)
    source = Source(reid_dir, find_labels([reid_dir, root]), soccernet=True)
    with atomic_dir(raw_dir) as tmp:
        write_json(
            tmp / SOURCE_FILE,
            {
                "source": "soccernet",
                "reid_dir": str(reid_dir.resolve()),
                "labels": {k: str(v.resolve()) for k, v in source.labels.items()},
            },
        )
    return source


def build_index(source: Source, index_dir: str | os.PathLike, workers: int = 1) -> dict[str, dict]:
    """Index every split of ``source`` into ``index_dir`` (replaced atomically); return the summary.

    All splits are scanned (names parsed, metadata and released labels cross-checked) before
    any image is decoded, so bad names, missing folders or incomplete copies fail fast.

    Examples::

        build_index(Source(Path("data/raw/reid"), {}, False), "data/index", workers=2)["valid"]
    """
    labels = {split: [path] for split, path in source.labels.items()}
    scanned = [scan_split(source.reid_dir / split, split, labels.get(split, [])) for split in SPLITS]
    indexes = decode_splits(scanned, workers, absolute_paths=source.soccernet)
    summary = {index.split: summarize_split(index, source.soccernet) for index in indexes}
    with atomic_dir(index_dir) as tmp:
        for index in indexes:
            write_index(index.frame, tmp, index.split)
        write_json(tmp / "invalid_images.json", invalid_report(indexes))
        if "challenge" in source.labels:
            challenge = next(index.frame for index in indexes if index.split == "challenge")
            write_json(tmp / "challenge_groundtruth.json", filter_groundtruth(source.labels["challenge"], challenge))
        write_json(tmp / "summary.json", summary)
    return summary


def summarize_split(index: SplitIndex, published_sizes: bool) -> dict:
    """Counts for one split: images, query, gallery, actions, identities, none_ids, invalid, plus notes.

    Identities are (action_idx, person_uid) pairs; None for the unlabelled challenge split.
    ``none_ids`` counts the crops whose id is ``None`` (persons seen in one frame only), which
    ``train.drop_none_ids`` leaves out of training.

    Examples::

        summarize_split(decode_splits([scan_split("data/raw/reid/valid", "valid")])[0], False)["query"]
    """
    frame = index.frame
    roles = frame["role"].value_counts().to_dict()
    labelled = frame[frame["person_uid"] >= 0]
    identities = len(labelled[["action_idx", "person_uid"]].drop_duplicates()) if len(labelled) else None
    notes = list(index.notes)
    if published_sizes:
        notes += check_counts(index.split, roles)
    return {
        "images": len(frame),
        "query": int(roles.get("query", 0)),
        "gallery": int(roles.get("gallery", 0)),
        "actions": int(frame["action_idx"].nunique()),
        "identities": identities,
        "none_ids": int((labelled["jersey"] == NONE_ID).sum()),
        "invalid": len(index.invalid),
        "notes": notes,
    }


def invalid_report(indexes: list[SplitIndex]) -> dict:
    """The ``invalid_images.json`` content: how many crops were left out, which, and why.

    Examples::

        invalid_report(indexes)      # {"count": 1, "images": [{"split": "train", "path": ..., "reason": ...}]}
    """
    images = [
        {"split": index.split, "path": str(path), "reason": reason}
        for index in indexes
        for path, reason in index.invalid.items()
    ]
    return {"count": len(images), "images": images}


def filter_groundtruth(path: Path, challenge: pd.DataFrame) -> dict:
    """The challenge ground truth restricted to indexed crops, dropping queries left without a
    gallery positive (so the official scorer accepts it).

    Examples::

        filter_groundtruth(Path("data/raw/reid/challenge_bbox_info.json"), read_index("data/index", "challenge"))
    """
    entries = read_bbox_info(path)
    kept = set(zip(challenge["role"].tolist(), challenge["bbox_idx"].tolist()))
    groups: dict[str, dict[str, dict]] = {"query": {}, "gallery": {}}
    for (role, bbox_idx), fields in sorted(entries.items()):
        if role not in groups:
            raise DataError(
                f"{path}: expected a {{'query': ..., 'gallery': ...}} ground truth, entry {bbox_idx} has none"
            )
        if (role, bbox_idx) in kept:
            groups[role][str(bbox_idx)] = fields
    positives = {(e["action_idx"], e.get("person_uid")) for e in groups["gallery"].values()}
    groups["query"] = {k: e for k, e in groups["query"].items() if (e["action_idx"], e.get("person_uid")) in positives}
    return groups


def format_summary(summary: dict[str, dict]) -> str:
    """A plain-text table of the summary (one row per split) followed by its notes.

    Examples::

        print(format_summary(build_index(source, "data/index")))
    """
    header = (
        f"{'split':<10}{'images':>9}{'query':>8}{'gallery':>9}{'actions':>9}{'identities':>12}"
        f"{'none_ids':>10}{'invalid':>9}"
    )
    rows = [header]
    for split, s in summary.items():
        identities = "-" if s["identities"] is None else s["identities"]
        rows.append(
            f"{split:<10}{s['images']:>9}{s['query']:>8}{s['gallery']:>9}{s['actions']:>9}{identities:>12}"
            f"{s['none_ids']:>10}{s['invalid']:>9}"
        )
    rows += [f"note: {note}" for s in summary.values() for note in s["notes"]]
    return "\n".join(rows)
