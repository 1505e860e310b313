"""Stage rerank: query expansion, then k-reciprocal re-ranking, of the fused distances, per action, for every split.

Reads ``<fused>/<split>.h5`` for each of valid, test and challenge that exists and writes
(layout: ``soccerreid.layout``) ``<out>/<split>.h5``: the fused blocks, query-expanded first
when ``qe.enabled`` (``qe.method``, exact from the cosine blocks), then re-ranked with
``rerank.*`` when ``rerank.enabled`` (with neither, unchanged); ``<out>/presets/<preset>/<split>.h5``, the report's
four presets, and
``<out>/qe/<method>/<split>.h5``, the three query expansions at ``qe.k/alpha/times`` (when the
fused blocks are cosine blocks of unit features): Table 1's rows, scored by the score stage.
All re-ranking settings of one input share their work
(``soccerreid.retrieval.rerank.rerank_split``). Params: ``rerank.*`` and ``qe.*``.

    python stages/rerank.py --params params.yaml --fused artifacts/fused --out artifacts/reranked
"""

from __future__ import annotations

from soccerreid.config import load_params
from soccerreid.config.retrieval import RERANK_PRESETS
from soccerreid.io import atomic_dir
from soccerreid.layout import split_file, write_reranked
from soccerreid.retrieval.rerank import rerank_split
from soccerreid.schema import read_blocks
from soccerreid.splits import split_files
from soccerreid.stage import progress, run_stage, stage_parser

PARSER = stage_parser(
    __doc__,
    {"fused": "folder of fused <split>.h5 distance blocks", "out": "folder for re-ranked <split>.h5 blocks"},
)


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    params = load_params(args.params)
    cfg, qe = params.rerank, params.qe
    paths = split_files(args.fused, what="fused distances")
    fused = [read_blocks(p) for p in paths.values()]
    progress(
        f"rerank: {f'qe {qe.method}, then ' if qe.enabled else ''}{cfg.describe()} "
        f"on {', '.join(b.split for b in fused)} "
        f"({sum(b.sizes.size for b in fused):,} actions), with Table 1's presets {', '.join(RERANK_PRESETS)} "
        f"and query expansions (k={qe.k}, alpha={qe.alpha:g}, times={qe.times})"
    )
    with atomic_dir(args.out) as out:
        for (split, path), blocks in zip(paths.items(), fused):
            reranked, rows = rerank_split(
                blocks,
                cfg.setting,
                RERANK_PRESETS,
                qe.applied,
                qe.k,
                qe.alpha,
                qe.times,
            )
            write_reranked(out, split, reranked, rows)
            print(f"{path} -> {split_file(args.out, split)} ({reranked.source})")


if __name__ == "__main__":
    run_stage(main)
