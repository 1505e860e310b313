"""Stage extract@<model>: embed every crop of the configured splits with a trained model.

Reads params ``models.<name>`` (to rebuild the network) and ``extract.<name>``; writes, whole or
not at all, ``<out>/<split>.h5`` (soccerreid.schema) for each of ``extract.<name>.splits`` and
``<out>/fingerprint.json``, kept while that holds (model file, extraction config, crops, code).

    python stages/extract.py --params params.yaml --model osnet_ain \
        --weights artifacts/models/osnet_ain/model.pt --index data/index --out artifacts/features/osnet_ain
"""

from __future__ import annotations

import argparse
import time

from soccerreid.cli import progress, run_stage
from soccerreid.config import load_params
from soccerreid.data.index import read_index
from soccerreid.errors import ConfigError
from soccerreid.features import check_images_exist, extract_split, extraction_fingerprint
from soccerreid.fingerprint import is_current, write_stamp
from soccerreid.io import atomic_dir
from soccerreid.models import check_model_config, load_embedder, validate_input_size
from soccerreid.schema import write_features


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--model", required=True, help="a key of params models/extract")
    parser.add_argument("--weights", required=True, help="embedder file written by the train stage")
    parser.add_argument("--index", required=True, help="folder of <split>.csv from the prepare stage")
    parser.add_argument("--out", required=True, help="output folder for <split>.h5")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    params = load_params(args.params)
    if args.model not in params.models:
        raise ConfigError(f"{args.params}: models.{args.model}: no such model (have {', '.join(params.models)})")
    model_cfg, cfg = params.models[args.model], params.extract[args.model]
    check_model_config(model_cfg, key=f"{args.params}: models.{args.model}")
    validate_input_size(model_cfg, cfg.height, cfg.width, key=f"{args.params}: extract.{args.model}")
    frames = {split: read_index(args.index, split) for split in cfg.splits}
    for split, frame in frames.items():
        check_images_exist(frame["path"], source=f"{args.index}/{split}.csv")
    model = load_embedder(model_cfg, args.weights)
    progress(f"extract@{args.model}: {sum(map(len, frames.values())):,} crops of {', '.join(frames)} at {cfg.height}x{cfg.width}")
    fp = extraction_fingerprint(args.weights, model_cfg, cfg, frames, __file__)
    if is_current(args.out, fp):
        print(f"extract {args.model}: {args.out} kept: model file, extraction config and crops unchanged")
        return
    with atomic_dir(args.out) as tmp:
        for split, frame in frames.items():
            start = time.perf_counter()
            fs = extract_split(model, frame, cfg, model_cfg.mean, model_cfg.std, args.model, split, args.device)
            write_features(tmp / f"{split}.h5", fs)
            rate = len(frame) / (time.perf_counter() - start)
            print(f"extract {args.model} {split}: {fs.features.shape[0]} x {fs.features.shape[1]} ({rate:.0f} images/s)")
        write_stamp(tmp, fp)


if __name__ == "__main__":
    run_stage(main)
