"""Stage rerank: k-reciprocal re-ranking of the fused distances, per action, for every split.

Reads ``<fused>/<split>.h5`` for each of valid, test and challenge that exists and writes
``<out>/<split>.h5``; with ``rerank.enabled: false`` the fused blocks are written unchanged.
Params: ``rerank.enabled``, ``rerank.k1``, ``rerank.k2``, ``rerank.lambda``.

    python stages/rerank.py --params params.yaml --fused artifacts/fused --out artifacts/reranked
"""

from __future__ import annotations

import argparse
from pathlib import Path

from soccerreid.cli import run_stage
from soccerreid.config import load_params
from soccerreid.errors import DataError
from soccerreid.io import atomic_dir
from soccerreid.retrieval import rerank_blocks
from soccerreid.schema import EVAL_SPLITS, read_blocks, write_blocks


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--fused", required=True, help="folder of fused <split>.h5 distance blocks")
    parser.add_argument("--out", required=True, help="folder for re-ranked <split>.h5 blocks")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    cfg = load_params(args.params).rerank
    paths = [p for p in (Path(args.fused) / f"{s}.h5" for s in EVAL_SPLITS) if p.is_file()]
    if not paths:
        raise DataError(f"{args.fused}: no fused distances for any of {', '.join(EVAL_SPLITS)} (<split>.h5)")
    fused = [read_blocks(p) for p in paths]
    with atomic_dir(args.out) as out:
        for path, blocks in zip(paths, fused):
            result = rerank_blocks(blocks, cfg.k1, cfg.k2, cfg.lambda_) if cfg.enabled else blocks
            write_blocks(out / path.name, result)
            print(f"{path} -> {Path(args.out) / path.name} ({result.source})")


if __name__ == "__main__":
    run_stage(main)
