"""Stage distances@<model>: per-action distance blocks of one model for every retrieval split.

Reads ``<features>/<split>.h5`` for each of valid, test and challenge that exists, writes
``<out>/<split>.h5`` (layout: ``soccerreid.schema``). Params: ``distances.metric``.

    python stages/distances.py --params params.yaml \
        --features artifacts/features/osnet_ain --out artifacts/distances/osnet_ain
"""

from __future__ import annotations

from pathlib import Path

from soccerreid.config import load_params
from soccerreid.io import atomic_dir
from soccerreid.retrieval import features_to_blocks
from soccerreid.schema import read_features, write_blocks
from soccerreid.splits import split_files
from soccerreid.stage import progress, run_stage, stage_parser

PARSER = stage_parser(
    __doc__,
    {"features": "folder of <split>.h5 features files", "out": "folder for <split>.h5 distance blocks"},
)


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    metric = load_params(args.params).distances.metric
    paths = list(split_files(args.features, what="features file").values())
    feature_sets = [read_features(p) for p in paths]  # validate all before any work
    progress(
        f"distances: {metric} blocks of "
        f"{', '.join(f'{fs.split} ({fs.features.shape[0]:,} crops)' for fs in feature_sets)}"
    )
    with atomic_dir(args.out) as out:
        for path, fs in zip(paths, feature_sets):
            write_blocks(out / path.name, features_to_blocks(fs, metric))
            print(f"{path} -> {Path(args.out) / path.name} ({fs.model}, {metric})")


if __name__ == "__main__":
    run_stage(main)
