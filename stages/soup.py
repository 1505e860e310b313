"""Stage soup@<name>: the uniform soup of ``soups.<name>.members``, embedded and turned into distance blocks.

Reads ``<models>/<member>/model.pt`` of every member (one recipe, several seeds); writes
``<out>/model.pt`` (the averaged embedder), ``<features>/<split>.h5`` for each of
``extract.<name>.splits`` and ``<distances>/<split>.h5`` for the retrieval splits among them
(soccerreid.soup), so the soup is fused and scored like a model; all kept while their
fingerprint (member files, extraction config, crops, metric, code) holds. Params:
``soups.<name>``, ``models`` (the members' recipe), ``extract.<name>``, ``distances.metric``.

    python stages/soup.py --params params.yaml --soup osnet_ain_soup --models artifacts/models --index data/index \\
        --out artifacts/soups/osnet_ain_soup --features artifacts/features/osnet_ain_soup \\
        --distances artifacts/distances/osnet_ain_soup
"""

from __future__ import annotations

from pathlib import Path

from soccerreid.config import load_params
from soccerreid.stage import run_stage, stage_parser

PARSER = stage_parser(
    __doc__,
    {
        "models": "folder of <member>/model.pt",
        "index": "folder of <split>.csv",
        "out": "folder for model.pt",
        "features": "folder for <split>.h5 features",
        "distances": "folder for <split>.h5 distance blocks",
    },
    device=True,
)
PARSER.add_argument("--soup", required=True, help="a key of params soups")


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    params = load_params(args.params)
    members, cfg, metric = params.soup(args.soup).members, params.extraction(args.soup), params.distances.metric
    # the libraries load once the params are valid: a bad params file is refused in a second, not after torch
    from soccerreid.features import read_split_crops
    from soccerreid.models import validate_input_size
    from soccerreid.soup import soup_fingerprint, write_soup

    model_cfg, files = params.models[members[0]], [Path(args.models) / member / "model.pt" for member in members]
    validate_input_size(model_cfg, cfg.height, cfg.width, key=f"{args.params}: extract.{args.soup}")
    frames = read_split_crops(args.index, cfg.splits)
    fp = soup_fingerprint(files, model_cfg, cfg, frames, metric, __file__)
    folders = (args.out, args.features, args.distances)
    if not write_soup(files, members, model_cfg, cfg, frames, args.soup, metric, folders, fp, args.device):
        print(f"soup {args.soup}: kept: member files, extraction config, crops and code unchanged")
        return
    print(f"soup {args.soup}: mean of {', '.join(members)}; features and {metric} blocks of {', '.join(frames)}")


if __name__ == "__main__":
    run_stage(main)
