"""The soccerreid command: use a trained model file outside the DAG.

    soccerreid embed MODEL IMAGES... --out feats.h5         features HDF5 (the DAG's schema)
    soccerreid rank --query Q --gallery G [--top-k 10]      Q, G: features files or image folders
    soccerreid evaluate MODEL --split valid [--index data/index]
    soccerreid export MODEL --format onnx|torchscript [--out FILE]
    soccerreid explore [--root .] [--port 7860]              a finished run in the browser (Gradio)

Each verb has ``--help``. Bad input (a missing file, a non-image, a wrong input size, features
of another model) is one line on stderr and exit status 2. ``python -m soccerreid`` is the same.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from soccerreid.config.models import MAX_SUPERSAMPLE
from soccerreid.config.retrieval import rerank_setting
from soccerreid.device import select_device
from soccerreid.errors import DataError, exit_status
from soccerreid.images import find_images
from soccerreid.io import check_output_file
from soccerreid.vocab import EVAL_ROLES


def _integer(low: int, high: int | None = None):
    """An argparse type: an integer >= ``low`` (and <= ``high``), else a one-line usage error naming the value."""
    expected = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    parse.__name__ = expected.removeprefix("an ")
    return parse


def _port(text: str) -> int:
    value = _integer(1)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected 1 to 65535, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; returns the exit status (0, or 2 for bad input)."""
    args = build_parser().parse_args(argv)
    return exit_status(lambda: args.run(args))


