"""The Table 1 folder layout: where the pipeline keeps each row's distance blocks, defined once.

Every file is one split's :class:`~soccerreid.schema.DistanceBlocks` (``<split>.h5``)::

    <distances>/<model>/<split>.h5           a single model or a soup         (stages distances, soup)
    <fused>/<split>.h5                       the configured fusion, rerank's input        (stage fuse)
    <fused>/methods/<method>/<split>.h5      every fusion method (FUSION_METHODS)         (stage fuse)
    <reranked>/<split>.h5                    the final method                             (stage rerank)
    <reranked>/presets/<preset>/<split>.h5   every re-ranking preset (RERANK_PRESETS)     (stage rerank)
    <reranked>/qe/<method>/<split>.h5        every query expansion (QE_METHODS), only for
                                             cosine blocks of unit features               (stage rerank)

The fuse and rerank stages write through :func:`write_fused` and :func:`write_reranked`; the
score stage (:func:`soccerreid.evaluation.scores.read_sections`), the report and the explorer
find the rows through :func:`table_files`, keyed by the scores file's sections (``models``,
``fusion``, ``qe``, ``rerank``).

Examples::

    fusion_file("artifacts/fused", "weighted", "valid")       # artifacts/fused/methods/weighted/valid.h5
    table_files("artifacts/distances", "artifacts/fused", "artifacts/reranked", ["osnet_ain"], "valid")
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from soccerreid.config.retrieval import RERANK_PRESETS
from soccerreid.retrieval.expansion import QE_METHODS
from soccerreid.retrieval.fusion import FUSION_METHODS
from soccerreid.schema import DistanceBlocks, write_blocks

Folder = str | os.PathLike


def split_file(folder: Folder, split: str) -> Path:
    """``<folder>/<split>.h5``: a stage's main output of ``split`` (fused, re-ranked, one model's)."""
    return Path(folder) / f"{split}.h5"


def model_file(distances: Folder, model: str, split: str) -> Path:
    """``<distances>/<model>/<split>.h5``: the distance blocks of one model or soup."""
    return split_file(Path(distances) / model, split)


def fusion_file(fused: Folder, method: str, split: str) -> Path:
    """``<fused>/methods/<method>/<split>.h5``: one fusion method's blocks."""
    return split_file(Path(fused) / "methods" / method, split)


def preset_file(reranked: Folder, preset: str, split: str) -> Path:
    """``<reranked>/presets/<preset>/<split>.h5``: the fused blocks re-ranked with one preset."""
    return split_file(Path(reranked) / "presets" / preset, split)


def qe_file(reranked: Folder, method: str, split: str) -> Path:
    """``<reranked>/qe/<method>/<split>.h5``: the fused blocks query-expanded with one method."""
    return split_file(Path(reranked) / "qe" / method, split)


def table_files(
    distances: Folder, fused: Folder, reranked: Folder, models: Sequence[str], split: str
) -> dict[str, dict[str, Path]]:
    """Where the blocks of every Table 1 row of ``split`` are, by scores section and row name.

    ``{"models": {model: model_file}, "fusion": {method: fusion_file}, "qe": {method: qe_file},
    "rerank": {preset: preset_file}}`` for ``models`` (the fused models, then soups and their
    members), every fusion method, query expansion (written only for a cosine fusion: the caller
    checks the file) and re-ranking preset.

    Examples::

        table_files("artifacts/distances", "artifacts/fused", "artifacts/reranked", ["osnet_ain"], "valid")["rerank"]
    """
    return {
        "models": {m: model_file(distances, m, split) for m in models},
        "fusion": {m: fusion_file(fused, m, split) for m in FUSION_METHODS},
        "qe": {m: qe_file(reranked, m, split) for m in QE_METHODS},
        "rerank": {p: preset_file(reranked, p, split) for p in RERANK_PRESETS},
    }


def write_fused(out: Folder, split: str, variants: Mapping[str, DistanceBlocks], method: str) -> None:
    """Write the fuse stage's blocks of ``split`` into ``out``: every method of ``variants``
    (``{method: blocks}``) at its :func:`fusion_file`, and the configured ``method`` at
    :func:`split_file` (rerank's input)."""
    for name, blocks in variants.items():
        write_blocks(fusion_file(out, name, split), blocks)
    write_blocks(split_file(out, split), variants[method])


def write_reranked(
    out: Folder, split: str, final: DistanceBlocks, rows: Mapping[str, Mapping[str, DistanceBlocks]]
) -> None:
    """Write the rerank stage's blocks of ``split`` into ``out``: ``final`` at :func:`split_file`,
    and the rows of :func:`~soccerreid.retrieval.rerank.rerank_split` (``{"presets": {preset:
    blocks}, "qe": {method: blocks}}``) at their :func:`preset_file` and :func:`qe_file`."""
    write_blocks(split_file(out, split), final)
    for preset, blocks in rows["presets"].items():
        write_blocks(preset_file(out, preset, split), blocks)
    for method, blocks in rows["qe"].items():
        write_blocks(qe_file(out, method, split), blocks)
