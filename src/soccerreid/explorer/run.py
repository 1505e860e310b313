"""A finished run, query by query: every method's ranking and AP of each query, read from its artifacts.

Nothing is recomputed but what the score stage computes from cached blocks in a second: a
method's per-query AP (:func:`~soccerreid.evaluation.metrics.score_queries`) and ranking
(:func:`~soccerreid.evaluation.ranking.ranking_from_blocks`; the final method's is
``artifacts/rankings/<split>.json``), each loaded when first asked for. A missing artifact is a
one-line :class:`DataError` naming the file and the command that makes it.

Examples::

    run = Run(RunPaths.under("."))
    methods = run.methods("valid")                       # final, models/..., fusion/..., rerank/...
    table = query_table(run, "valid", "models/osnet_ain", "final")
    table = sort_queries(filter_queries(table, rank1="miss"), "delta_desc")
    view = retrieval(run, "valid", "final", query=int(table.index[0]), top_k=10)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from soccerreid.data.index import read_index
from soccerreid.errors import DataError, need
from soccerreid.evaluation.metrics import score_queries
from soccerreid.evaluation.ranking import ranking_from_blocks
from soccerreid.layout import split_file, table_files
from soccerreid.reporting.qualitative import crop_lookup
from soccerreid.reporting.table import method_label
from soccerreid.schema import read_blocks

FINAL = "final"
SORTS = {
    "ap_asc": ("ap", True),
    "ap_desc": ("ap", False),
    "delta_asc": ("delta", True),
    "delta_desc": ("delta", False),
    "query": ("query", True),
}


@dataclass(frozen=True)
class RunPaths:
    """Where a run's artifacts are; crop paths of the index are relative to ``root``; ``models``
    (the model files, for search by crop) may be unknown."""

    root: Path
    index: Path
    distances: Path
    fused: Path
    reranked: Path
    rankings: Path
    scores: Path
    models: Path | None = None

    @classmethod
    def under(cls, root: str | os.PathLike) -> RunPaths:
        """The layout of dvc.yaml under the repository ``root``."""
        root = Path(root)
        art = root / "artifacts"
        return cls(
            root,
            root / "data" / "index",
            art / "distances",
            art / "fused",
            art / "reranked",
            art / "rankings",
            root / "metrics" / "scores.json",
            art / "models",
        )


@dataclass(frozen=True)
class Method:
    """One ranked method of a split: ``key`` (``final``, ``models/<m>``, ``fusion/<f>``,
    ``rerank/<preset>``), Table 1's ``label`` and the split's ``mAP`` (fraction)."""

    key: str
    label: str
    mAP: float


@dataclass(frozen=True)
class MethodResults:
    """A method on a split. ``queries``: one row per query, indexed by its bbox_idx, with columns
    ``action``, ``clazz``, ``ap`` (float, NaN without a positive) and ``first_hit`` (1-based rank
    of the first true match, 0 without); ``ranking``: the official format, every query's whole
    action gallery as bbox_idx, nearest first."""

    queries: pd.DataFrame
    ranking: dict[str, list[int]]


class Run:
    """The artifacts of a run, read lazily and kept once read (one per explorer process)."""

    def __init__(self, paths: RunPaths) -> None:
        self.paths = paths
        self.results = lru_cache(maxsize=32)(self._results)
        self.index = lru_cache(maxsize=4)(self._index)
        self.crops = lru_cache(maxsize=8)(self._crops)

    @cached_property
    def scores(self) -> dict:
        """The score stage's ``metrics/scores.json``."""
        path = need(self.paths.scores, "dvc repro score", "the run was never scored")
        return json.loads(path.read_text())

    @cached_property
    def fusion_info(self) -> dict:
        """The fuse stage's ``fusion.json`` (models, method, weights)."""
        return json.loads(need(self.paths.fused / "fusion.json", "dvc repro fuse").read_text())

    def splits(self) -> list[str]:
        """The scored splits: ``score.split`` and, when scored too, the held-out test split."""
        held = self.scores.get("heldout")
        return [self.scores["split"]] + ([held["split"]] if held else [])

    def section(self, split: str) -> dict:
        """The scores of every method on ``split`` (the top level or ``heldout`` of scores.json)."""
        for section in (self.scores, self.scores.get("heldout") or {}):
            if section.get("split") == split:
                return section
        raise DataError(f"{self.paths.scores}: split {split!r} was not scored (have {', '.join(self.splits())})")

    def methods(self, split: str) -> list[Method]:
        """The final method, then Table 1's rows in its order: single models and soups, fusions,
        query expansions, re-rankings."""
        section, info, soups = self.section(split), self.fusion_info, self.scores.get("soups", {})
        methods = [Method(FINAL, f"Final: {section['method']}", section["mAP"])]
        for group in ("models", "fusion", "qe", "rerank"):
            methods += [
                Method(
                    f"{group}/{n}", method_label(group, n, info, soups, self.scores.get("qe_settings")), score["mAP"]
                )
                for n, score in section.get(group, {}).items()
            ]
        return methods

    def default_pair(self, split: str) -> tuple[str, str]:
        """``(best single model, final)``: the comparison the report's Table 1 asks about."""
        singles = [m for m in self.methods(split) if m.key.startswith("models/")]
        return max(singles, key=lambda m: m.mAP).key, FINAL

    def label(self, split: str, key: str) -> str:
        """The label of method ``key`` on ``split``."""
        return next(m.label for m in self.methods(split) if m.key == key)

    def blocks_path(self, split: str, key: str) -> tuple[Path, str]:
        """The blocks file of method ``key`` on ``split`` and the command that makes it."""
        if key == FINAL:
            return split_file(self.paths.reranked, split), "dvc repro rerank"
        group, _, name = key.partition("/")
        soups, imported = self.scores.get("soups", {}), self.scores.get("imported", [])
        paths = table_files(
            self.paths.distances, self.paths.fused, self.paths.reranked, list(self.section(split)["models"]), split
        )
        if name not in paths.get(group, {}):
            expected = "final, models/<model>, fusion/<method>, qe/<method> or rerank/<preset>"
            raise DataError(f"method {key!r}: unknown (expected {expected})")
        return paths[group][name], f"dvc repro {_stage_of(group, name, soups, imported)}"

    def _results(self, split: str, key: str) -> MethodResults:
        path, command = self.blocks_path(split, key)
        blocks = read_blocks(need(path, command))
        results = score_queries(blocks)
        member_action = np.repeat(blocks.action_idx, blocks.sizes)
        queries = pd.DataFrame(
            {
                "action": member_action[results.query],
                "clazz": blocks.clazz[results.query],
                "ap": results.average_precision,
                "first_hit": results.first_hit,
            },
            index=pd.Index(blocks.bbox_idx[results.query], name="query"),
        )
        if key == FINAL:
            ranking = json.loads(need(self.paths.rankings / f"{split}.json", "dvc repro score").read_text())
        else:
            ranking = ranking_from_blocks(blocks)
        return MethodResults(queries, ranking)

    def _index(self, split: str) -> pd.DataFrame:
        need(self.paths.index / f"{split}.csv", "dvc repro prepare")
        frame = read_index(self.paths.index, split)
        frame["path"] = [p if os.path.isabs(p) else str(self.paths.root / p) for p in frame["path"]]
        return frame

    def _crops(self, split: str, role: str) -> tuple[dict[int, str], dict[int, int]]:
        return crop_lookup(self.index(split), role)

    def models(self) -> dict[str, Path]:
        """``{model: model file}`` of every trained model of the run."""
        if self.paths.models is None:
            raise DataError("no folder of model files was given")
        files = sorted(need(self.paths.models, "dvc repro train").glob("*/model.pt"))
        if not files:
            raise DataError(f"{self.paths.models}: no <model>/model.pt; `dvc repro train` makes them")
        return {f.parent.name: f for f in files}