def build_parser() -> argparse.ArgumentParser:
    """The ``soccerreid`` parser with its six verbs."""
    parser = _Parser(prog="soccerreid", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(title="verbs", required=True, metavar="{embed,rank,evaluate,export,import,explore}")
    for add in (_add_embed, _add_rank, _add_evaluate, _add_export):
        _settings(add(verbs))
    _add_import(verbs)
    _add_explore(verbs)
    return parser


def _add_import(verbs) -> argparse.ArgumentParser:
    imported = verbs.add_parser(
        "import",
        help="turn a torchreid checkpoint into a model file",
        description=(
            "Load a torchreid-format checkpoint (.pth.tar with state_dict, as torchreid's save_checkpoint and "
            "the sn-reid baseline write it) into a registered network and write a model file; a checkpoint "
            "that does not fit the network is a one-line error naming the first missing or unexpected tensors."
        ),
    )
    imported.add_argument("checkpoint", help="torchreid checkpoint (.pth.tar)")
    imported.add_argument("--arch", required=True, help="registered family: osnet_ain, resnet50_ibn, ...")
    imported.add_argument("--variant", required=True, help="e.g. x1_0 / x0_25 (osnet_ain), a (resnet50_ibn)")
    imported.add_argument(
        "--height", type=_integer(1), required=True, help="input height the checkpoint was trained at"
    )
    imported.add_argument("--width", type=_integer(1), required=True, help="input width")
    imported.add_argument("--out", required=True, help="model file to write")
    imported.add_argument("--force", action="store_true", help="replace --out even if it is a file of another kind")
    imported.set_defaults(run=run_import)
    return imported


def _add_embed(verbs) -> argparse.ArgumentParser:
    embed = verbs.add_parser(
        "embed",
        help="embed images into a features file",
        description=(
            "Embed images (files or folders) with a model file into a features HDF5 file (soccerreid.schema). "
            "SoccerNet file names give each row its bbox_idx, action and identity; other names get row numbers."
        ),
    )
    embed.add_argument("model", help="model file (artifacts/models/<name>/model.pt)")
    embed.add_argument("images", nargs="+", help="image files or folders (searched recursively)")
    embed.add_argument("--out", required=True, help="features file to write (.h5)")
    embed.add_argument("--force", action="store_true", help="replace --out even if it is a file of another kind")
    embed.add_argument(
        "--role",
        choices=EVAL_ROLES,
        help="role of every row (default: 'query' under a query/ folder, else 'gallery')",
    )
    embed.set_defaults(run=run_embed)
    return embed


def _add_rank(verbs) -> argparse.ArgumentParser:
    rank = verbs.add_parser(
        "rank",
        help="rank a query set against a gallery",
        description=(
            "Rank each query against the gallery of its own action (features files and SoccerNet file names "
            "carry the actions); print the top-k per query."
        ),
    )
    rank.add_argument("--query", required=True, help="features file (.h5: its query rows, or all) or image folder/file")
    rank.add_argument(
        "--gallery", required=True, help="features file (.h5: its gallery rows, or all) or image folder/file"
    )
    rank.add_argument("--model", help="model file, needed to embed image folders")
    rank.add_argument(
        "--top-k", type=_integer(0), default=10, help="gallery items per query (0: the whole gallery; default 10)"
    )
    rank.add_argument(
        "--rerank",
        nargs=3,
        type=float,
        metavar=("K1", "K2", "LAMBDA"),
        help="k-reciprocal re-ranking per action, e.g. 20 6 0.3",
    )
    rank.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine")
    rank.add_argument("--ignore-actions", action="store_true", help="rank every query against the whole gallery")
    rank.add_argument(
        "--out", help="write {query bbox_idx: [gallery bbox_idx, ...]} JSON (official format with --top-k 0)"
    )
    rank.set_defaults(run=run_rank)
    return rank


def _add_evaluate(verbs) -> argparse.ArgumentParser:
    evaluate = verbs.add_parser(
        "evaluate",
        help="score a model file on a split",
        description=(
            "Score a model file on a labelled split with the SoccerNet protocol (each query against its own "
            "action's gallery), as the DAG's single-model row, and check it with the official scorer."
        ),
    )
    evaluate.add_argument("model", help="model file")
    evaluate.add_argument("--split", default="valid", choices=("valid", "test"))
    evaluate.add_argument("--index", default="data/index", help="folder of <split>.csv (default data/index)")
    evaluate.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine")
    evaluate.add_argument(
        "--official-actions",
        type=_integer(1),
        help="check the official scorer on this many evenly spaced actions (default: every action)",
    )
    evaluate.add_argument("--json", help="also write the scores as JSON here")
    evaluate.set_defaults(run=run_evaluate)
    return evaluate


def _add_export(verbs) -> argparse.ArgumentParser:
    export = verbs.add_parser(
        "export",
        help="export a model file to ONNX or TorchScript",
        description=(
            "Export a model file (LoRA merged, dynamic batch); the file is kept only if its features match "
            "the torch model's (max abs diff within soccerreid.export.TOLERANCE, docs/models.md)."
        ),
    )
    export.add_argument("model", help="model file")
    export.add_argument("--format", required=True, choices=("onnx", "torchscript"))
    export.add_argument("--out", help="file to write (default: the model file with .onnx / .torchscript)")
    export.add_argument("--force", action="store_true", help="replace --out even if it is a file of another kind")
    export.add_argument(
        "--tracker",
        action="store_true",
        help="the tracker-ready graph (ImageNet-normalised input, flip and L2 inside) and BoxMOT's sidecar "
        "<file>.metadata.json",
    )
    export.add_argument(
        "--check",
        nargs="+",
        metavar="IMAGES",
        help="crops (files or folders) for the check (default: 8 seeded random crops)",
    )
    export.set_defaults(run=run_export)
    return export


def _add_explore(verbs) -> argparse.ArgumentParser:
    explore = verbs.add_parser(
        "explore",
        help="explore a finished run in the browser",
        description=(
            "Serve a web page (Gradio) over a finished run's artifacts (after dvc repro): the query list with filters, "
            "one query's top-k, two methods side by side, and search by an uploaded crop. Ctrl+C stops it."
        ),
    )
    explore.add_argument("--root", default=".", help="the run's repository root (default: the current folder)")
    explore.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)"
    )
    explore.add_argument("--port", type=_port, default=7860, help="port (default 7860)")
    explore.set_defaults(run=run_explore)
    return explore


