"""Every Table 1 row from cached distances: single models and soups, fusions, grid search, query
expansion and re-ranking presets.

These are the functions the ``fuse``, ``score`` and ``report`` stages share, so the report can
recompute any row from ``artifacts/distances`` (and features for concat) in seconds.

Examples::

    result = grid_search(model_blocks, step=0.1)
    scores, cmc = score_table(reranked, {"fusion": {"weighted": fused}, "rerank": {"standard": reranked}})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from soccerreid.errors import DataError
from soccerreid.evaluation.metrics import RANKS, QueryTable, cmc_curve, score_queries, summarize, summarize_by_class
from soccerreid.evaluation.ranking import attach_labels, ground_truth_from_blocks, official_scores, spread_actions
from soccerreid.retrieval.fusion import normalize_rows, simplex_grid, weighted_sum
from soccerreid.schema import DistanceBlocks


@dataclass(frozen=True)
class GridResult:
    """Grid search outcome: ``weights`` (K, M) float64, ``mAP`` and ``rank1`` (K,) float64, ``best`` row."""

    weights: np.ndarray
    mAP: np.ndarray
    rank1: np.ndarray
    best: int

    @property
    def best_weights(self) -> tuple[float, ...]:
        """The weights of the best row (highest mAP, then Rank-1, then first)."""
        return tuple(float(w) for w in self.weights[self.best])

    def to_csv(self, names: Sequence[str]) -> str:
        """CSV text: one column per model weight, then ``mAP`` and ``rank1``, one row per weight vector."""
        lines = [",".join([*names, "mAP", "rank1"])]
        for w, m, r in zip(self.weights, self.mAP, self.rank1):
            lines.append(",".join([*(f"{x:g}" for x in w), f"{m:.6f}", f"{r:.6f}"]))
        return "\n".join(lines) + "\n"


def grid_search(blocks: Sequence[DistanceBlocks], step: float = 0.1, normalize: str = "none") -> GridResult:
    """Score the weighted fusion of labelled ``blocks`` at every point of the weight simplex.

    Each point's scores equal those of :func:`fuse_weighted` then :func:`score_queries`; only
    the query-gallery distances are fused (:class:`QueryTable`), except for the per-action
    shift of a normalised fusion, which needs each whole fused block's minimum.

    Examples::

        result = grid_search([a, b, c], step=0.1)
        result.best_weights, result.to_csv(["resnet50_ibn", "dinov2_lora", "osnet_ain"])
    """
    grid = simplex_grid(len(blocks), step)
    table = QueryTable(blocks[0])
    normalized = [normalize_rows(b, normalize) for b in blocks]
    rows = [table.rows(values) for values in normalized]
    scores = []
    for w in grid:
        fused = weighted_sum(rows, w)
        if normalize != "none":
            minima = np.minimum.reduceat(weighted_sum(normalized, w), blocks[0].offsets[:-1])
            fused = fused - minima[table.element_action]
        scores.append(summarize(table.score(fused)))
    maps = np.array([s["mAP"] for s in scores])
    rank1 = np.array([s["rank1"] for s in scores])
    best = min(range(len(grid)), key=lambda i: (-maps[i], -rank1[i], i))
    return GridResult(grid, maps, rank1, best)


def models_to_score(models: Sequence[str], soups: Mapping[str, Sequence[str]]) -> list[str]:
    """The single-model rows of Table 1: ``models`` (the fused ones), then each soup's members
    and the soup itself, each name once.

    Examples::

        models_to_score(["osnet_ain"], {"soup": ["osnet_ain", "osnet_ain_s1"]})   # [osnet_ain, osnet_ain_s1, soup]
    """
    names = list(models)
    for soup, members in soups.items():
        names += [name for name in (*members, soup) if name not in names]
    return names


def _score_named(
    named: Mapping[str, DistanceBlocks], ranks: Sequence[int] = RANKS, max_rank: int = 50
) -> tuple[dict, dict]:
    """``({name: summary with "classes"}, {name: (max_rank,) CMC curve})`` for several labelled blocks."""
    sections, curves = {}, {}
    for name, blocks in named.items():
        results = score_queries(blocks)
        sections[name] = summarize(results, tuple(ranks))
        sections[name]["classes"] = summarize_by_class(blocks, results, tuple(ranks))
        curves[name] = cmc_curve(results, max_rank)
    return sections, curves


def cmc_table(curves: Mapping[str, np.ndarray]) -> str:
    """CSV text ``rank,<name>,...``: one row per rank 1..R, accuracies as fractions (for dvc plots).

    Examples::

        cmc_table({"final": np.array([0.5, 0.8])})   # "rank,final\n1,0.500000\n2,0.800000\n"
    """
    names = list(curves)
    length = len(next(iter(curves.values())))
    lines = [",".join(["rank", *names])]
    for r in range(length):
        lines.append(",".join([str(r + 1), *(f"{curves[n][r]:.6f}" for n in names)]))
    return "\n".join(lines) + "\n"


def score_table(
    final: DistanceBlocks,
    sections: Mapping[str, Mapping[str, DistanceBlocks]],
    ranks: Sequence[int] = RANKS,
    max_rank: int = 50,
) -> tuple[dict, str]:
    """``(scores, cmc_csv)``: Table 1 scored, the final method's scores at top level, one section per group.

    ``sections`` maps a group (``models``, ``fusion``, ``rerank``) to ``{name: blocks}``. The
    CMC CSV has one column for the final method and one per ``<group>_<name>``.

    Examples::

        scores, cmc = score_table(reranked, {"models": {"osnet_ain": b}, "rerank": presets})
        scores["mAP"], scores["models"]["osnet_ain"]["rank1"]
    """
    named = {"final": final, **{f"{g}_{n}": b for g, group in sections.items() for n, b in group.items()}}
    scored, curves = _score_named(named, ranks, max_rank)
    scores = {"split": final.split, "method": final.source, **scored.pop("final")}
    for group, members in sections.items():
        scores[group] = {name: scored[f"{group}_{name}"] for name in members}
    return scores, cmc_table(curves)


def official_section(blocks: DistanceBlocks, ranking: dict, max_actions: int) -> dict:
    """The official scorer's ``{"mAP", "rank1"}`` on ``ranking``, checked against ours on the same actions.

    The check runs on at most ``max_actions`` actions of labelled ``blocks``, evenly spaced over
    the split (:func:`~soccerreid.evaluation.ranking.spread_actions`), since the official scorer
    is a pure-Python loop over queries; ``ranking`` is cut to their queries. Our mAP must equal
    the official's and our Rank-1 equal it at the official's float32 precision, else a
    :class:`DataError` stops the stage. The official scorer rejects queries without a positive;
    then the section says so instead.

    Examples::

        official_section(final, ranking_from_blocks(final), max_actions=200)
        # {"mAP": ..., "rank1": ..., "agrees": True, "actions": 200, "queries": 1330}
    """
    checked = spread_actions(blocks, max_actions)
    ours = summarize(score_queries(checked))
    if ours["queries_without_positive"]:
        return {
            "skipped": f"{ours['queries_without_positive']} queries have no positive; the official scorer rejects them"
        }
    truth = ground_truth_from_blocks(checked)
    official = official_scores(truth, {q: ranking[q] for q in truth["query"] if q in ranking})
    agrees = official["mAP"] == ours["mAP"] and np.float32(official["rank1"]) == np.float32(ours["rank1"])
    if not agrees:
        raise DataError(
            f"official scorer disagrees on {blocks.split}: mAP {official['mAP']!r} / Rank-1 {official['rank1']!r}, "
            f"ours {ours['mAP']!r} / {ours['rank1']!r}"
        )
    return {**official, "agrees": True, "actions": int(checked.sizes.size), "queries": ours["num_queries"]}


def score_challenge(
    final: DistanceBlocks,
    sections: Mapping[str, Mapping[str, DistanceBlocks]],
    ground_truth: dict,
    ranking: dict,
    source: str,
    ranks: Sequence[int] = RANKS,
    max_rank: int = 50,
) -> dict:
    """Every Table 1 row on the label-free challenge split, scored with its released labels.

    ``ground_truth`` is the bbox_info-layout labels (``source`` names it in errors), ``ranking``
    the exported challenge ranking, checked by the official scorer as well: the result is
    :func:`score_table` of the labelled blocks plus ``official``, the official ``{"mAP", "rank1"}``.

    Examples::

        scores["challenge"] = score_challenge(final, sections, labels, ranking, "challenge_groundtruth.json")
    """
    label = lambda blocks: attach_labels(blocks, ground_truth, source)  # noqa: E731
    labelled = {group: {name: label(b) for name, b in members.items()} for group, members in sections.items()}
    scores, _ = score_table(label(final), labelled, ranks, max_rank)
    return {**scores, "official": official_scores(ground_truth, ranking)}
