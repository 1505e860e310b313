"""Stage train@<model>: train one model (params ``models.<model>``) and write its model file.

Writes ``<out>/{model.pt,summary.json,fingerprint.json}`` (model file, val mAP and history, what shaped them), kept
while the fingerprint holds (docs/training.md); ``--checkpoints`` survives re-runs (resume). Run as ``python
stages/train.py --params params.yaml --model osnet_ain --index data/index --out artifacts/models/osnet_ain --checkpoints
checkpoints/osnet_ain --live dvclive/osnet_ain``, or under ``torchrun --nproc_per_node=N`` (DDP: NCCL or gloo; rank 0 writes).
"""

from __future__ import annotations

import argparse

from soccerreid.cli import run_stage
from soccerreid.config import load_params
from soccerreid.data.index import read_index
from soccerreid.errors import ConfigError
from soccerreid.fingerprint import Fingerprint, code_parts
from soccerreid.training import (
    export_run,
    init_distributed,
    keep_outputs,
    shutdown_distributed,
    train_model,
    weights_fingerprint,
)
from soccerreid.training.rows import training_rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", required=True)
    parser.add_argument("--model", required=True, help="a key of params models")
    parser.add_argument("--index", required=True, help="folder with valid.csv and the <split>.csv of train.splits")
    parser.add_argument("--out", required=True, help="output folder (model.pt, summary.json)")
    parser.add_argument("--checkpoints", required=True, help="checkpoint folder kept across runs")
    parser.add_argument("--live", default=None, help="dvclive folder")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    params = load_params(args.params)
    if args.model not in params.models:
        raise ConfigError(f"{args.params}: models.{args.model}: no such model (have {list(params.models)})")
    cfg = params.models[args.model]
    train = training_rows({split: read_index(args.index, split) for split in cfg.train.splits}, cfg.train.drop_none_ids)
    valid = read_index(args.index, "valid")
    ctx = init_distributed(args.device)
    try:
        weights = weights_fingerprint(cfg, train, valid)
        stamp = Fingerprint({**weights.parts, **code_parts(__file__)})
        if keep_outputs(args.out, args.live, args.checkpoints, stamp):
            print(f"train@{args.model}: {args.out} kept: weight-shaping config, data and code unchanged")
            return
        result = train_model(
            cfg,
            train,
            valid,
            args.checkpoints,
            live_dir=args.live,
            ctx=ctx,
            progress=not args.no_progress,
            fingerprint=weights,
            label=f"train@{args.model}",
        )
        if ctx.is_main:
            export_run(result, cfg, args.out, args.model, stamp)
    finally:
        shutdown_distributed()


if __name__ == "__main__":
    run_stage(main)