def _settings(parser: argparse.ArgumentParser) -> None:
    """Options overriding the model file's embedding settings."""
    group = parser.add_argument_group("embedding settings (default: the model file's)")
    group.add_argument("--height", type=_integer(1), help="input height")
    group.add_argument("--width", type=_integer(1), help="input width")
    group.add_argument(
        "--flip", action=argparse.BooleanOptionalAction, default=None, help="average with the mirrored crop"
    )
    group.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None, help="L2-normalise features")
    group.add_argument(
        "--resize",
        choices=("pil", "tracker"),
        help="pil: torchreid's antialiased resize (default); tracker: as BoxMOT feeds the export, cv2 bilinear to K "
        "times the input, then antialiased downsizing (params extract.<model>.resize)",
    )
    group.add_argument(
        "--supersample",
        type=_integer(1, MAX_SUPERSAMPLE),
        metavar="K",
        help="the tracker's input is K times the input size (default 1): export --tracker asks for it in the "
        "sidecar and downsizes in the graph; --resize tracker embeds it (params extract.<model>.supersample)",
    )
    group.add_argument("--batch-size", type=_integer(1), help="crops per batch (default 64)")
    group.add_argument(
        "--workers", type=_integer(0), help="decoding processes (threads with --resize tracker; default 0)"
    )
    group.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")


def _embedder(path: str, args: argparse.Namespace):
    from soccerreid.features import load_model

    names = ("height", "width", "flip", "normalize", "resize", "supersample", "batch_size", "workers")
    settings = {k: getattr(args, k) for k in names}
    return load_model(path).configure(**settings)


def run_embed(args: argparse.Namespace) -> None:
    check_output_file(args.out, "--out", "features", force=args.force)
    select_device(args.device)
    from soccerreid.features.files import embed_images
    from soccerreid.schema import write_features

    paths = find_images(args.images)
    embedder = _embedder(args.model, args)
    fs = embed_images(embedder, paths, role=args.role, device=args.device)
    write_features(args.out, fs)
    print(f"{args.out}: {len(paths)} x {embedder.dim} features ({embedder.info.weights_id})")


def run_rank(args: argparse.Namespace) -> None:
    if args.out:
        check_output_file(args.out, "--out", "json")
    rerank = rerank_setting(args.rerank, name="--rerank") if args.rerank else None
    select_device(args.device)
    sources = {item: _source(item, args.model) for item in (args.query, args.gallery)}
    from soccerreid.api import rank

    embedder = _embedder(args.model, args) if args.model else None
    query = _side(args.query, sources[args.query], "query", embedder, args)
    gallery = _side(args.gallery, sources[args.gallery], "gallery", embedder, args)
    _check_compatible(query, gallery, args)
    actions = {} if args.ignore_actions else _check_actions(query, gallery, args)
    result = rank(
        query.features, gallery.features, metric=args.metric, rerank=rerank, top_k=args.top_k or None, **actions
    )
    _print_ranking(query, gallery, result)
    if args.out:
        from soccerreid.io import write_json

        ranked = [gallery.bbox_idx[row[row >= 0]].tolist() for row in result.indices]
        write_json(args.out, dict(zip(map(str, query.bbox_idx.tolist()), ranked)), indent=None)


def _source(item: str, model: str | None) -> Path | list[str]:
    """What one side of ``rank`` reads, checked before any work: a features file, or image files to embed."""
    if item.endswith(".h5"):
        if not Path(item).is_file():
            raise DataError(f"{item}: features file not found")
        return Path(item)
    if model is None:
        raise DataError(f"{item}: images need --model to be embedded (or pass a features file .h5)")
    return find_images([item])


def _side(item: str, source: Path | list[str], role: str, embedder, args: argparse.Namespace):
    """The rows of one side: a features file's ``role`` rows (all rows if it has none), or embedded images."""
    from soccerreid.features import check_same_model
    from soccerreid.features.files import embed_images
    from soccerreid.schema import read_features

    if isinstance(source, list):
        return embed_images(embedder, source, role=role, device=args.device)
    fs = read_features(source)
    if embedder is not None:
        check_same_model(fs, embedder, item)
    rows = np.flatnonzero(fs.role == role)
    fs = fs.take(rows) if rows.size else fs
    if len(fs.bbox_idx) == 0 or fs.features.shape[1] == 0:
        raise DataError(f"{item}: no features to rank (shape {fs.features.shape}; expected N >= 1 rows of D >= 1)")
    return fs


def _check_compatible(query, gallery, args: argparse.Namespace) -> None:
    dims = (query.features.shape[1], gallery.features.shape[1])
    if dims[0] != dims[1] or (query.embedder and gallery.embedder and query.embedder != gallery.embedder):
        raise DataError(
            f"{args.gallery}: features from another model ({gallery.embedder or 'unknown'}, {dims[1]}-d) "
            f"than {args.query} ({query.embedder or 'unknown'}, {dims[0]}-d)"
        )


