"""Stage fuse: fuse the models' distance blocks for every split; grid-search weights on valid.

For each of valid, test and challenge that every model of ``fusion.models`` has, reads
``<distances>/<model>/<split>.h5`` (and ``<features>/<model>/<split>.h5`` for concat with the
euclidean metric; with cosine, concat is computed exactly from the blocks) and
writes to ``<out>``:

- ``<split>.h5``: the ``fusion.method`` fusion (input of rerank);
- ``methods/<method>/<split>.h5``: every method (concat, mean, weighted, grid), the Table 1 rows;
- ``grid.csv``: mAP and Rank-1 on valid for every weight vector of the simplex grid;
- ``fusion.json``: models, method, normalisation, configured and grid-best weights.

Params: ``fusion.*`` and ``distances.metric`` (concat computes distances).

    python stages/fuse.py --params params.yaml --distances artifacts/distances \
        --features artifacts/features --out artifacts/fused
"""

from __future__ import annotations

import argparse
from pathlib import Path

from soccerreid.cli import progress, run_stage
from soccerreid.config import load_params
from soccerreid.errors import DataError
from soccerreid.evaluation.methods import grid_search
from soccerreid.io import atomic_dir, write_json, write_text
from soccerreid.retrieval.fusion import check_aligned, fuse_all, simplex_grid
from soccerreid.schema import EVAL_SPLITS, read_blocks, read_features, write_blocks


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--distances", required=True, help="folder of <model>/<split>.h5 distance blocks")
    parser.add_argument("--features", required=True, help="folder of <model>/<split>.h5 features files")
    parser.add_argument("--out", required=True, help="output folder")
    return parser.parse_args(argv)


def present_splits(root: Path, models: tuple[str, ...]) -> list[str]:
    """Splits every model has under ``root``; a split only some models have is an error."""
    splits = []
    for split in EVAL_SPLITS:
        have = [(root / m / f"{split}.h5").is_file() for m in models]
        if any(have) and not all(have):
            missing = models[have.index(False)]
            raise DataError(f"{root / missing / f'{split}.h5'}: missing, while other models have {split}")
        splits += [split] if all(have) else []
    if "valid" not in splits:
        raise DataError(f"{root}: no valid distances for {', '.join(models)}; the grid search needs <model>/valid.h5")
    return splits


def load_split(args: argparse.Namespace, models: tuple[str, ...], split: str, need_features: bool) -> tuple:
    """(blocks, feature_sets or None) of every model on ``split``, checked to hold the same rows."""
    paths = [Path(args.distances) / m / f"{split}.h5" for m in models]
    blocks = [read_blocks(p) for p in paths]
    check_aligned(blocks, [str(p) for p in paths])
    features = [read_features(Path(args.features) / m / f"{split}.h5") for m in models] if need_features else None
    return blocks, features


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    params = load_params(args.params)
    cfg, metric = params.fusion, params.distances.metric
    splits = present_splits(Path(args.distances), cfg.models)
    progress(f"fuse: {cfg.method} fusion of {', '.join(cfg.models)} on {', '.join(splits)} (every method) "
             f"and a grid search over {len(simplex_grid(len(cfg.models), cfg.grid_step))} weight vectors on valid")
    valid_blocks, _ = load_split(args, cfg.models, "valid", need_features=False)
    grid = grid_search(valid_blocks, cfg.grid_step, cfg.normalize)
    with atomic_dir(args.out) as out:
        for split in splits:
            blocks, features = load_split(args, cfg.models, split, need_features=metric != "cosine")
            variants = fuse_all(blocks, features, cfg.weights, grid.best_weights, cfg.normalize, metric)
            for method, variant in variants.items():
                write_blocks(out / "methods" / method / f"{split}.h5", variant)
            fused = variants[cfg.method]
            write_blocks(out / f"{split}.h5", fused)
            print(f"{split}: {fused.source} of {', '.join(cfg.models)}")
        write_text(out / "grid.csv", grid.to_csv(cfg.models))
        info = {"models": list(cfg.models), "method": cfg.method, "normalize": cfg.normalize}
        write_json(out / "fusion.json", {**info, "weights": list(cfg.weights), "grid_weights": list(grid.best_weights)})
    print(f"grid best on valid: {grid.best_weights} (mAP {grid.mAP[grid.best]:.4f})")


if __name__ == "__main__":
    run_stage(main)
