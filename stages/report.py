"""Stage report: Table 1 (``results.md``), the figures and the static explorer, from this run's own metrics.

Reads the scores, ``fusion.json``, the CMC CSV, ``score.split``'s final ranking and index, the
dvclive logs and every method's blocks of ``score.split``. Writes ``results.md``,
``methods.csv`` (for ``dvc plots``), ``figures/*.png`` and ``explorer/index.html`` into ``--out``.
Params: ``report.*``, ``score.split`` and ``data.source``.

    python stages/report.py --params params.yaml --scores metrics/scores.json \
        --distances artifacts/distances --fused artifacts/fused --reranked artifacts/reranked \
        --cmc metrics/cmc.csv --rankings artifacts/rankings --index data/index --live dvclive --out reports
"""

from __future__ import annotations

from pathlib import Path

from soccerreid.config import load_params
from soccerreid.stage import progress, run_stage, stage_parser

INPUTS = {
    "scores": "scores JSON of the score stage",
    "distances": "folder of <model>/<split>.h5 distance blocks",
    "fused": "output folder of the fuse stage (fusion.json)",
    "reranked": "output folder of the rerank stage",
    "cmc": "CMC CSV of the score stage",
    "rankings": "folder of <split>.json final rankings",
    "index": "index folder (<split>.csv)",
    "live": "folder of dvclive/<model> training logs",
    "out": "report folder to write",
}


PARSER = stage_parser(
    __doc__,
    INPUTS,
)


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    params = load_params(args.params)
    cfg, split = params.report, params.score.split
    # the libraries load once the params are valid: a bad params file is refused in a second
    from soccerreid.explorer.run import Run, RunPaths
    from soccerreid.explorer.static import write_static_explorer
    from soccerreid.io import atomic_dir
    from soccerreid.reporting.report import read_report_inputs, write_report

    inputs = read_report_inputs(
        args.scores, args.fused, args.cmc, args.rankings, args.index, args.live, split, params.data.source
    )
    run = Run(RunPaths(Path("."), args.index, args.distances, args.fused, args.reranked, args.rankings, args.scores))
    progress(
        f"report: Table 1 and figures for {inputs.dataset}, {cfg.qualitative_queries} queries' top-{cfg.top_k}; "
        f"the explorer with up to {cfg.explorer_queries} queries under {len(run.methods(split))} methods"
    )
    with atomic_dir(args.out) as out:
        rows = write_report(inputs, out, cfg.top_k, cfg.qualitative_queries, cfg.seed)
        page = write_static_explorer(run, split, out / "explorer", cfg.explorer_queries, cfg.top_k, cfg.seed)
    print(
        f"{args.out}/results.md: {len(rows)} rows; figures in {args.out}/figures; {args.out}/explorer/index.html: "
        f"{page['queries']} queries, {page['thumbnails']} thumbnails, {page['bytes'] / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    run_stage(main)
