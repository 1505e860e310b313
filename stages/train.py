"""Stage train@<model>: train one model (params ``models.<model>``) and write its model file.

Writes ``<out>/{model.pt,summary.json,fingerprint.json}`` (model file, val mAP and history, what shaped them), kept
while the fingerprint holds (docs/training.md); ``--checkpoints`` survives re-runs (resume). Run as ``python
stages/train.py --params params.yaml --model osnet_ain --index data/index --out artifacts/models/osnet_ain --checkpoints
checkpoints/osnet_ain --live dvclive/osnet_ain``, or under ``torchrun --nproc_per_node=N`` (DDP: NCCL or gloo; rank 0
writes).
"""

from __future__ import annotations

from pathlib import Path

from soccerreid.config import load_params
from soccerreid.stage import run_stage, stage_parser

PARSER = stage_parser(
    __doc__,
    {
        "index": "folder with valid.csv and the <split>.csv of train.splits",
        "out": "output folder (model.pt, summary.json)",
        "checkpoints": "checkpoint folder kept across runs",
    },
)
PARSER.add_argument("--model", required=True, help="a key of params models")
PARSER.add_argument("--live", type=Path, help="dvclive folder")
PARSER.add_argument("--device", default="auto", help="auto, cpu or cuda (under torchrun: each rank's cuda:LOCAL_RANK)")
PARSER.add_argument("--no-progress", action="store_true", help="no tqdm bars")


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    params = load_params(args.params)
    cfg = params.model(args.model)
    # the libraries load once the params are valid: a bad params file is refused in a second
    from soccerreid.data.index import read_index
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
