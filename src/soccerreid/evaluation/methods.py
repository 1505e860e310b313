"""Every Table 1 row from cached distances: single models, fusions, grid search, re-ranking presets.

These are the functions the ``fuse``, ``score`` and ``report`` stages share, so the report can
recompute any row from ``artifacts/distances`` (and features for concat) in seconds.

Examples::

    result = grid_search(model_blocks, step=0.1)
    sections = {name: score_section(b) for name, b in rerank_presets(fused).items()}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from soccerreid.config.retrieval import RERANK_PRESETS
from soccerreid.evaluation.metrics import RANKS, cmc_curve, score_queries, summarize, summarize_by_class
from soccerreid.retrieval.fusion import fuse_weighted, normalize_rows, simplex_grid
from soccerreid.retrieval.rerank import rerank_blocks
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

    Examples::

        result = grid_search([a, b, c], step=0.1)
        result.best_weights, result.to_csv(["resnet50_ibn", "dinov2_lora", "osnet_ain"])
    """
    grid = simplex_grid(len(blocks), step)
    normalized = [b.with_values(normalize_rows(b, normalize), b.source) for b in blocks]
    scores = [summarize(score_queries(fuse_weighted(normalized, w))) for w in grid]
    maps = np.array([s["mAP"] for s in scores])
    rank1 = np.array([s["rank1"] for s in scores])
    best = min(range(len(grid)), key=lambda i: (-maps[i], -rank1[i], i))
    return GridResult(grid, maps, rank1, best)


def rerank_presets(
    blocks: DistanceBlocks, presets: Mapping[str, tuple[int, int, float]] = RERANK_PRESETS
) -> dict[str, DistanceBlocks]:
    """``{preset: re-ranked blocks}`` for each (k1, k2, lambda) preset, all on the same distance space."""
    return {name: rerank_blocks(blocks, *params) for name, params in presets.items()}


def score_section(blocks: DistanceBlocks, ranks: Sequence[int] = RANKS, max_rank: int = 50) -> dict:
    """Summary of labelled ``blocks`` with per-class summaries and the CMC curve.

    Returns ``{"mAP", "rank<k>", "num_queries", "queries_without_positive", "source",
    "classes": {group: summary}, "cmc": [max_rank fractions]}``.

    Examples::

        score_section(read_blocks("artifacts/distances/osnet_ain/valid.h5"))["mAP"]
    """
    results = score_queries(blocks)
    section = summarize(results, tuple(ranks))
    section["source"] = blocks.source
    section["classes"] = summarize_by_class(blocks, results, tuple(ranks))
    section["cmc"] = [float(x) for x in cmc_curve(results, max_rank)]
    return section
