"""Stage export@<model>: tracker-ready (BoxMOT) ONNX and TorchScript files and a model card, for trackers.

Off the critical path of the scores: nothing in the DAG reads its output. The model file is
exported with the DAG's extraction settings (params ``extract.<name>``: input size, flip,
normalize), for a tracker input of ``extract.<name>.supersample`` times that size, and each file's
features are checked against the torch model's on real crops of valid before
``<out>/{tracker.onnx,tracker.torchscript,...,model_card.md}`` appear; a folder whose fingerprint
(model file, extraction config, crops, valid's features, metric, code) still holds is
kept. When the model extracts valid, ``tracker.onnx`` is scored on it as a tracker computes features
(``<out>/deployed.json``), beside the score of the DAG's features (``--features``).

    python stages/export.py --params params.yaml --model osnet_ain \\
        --weights artifacts/models/osnet_ain/model.pt --index data/index \\
        --features artifacts/features/osnet_ain --out artifacts/export/osnet_ain
"""

from __future__ import annotations

from soccerreid.config import load_params
from soccerreid.stage import run_stage, stage_parser

PARSER = stage_parser(
    __doc__,
    {
        "weights": "model file written by the train stage",
        "index": "folder of <split>.csv (crops for the check)",
        "features": "the extract stage's folder of <split>.h5",
        "out": "output folder",
    },
)
PARSER.add_argument("--model", required=True, help="a key of params extract")


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    params = load_params(args.params)
    cfg = params.extraction(args.model)
    # the libraries load once the params are valid: a bad params file is refused in a second, not after torch
    from soccerreid.data.index import read_index
    from soccerreid.export import export_fingerprint, pick_check_crops, write_export
    from soccerreid.features import check_images, load_model
    from soccerreid.schema import read_features

    split, metric = cfg.check_split, params.distances.metric
    frame = read_index(args.index, split)
    crops = pick_check_crops(frame)
    check_images(crops, source=f"{args.index}/{split}.csv", hint=" (re-run the prepare stage?)")
    features = f"{args.features}/valid.h5"
    embedder = load_model(args.weights).configure(**vars(cfg))
    valid = (frame, read_features(features), metric) if split == "valid" else None
    fp = export_fingerprint(args.weights, cfg, crops, __file__, (frame, features, metric) if valid else None)
    source = f"{len(crops)} crops of {args.index}/{split}.csv"
    diffs = write_export(embedder, args.out, crops, args.model, source, fp, valid)
    if diffs is None:
        unchanged = "model file, extraction config, crops and features unchanged"
        print(f"export {args.model}: {args.out} kept: {unchanged}")
    else:
        print(f"export {args.model}: " + ", ".join(f"{file} max abs diff {diff:.2e}" for file, diff in diffs.items()))


if __name__ == "__main__":
    run_stage(main)
