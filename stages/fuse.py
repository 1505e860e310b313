"""Stage fuse: fuse the models' distance blocks for every split; grid-search weights on valid.

Reads ``<distances>/<model>/<split>.h5`` for each of valid, test and challenge that every model of
``fusion.models`` has (and ``<features>/<model>/<split>.h5`` for concat with the euclidean metric;
with cosine, concat is exact from the blocks). Writes to ``<out>`` (layout: ``soccerreid.layout``):
``<split>.h5``, the ``fusion.method`` fusion (input of rerank); ``methods/<method>/<split>.h5``,
every method (concat, mean, weighted, grid), the Table 1 rows; ``grid.csv``, mAP and Rank-1 on
valid for every weight vector of the simplex grid; ``fusion.json``, models, method,
normalisation, configured and grid-best weights. Params: ``fusion.*`` and ``distances.metric``
(concat computes distances).

    python stages/fuse.py --params params.yaml --distances artifacts/distances --features artifacts/features \\
        --out artifacts/fused
"""

from __future__ import annotations

from soccerreid.config import load_params
from soccerreid.evaluation.methods import grid_search
from soccerreid.io import atomic_dir, write_json, write_text
from soccerreid.layout import write_fused
from soccerreid.retrieval.fusion import fuse_all, simplex_grid
from soccerreid.splits import present_splits, read_model_blocks
from soccerreid.stage import progress, run_stage, stage_parser

PARSER = stage_parser(
    __doc__,
    {
        "distances": "folder of <model>/<split>.h5 distance blocks",
        "features": "folder of <model>/<split>.h5 features files",
        "out": "output folder",
    },
)


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    params = load_params(args.params)
    cfg, metric = params.fusion, params.distances.metric
    splits = present_splits(args.distances, cfg.models)
    progress(
        f"fuse: {cfg.method} fusion of {', '.join(cfg.models)} on {', '.join(splits)} (every method) "
        f"and a grid search over {len(simplex_grid(len(cfg.models), cfg.grid_step))} weight vectors on valid"
    )
    valid_blocks, _ = read_model_blocks(args.distances, cfg.models, "valid")
    grid = grid_search(valid_blocks, cfg.grid_step, cfg.normalize)
    with atomic_dir(args.out) as out:
        for split in splits:
            blocks, features = read_model_blocks(
                args.distances, cfg.models, split, args.features if params.distances.concat_reads_features else None
            )
            variants = fuse_all(blocks, features, cfg.weights, grid.best_weights, cfg.normalize, metric)
            write_fused(out, split, variants, cfg.method)
            print(f"{split}: {variants[cfg.method].source} of {', '.join(cfg.models)}")
        write_text(out / "grid.csv", grid.to_csv(cfg.models))
        info = {"models": list(cfg.models), "method": cfg.method, "normalize": cfg.normalize}
        write_json(out / "fusion.json", {**info, "weights": list(cfg.weights), "grid_weights": list(grid.best_weights)})
    print(f"grid best on valid: {grid.best_weights} (mAP {grid.mAP[grid.best]:.4f})")


if __name__ == "__main__":
    run_stage(main)
