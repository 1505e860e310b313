"""Stage import@<name>: a torchreid checkpoint trained elsewhere becomes the model file of ``imported.<name>``.

Reads ``imported.<name>.checkpoint`` (torchreid's ``save_checkpoint`` ``.pth.tar``; a path relative to the
repository root, or absolute: dvc.yaml lists it as a dep, so replacing the file re-imports) and writes
``<out>/model.pt`` for ``arch``/``variant`` at ``height`` x ``width`` (soccerreid.models._import.import_checkpoint). A
checkpoint that does not fit is a one-line error naming the first missing or unexpected tensors, before anything is
written. extract@, distances@, fuse, score and report then take the model as one trained here. Params:
``imported.<name>``.

    python stages/import.py --params params.yaml --model osnet_sn --out artifacts/models/osnet_sn
"""

from __future__ import annotations

from soccerreid.config import load_params
from soccerreid.stage import progress, run_stage, stage_parser

PARSER = stage_parser(__doc__, {"out": "folder for model.pt"})
PARSER.add_argument("--model", required=True, help="a key of params imported")


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    params = load_params(args.params)
    cfg = params.imported_model(args.model)
    # the libraries load once the params are valid: a bad params file is refused in a second, not after torch
    from soccerreid.io import atomic_dir
    from soccerreid.models import check_model_config
    from soccerreid.models._import import import_checkpoint

    check_model_config(cfg.network, key=f"{args.params}: imported.{args.model}")
    progress(f"import@{args.model}: {cfg.checkpoint} as {cfg.arch} {cfg.variant} at {cfg.height}x{cfg.width}")
    with atomic_dir(args.out) as out:
        size = {"height": cfg.height, "width": cfg.width}
        info = import_checkpoint(
            cfg.checkpoint, out / "model.pt", cfg.arch, cfg.variant, **size, neck=cfg.neck, mean=cfg.mean, std=cfg.std
        )
    print(f"{args.out}/model.pt: {info.weights_id}, {info.embed_dim}-d, input {info.height} x {info.width}")


if __name__ == "__main__":
    run_stage(main)