def _check_actions(query, gallery, args: argparse.Namespace) -> dict:
    missing = sorted(set(query.action_idx.tolist()) - set(gallery.action_idx.tolist()))
    if missing:
        raise DataError(
            f"{args.gallery}: no gallery image of action {missing[0]}, which query rows of {args.query} "
            f"belong to (each query is ranked in its own action; --ignore-actions ranks against all)"
        )
    return {"query_actions": query.action_idx, "gallery_actions": gallery.action_idx}


def _print_ranking(query, gallery, result) -> None:
    def name(fs, i: int) -> str:
        return os.path.basename(fs.path[i]) if fs.path is not None else str(fs.bbox_idx[i])

    for q in range(len(query.bbox_idx)):
        ranked = [f"{name(gallery, g)} ({d:.4f})" for g, d in zip(result.indices[q], result.distances[q]) if g >= 0]
        print(f"{name(query, q)}: {' '.join(ranked)}")


def run_evaluate(args: argparse.Namespace) -> None:
    if args.json:
        check_output_file(args.json, "--json", "json")
    select_device(args.device)
    from soccerreid.data.index import index_file

    index_file(args.index, args.split)
    from soccerreid.api import evaluate
    from soccerreid.io import write_json

    scores = evaluate(
        _embedder(args.model, args), args.index, args.split, args.metric, args.device, args.official_actions
    )
    official = scores["official"]
    check = (
        f"official scorer: mAP {official['mAP']:.6f}, Rank-1 {official['rank1']:.6f} (agrees)"
        if "mAP" in official
        else f"official scorer skipped: {official['skipped']}"
    )
    ranks = ", ".join(f"Rank-{k} {scores[f'rank{k}']:.4f}" for k in (1, 5, 10, 20))
    print(f"{args.model} on {args.split} ({scores['num_queries']} queries): mAP {scores['mAP']:.6f}, {ranks}; {check}")
    if args.json:
        write_json(args.json, scores)


def run_export(args: argparse.Namespace) -> None:
    from soccerreid.export import SUFFIXES, export_file, export_tracker_file, write_sidecar

    if args.supersample not in (None, 1) and not args.tracker:
        raise DataError(f"--supersample {args.supersample}: only the tracker graph supersamples (add --tracker)")
    out = Path(args.out) if args.out else Path(args.model).with_suffix(SUFFIXES[args.format])
    check_output_file(out, "--out", args.format, force=args.force)
    select_device(args.device)
    checks = find_images(args.check) if args.check else None
    from soccerreid.io import atomic_path

    embedder = _embedder(args.model, args)
    if checks:
        crops, what = checks, "crops"
    else:
        shape = (8, 2 * embedder.config.height, embedder.config.width, 3)
        crops, what = list(np.random.default_rng(0).integers(0, 256, shape, np.uint8)), "random crops"
    with atomic_path(out) as tmp:
        if args.tracker:
            diff = export_tracker_file(embedder, args.format, tmp, crops, args.model, embedder.config.supersample)
        else:
            diff = export_file(embedder, args.format, tmp, crops, name=args.model)
    if args.tracker:
        write_sidecar(out, embedder, Path(args.model).stem, embedder.config.supersample)
    print(f"{out}: {args.format}, max abs diff to torch {diff:.2e} on {len(crops)} {what}")


def run_import(args: argparse.Namespace) -> None:
    check_output_file(args.out, "--out", "model", force=args.force)
    if not Path(args.checkpoint).is_file():
        raise DataError(f"{args.checkpoint}: checkpoint file not found")
    from soccerreid.models._import import import_checkpoint

    info = import_checkpoint(args.checkpoint, args.out, args.arch, args.variant, args.height, args.width)
    print(f"{args.out}: {info.weights_id}, {info.embed_dim}-d, input {info.height} x {info.width}")


def run_explore(args: argparse.Namespace) -> None:
    root = Path(args.root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (--root is the run's repository root)")
    from soccerreid.explorer.address import check_address

    check_address(args.host, args.port)  # before gradio loads (seconds)
    from soccerreid.explorer.app import serve

    serve(root, args.host, args.port)
