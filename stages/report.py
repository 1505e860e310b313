"""Stage report: Table 1 (``results.md``), the figures and the static explorer, from this run's own metrics.

Reads the scores JSON, the fuse stage's ``fusion.json``, the CMC CSV, the final ranking of
``score.split`` with that split's index, the dvclive logs of every model and every method's
blocks of ``score.split`` (distances, fusions, re-rankings). Writes into ``--out``:
``results.md``, ``methods.csv`` (for ``dvc plots``), ``figures/*.png`` and
``explorer/index.html`` with its thumbnails (``soccerreid.explorer.static``).
Params: ``report.*``, ``score.split`` and ``data.source`` (to name the dataset).

    python stages/report.py --params params.yaml --scores metrics/scores.json \
        --distances artifacts/distances --fused artifacts/fused --reranked artifacts/reranked \
        --cmc metrics/cmc.csv --rankings artifacts/rankings --index data/index --live dvclive --out reports
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from soccerreid.cli import progress, run_stage
from soccerreid.config import load_params
from soccerreid.data.index import read_index
from soccerreid.errors import DataError
from soccerreid.explorer.run import Run, RunPaths
from soccerreid.explorer.static import write_static_explorer
from soccerreid.io import atomic_dir
from soccerreid.reporting.report import ReportInputs, read_histories, write_report

DATASETS = {"synthetic": "embedded synthetic SoccerNet", "soccernet": "SoccerNet ReID v3"}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--scores", required=True, help="scores JSON of the score stage")
    parser.add_argument("--distances", required=True, help="folder of <model>/<split>.h5 distance blocks")
    parser.add_argument("--fused", required=True, help="output folder of the fuse stage (fusion.json)")
    parser.add_argument("--reranked", required=True, help="output folder of the rerank stage")
    parser.add_argument("--cmc", required=True, help="CMC CSV of the score stage")
    parser.add_argument("--rankings", required=True, help="folder of <split>.json final rankings")
    parser.add_argument("--index", required=True, help="index folder (<split>.csv)")
    parser.add_argument("--live", required=True, help="folder of dvclive/<model> training logs")
    parser.add_argument("--out", required=True, help="report folder to write")
    return parser.parse_args(argv)


def read_input(path: str | Path) -> str:
    """The text of an upstream output, or a one-line DataError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found; run the upstream stages first (dvc repro)")
    return path.read_text()


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    params = load_params(args.params)
    cfg, split = params.report, params.score.split
    fusion_info = json.loads(read_input(Path(args.fused) / "fusion.json"))
    inputs = ReportInputs(
        scores=json.loads(read_input(args.scores)),
        fusion_info=fusion_info,
        cmc_csv=read_input(args.cmc),
        ranking=json.loads(read_input(Path(args.rankings) / f"{split}.json")),
        index=read_index(args.index, split),
        histories=read_histories(Path(args.live), fusion_info["models"]),
        dataset=f"{DATASETS[params.data.source]} ({split} split)",
    )
    run = Run(RunPaths(Path("."), *(Path(getattr(args, k)) for k in ("index", "distances", "fused", "reranked", "rankings", "scores"))))
    progress(f"report: Table 1 and figures for {inputs.dataset}, {cfg.qualitative_queries} queries' top-{cfg.top_k}; "
             f"the explorer with up to {cfg.explorer_queries} queries under {len(run.methods(split))} methods")
    with atomic_dir(args.out) as out:
        rows = write_report(inputs, out, cfg.top_k, cfg.qualitative_queries, cfg.seed)
        page = write_static_explorer(run, split, out / "explorer", cfg.explorer_queries, cfg.top_k, cfg.seed)
    print(f"{args.out}/results.md: {len(rows)} rows; figures in {args.out}/figures; {args.out}/explorer/index.html: "
          f"{page['queries']} queries, {page['thumbnails']} thumbnails, {page['bytes'] / 1e6:.1f} MB")


if __name__ == "__main__":
    run_stage(main)
