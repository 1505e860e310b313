"""The score stage's scores file, from a run's cached blocks: what it reads and how it assembles them.

The rows are scored by :mod:`soccerreid.evaluation.methods` (pure); this module reads their
blocks from the pipeline's folders (layouts in :mod:`soccerreid.schema`) and puts the sections
of ``metrics/scores.json`` together: the scored split, ``official``, ``heldout`` and ``challenge``.

Examples::

    finals = read_finals("artifacts/reranked", "valid")                      # {split: DistanceBlocks}
    progress(describe_run(finals, ScoreConfig()))
    read = lambda split: read_sections("artifacts/distances", "artifacts/fused", "artifacts/reranked", split, {})
    scores, cmc, rankings = score_run(finals, read, ScoreConfig())
    write_rankings("artifacts/rankings", rankings, finals)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from soccerreid.config.retrieval import RERANK_PRESETS, ScoreConfig
from soccerreid.errors import DataError, need
from soccerreid.evaluation.methods import (
    models_to_score,
    official_section,
    score_challenge,
    score_table,
)
from soccerreid.evaluation.ranking import ranking_from_blocks, write_ranking
from soccerreid.io import atomic_dir
from soccerreid.layout import split_file, table_files
from soccerreid.retrieval.expansion import QE_METHODS
from soccerreid.retrieval.fusion import FUSION_METHODS
from soccerreid.schema import DistanceBlocks, read_blocks
from soccerreid.splits import split_files

Sections = Mapping[str, Mapping[str, DistanceBlocks]]


def read_finals(reranked: str | os.PathLike, split: str) -> dict[str, DistanceBlocks]:
    """``{split: final blocks}`` of every ``<reranked>/<split>.h5`` there is; the scored ``split``
    (``score.split``) missing is a one-line :class:`DataError`.

    Examples::

        read_finals("artifacts/reranked", "valid")       # {"valid": ..., "test": ..., "challenge": ...}
    """
    paths = split_files(reranked)
    if split not in paths:
        raise DataError(f"{split_file(reranked, split)}: not found (score.split is {split})")
    return {name: read_blocks(path) for name, path in paths.items()}


def read_sections(
    distances: str | os.PathLike,
    fused: str | os.PathLike,
    reranked: str | os.PathLike,
    split: str,
    soups: Mapping[str, Sequence[str]],
) -> dict[str, dict[str, DistanceBlocks]]:
    """``{"models", "fusion", "qe", "rerank"}``: ``{name: DistanceBlocks}`` of ``split`` for every Table 1 row.

    ``models``: the fused models (``<fused>/fusion.json``), then every soup's members and the
    soup (:func:`models_to_score`); ``fusion``, every fusion method; ``qe``, every query
    expansion, none for a fusion that is no cosine Gram; ``rerank``, every re-ranking preset; each
    at its place of the Table 1 layout (:func:`soccerreid.layout.table_files`).

    Examples::

        read_sections("artifacts/distances", "artifacts/fused", "artifacts/reranked", "valid", {})["rerank"]["standard"]
    """
    info = json.loads(need(Path(fused) / "fusion.json", "dvc repro fuse").read_text())
    models = models_to_score(info["models"], soups)
    paths = table_files(distances, fused, reranked, models, split)
    return {
        group: {name: read_blocks(path) for name, path in named.items() if group != "qe" or path.is_file()}
        for group, named in paths.items()
    }


def describe_run(finals: Mapping[str, DistanceBlocks], cfg: ScoreConfig) -> str:
    """One line saying what :func:`score_run` scores on ``finals`` (``{split: final blocks}``), for the progress log.

    Examples::

        describe_run(finals, ScoreConfig())   # "score: Table 1 on valid and test (models, 4 fusions, ...)"
    """
    heldout = " and test" if cfg.split == "valid" and "test" in finals else ""
    rows = f"{len(FUSION_METHODS)} fusions, {len(QE_METHODS)} query expansions, {len(RERANK_PRESETS)} re-rankings"
    return (
        f"score: Table 1 on {cfg.split}{heldout} (models, {rows}); official check on up to "
        f"{cfg.official_actions} actions; rankings of {', '.join(finals)}"
    )


def score_run(
    finals: Mapping[str, DistanceBlocks],
    sections: Callable[[str], Sections],
    cfg: ScoreConfig,
    labels: Mapping | None = None,
    truth: str | os.PathLike | None = None,
) -> tuple[dict, str, dict[str, dict]]:
    """``(scores, cmc_csv, rankings)`` of the run: the scores file, the CMC table and the final rankings.

    ``scores`` is :func:`score_table` on ``cfg.split``, ``sections(split)`` giving the Table 1
    blocks of a split (:func:`read_sections`); ``rankings`` is ``{split: official-format ranking}``
    of every split of ``finals`` (``{split: final blocks}``). ``labels`` (e.g. ``soups``,
    ``qe_settings``) are set at top level after the scores; then ``official``
    (:func:`official_section` on ``cfg.official_actions`` actions), ``heldout`` (the same rows on
    test when scoring valid and test is labelled) and ``challenge`` (every row on challenge against
    the bbox_info-layout labels ``truth``, when that file and the challenge blocks exist).

    Examples::

        truth = "data/index/challenge_groundtruth.json"
        scores, cmc, rankings = score_run(finals, read, ScoreConfig(), {"soups": {}}, truth)
        scores["mAP"], scores["heldout"]["rerank"]["standard"]["mAP"]
    """
    rankings = {split: ranking_from_blocks(blocks) for split, blocks in finals.items()}
    scores, cmc = score_table(finals[cfg.split], sections(cfg.split), cfg.ranks, cfg.max_rank)
    scores.update(labels or {})
    scores["official"] = official_section(finals[cfg.split], rankings[cfg.split], cfg.official_actions)
    if cfg.split == "valid" and "test" in finals and finals["test"].labelled:
        scores["heldout"], _ = score_table(finals["test"], sections("test"), cfg.ranks, cfg.max_rank)
    truth = Path(truth) if truth else None
    if truth is not None and truth.is_file() and "challenge" in finals:
        scores["challenge"] = score_challenge(
            finals["challenge"],
            sections("challenge"),
            json.loads(truth.read_text()),
            rankings["challenge"],
            str(truth),
            cfg.ranks,
            cfg.max_rank,
        )
    return scores, cmc, rankings


def write_rankings(
    folder: str | os.PathLike, rankings: Mapping[str, dict], finals: Mapping[str, DistanceBlocks]
) -> None:
    """Write ``<folder>/<split>.json``, every ranking of ``rankings`` validated against its split's
    ``finals`` blocks (:func:`~soccerreid.evaluation.ranking.write_ranking`), whole or not at all.

    Examples::

        write_rankings("artifacts/rankings", {"valid": ranking_from_blocks(final)}, {"valid": final})
    """
    with atomic_dir(folder) as out:
        for split, ranking in rankings.items():
            write_ranking(out / f"{split}.json", ranking, finals[split])