def query_table(run: Run, split: str, a: str, b: str | None = None) -> pd.DataFrame:
    """One row per query of ``split`` under method ``a``: ``action``, ``clazz``, ``ap``,
    ``first_hit`` and, with ``b``, ``ap_b`` and ``delta`` (= ap_b - ap, NaN without a positive)."""
    table = run.results(split, a).queries.copy()
    if b is not None:
        table["ap_b"] = run.results(split, b).queries["ap"].reindex(table.index)
        table["delta"] = table["ap_b"] - table["ap"]
    return table


def filter_queries(
    table: pd.DataFrame,
    clazz: str | None = None,
    action: int | None = None,
    rank1: str | None = None,
    ap_range: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """The rows of a :func:`query_table` of class ``clazz``, action ``action``, Rank-1 ``hit`` or
    ``miss`` (``rank1``), with ``ap_range[0] <= ap <= ap_range[1]``; ``None`` keeps every row."""
    keep = np.ones(len(table), bool)
    if clazz:
        keep &= (table["clazz"] == clazz).to_numpy()
    if action is not None:
        keep &= (table["action"] == action).to_numpy()
    if rank1 in ("hit", "miss"):
        keep &= ((table["first_hit"] == 1) == (rank1 == "hit")).to_numpy()
    elif rank1 is not None:
        raise ValueError(f"rank1: expected hit, miss or None, got {rank1!r}")
    if ap_range is not None:
        keep &= table["ap"].between(*ap_range).to_numpy()
    return table[keep]


def sort_queries(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """``table`` sorted by one of :data:`SORTS` (``delta_*`` needs a compared method); NaNs last, ties by query."""
    if by not in SORTS:
        raise ValueError(f"sort: expected one of {', '.join(SORTS)}, got {by!r}")
    column, ascending = SORTS[by]
    if column == "query":
        return table.sort_index()
    if column not in table:
        raise DataError("sorting by the AP change needs a second method to compare with")
    return table.sort_index().sort_values(column, ascending=ascending, kind="stable", na_position="last")


@dataclass(frozen=True)
class Retrieval:
    """A query and its ``top_k`` under one method: crop paths, ``matches`` (same identity) of the
    top-k, ``match_ranks`` the 1-based rank of every true match in the whole ranking, and ``ap``."""

    query: int
    action: int
    query_path: str
    gallery: list[int]
    gallery_paths: list[str]
    matches: list[bool]
    match_ranks: list[int]
    ap: float


def retrieval(run: Run, split: str, key: str, query: int, top_k: int) -> Retrieval:
    """Query ``query`` (its bbox_idx) of ``split`` ranked by method ``key``, cut at ``top_k``."""
    results = run.results(split, key)
    if query not in results.queries.index:
        raise DataError(f"query {query}: not a query of {split} (bbox_idx of the query list)")
    query_path, query_uid = run.crops(split, "query")
    gallery_path, gallery_uid = run.crops(split, "gallery")
    ranked = results.ranking[str(query)]
    matches = [bool(gallery_uid[g] == query_uid[query]) for g in ranked]
    row = results.queries.loc[query]
    return Retrieval(
        query=query,
        action=int(row["action"]),
        query_path=query_path[query],
        gallery=ranked[:top_k],
        gallery_paths=[gallery_path[g] for g in ranked[:top_k]],
        matches=matches[:top_k],
        match_ranks=[r + 1 for r, hit in enumerate(matches) if hit],
        ap=float(row["ap"]),
    )


def _stage_of(group: str, name: str, soups: Mapping, imported: Sequence[str]) -> str:
    """The DVC stage that writes the blocks of Table 1's row ``group/name``."""
    if group != "models":
        return "fuse" if group == "fusion" else "rerank"
    if name in soups:
        return f"soup@{name}"
    return f"distances_imported@{name}" if name in imported else f"distances@{name}"
