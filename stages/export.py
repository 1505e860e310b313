"""Stage export@<model>: ONNX, TorchScript and a model card of a trained model, for trackers.

Off the critical path of the scores: nothing in the DAG reads its output. The model file is
exported with the DAG's extraction settings (params ``extract.<name>``: input size, flip,
normalize), and each file's features are checked against the torch model's on real crops of
valid (max abs diff at most 1e-4) before ``<out>/{model.onnx,model.ts,model_card.md}`` appear.

    python stages/export.py --params params.yaml --model osnet_ain \\
        --weights artifacts/models/osnet_ain/model.pt --index data/index --out artifacts/export/osnet_ain
"""

from __future__ import annotations

from soccerreid.config import load_params
from soccerreid.data.index import read_index
from soccerreid.export import export_model, pick_check_crops
from soccerreid.features import check_images, load_model
from soccerreid.io import atomic_dir
from soccerreid.stage import run_stage, stage_parser

PARSER = stage_parser(
    __doc__,
    {
        "weights": "model file written by the train stage",
        "index": "folder of <split>.csv (crops for the check)",
        "out": "output folder",
    },
)
PARSER.add_argument("--model", required=True, help="a key of params extract")


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    cfg = load_params(args.params).extraction(args.model)
    split = "valid" if "valid" in cfg.splits else cfg.splits[0]
    crops = pick_check_crops(read_index(args.index, split))
    check_images(crops, source=f"{args.index}/{split}.csv", hint=" (re-run the prepare stage?)")
    embedder = load_model(args.weights).configure(**vars(cfg))
    with atomic_dir(args.out) as tmp:
        diffs = export_model(embedder, tmp, crops, args.model, f"{len(crops)} crops of {args.index}/{split}.csv")
    print(f"export {args.model}: " + ", ".join(f"{fmt} max abs diff {diff:.2e}" for fmt, diff in diffs.items()))


if __name__ == "__main__":
    run_stage(main)
