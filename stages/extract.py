"""Stage extract@<model>: embed every crop of the configured splits with a trained model.

Runs the model file through :func:`soccerreid.load_model` with the ``extract.<name>`` settings (``models.<name>``,
or ``imported.<name>`` for a model of import@<name>, checks the file is that model); writes, whole or not at all,
``<out>/<split>.h5`` (soccerreid.schema) for each of ``extract.<name>.splits`` and ``<out>/fingerprint.json``, kept
while that holds (model file, extraction config, crops, code). Run as ``python stages/extract.py --params params.yaml
--model osnet_ain --weights artifacts/models/osnet_ain/model.pt --index data/index --out artifacts/features/osnet_ain``.
"""

from __future__ import annotations

from soccerreid.config import load_params
from soccerreid.stage import progress, run_stage, stage_parser

PARSER = stage_parser(
    __doc__,
    {
        "weights": "model file",
        "index": "folder of <split>.csv",
        "out": "output folder for <split>.h5",
    },
    device=True,
)
PARSER.add_argument("--model", required=True, help="a key of params models (or imported) and extract")


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    params = load_params(args.params)
    (network_key, model_cfg), cfg = params.network(args.model), params.extraction(args.model)
    # the libraries load once the params are valid: a bad params file is refused in a second, not after torch
    from soccerreid.features import extraction_fingerprint, load_model, read_split_crops, write_extraction
    from soccerreid.models import check_matches, check_model_config, validate_input_size

    check_model_config(model_cfg, key=f"{args.params}: {network_key}")
    validate_input_size(model_cfg, cfg.height, cfg.width, key=f"{args.params}: extract.{args.model}")
    frames = read_split_crops(args.index, cfg.splits)
    embedder = load_model(args.weights)
    check_matches(embedder.info, model_cfg, args.weights, key=f"{args.params}: {network_key}")
    embedder = embedder.configure(**vars(cfg))
    crops = sum(map(len, frames.values()))
    progress(f"extract@{args.model}: {crops:,} crops of {', '.join(frames)} at {cfg.height}x{cfg.width}")
    fp = extraction_fingerprint(args.weights, model_cfg, cfg, frames, __file__)
    rates = write_extraction(embedder, frames, args.model, args.out, fp, args.device)
    if rates is None:
        print(f"extract {args.model}: {args.out} kept: model file, extraction config and crops unchanged")
    else:
        done = ", ".join(
            f"{split} {len(frames[split])} x {embedder.dim} ({rate:.0f} images/s)" for split, rate in rates.items()
        )
        print(f"extract {args.model}: {done}")


if __name__ == "__main__":
    run_stage(main)
