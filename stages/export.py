"""Stage export@<model>: tracker-ready (BoxMOT) ONNX and TorchScript files and a model card, for trackers.

Off the critical path of the scores: nothing in the DAG reads its output. The model file is
exported with the DAG's extraction settings (params ``extract.<name>``: input size, flip,
normalize), and each file's features are checked against the torch model's on real crops of
valid before ``<out>/{tracker.onnx,tracker.torchscript,...,model_card.md}`` appear.
When the model extracts valid, ``tracker.onnx`` is scored on it as a tracker computes features
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
    from soccerreid.export import export_model, pick_check_crops
    from soccerreid.features import check_images, load_model
    from soccerreid.io import atomic_dir
    from soccerreid.schema import read_features

    split = cfg.check_split
    frame = read_index(args.index, split)
    crops = pick_check_crops(frame)
    check_images(crops, source=f"{args.index}/{split}.csv", hint=" (re-run the prepare stage?)")
    embedder = load_model(args.weights).configure(**vars(cfg))
    valid = (frame, read_features(f"{args.features}/valid.h5"), params.distances.metric) if split == "valid" else None
    with atomic_dir(args.out) as tmp:
        source = f"{len(crops)} crops of {args.index}/{split}.csv"
        diffs = export_model(embedder, tmp, crops, args.model, source, valid)
    print(f"export {args.model}: " + ", ".join(f"{file} max abs diff {diff:.2e}" for file, diff in diffs.items()))


if __name__ == "__main__":
    run_stage(main)
