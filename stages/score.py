"""Stage score: SoccerNet-protocol scores, the CMC table and the final rankings.

Reads the final (re-ranked) blocks ``<reranked>/<split>.h5``, the models' blocks
``<distances>/<model>/<split>.h5``, the fusions ``<fused>/methods/<method>/<split>.h5`` and the
report's four re-ranking presets ``<reranked>/presets/<preset>/<split>.h5``; it scores them and
re-ranks nothing. Writes:

- ``--scores`` JSON: the final method's mAP, rank1, rank5, rank10, rank20 (fractions) at top
  level, per-class scores, the official scorer's check (on ``score.official_actions`` actions
  of the split), and sections ``models``, ``fusion``,
  ``rerank``; ``heldout``, the same on test when scoring valid (every choice of the run, the
  best epoch and the grid weights, was made on valid); ``challenge``, every row on challenge
  against ``--challenge-groundtruth`` (the released labels) when it exists, with the official
  scorer's figures for the exported ranking;
- ``--cmc`` CSV: rank vs. accuracy, one column per method (for ``dvc plots``);
- ``--rankings`` folder: ``<split>.json`` in the official format for every split re-ranked.

Params: ``score.split``, ``score.ranks``, ``score.max_rank``, ``score.official_actions``.

    python stages/score.py --params params.yaml --distances artifacts/distances \
        --fused artifacts/fused --reranked artifacts/reranked \
        --challenge-groundtruth data/index/challenge_groundtruth.json \
        --scores metrics/scores.json --cmc metrics/cmc.csv --rankings artifacts/rankings
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from soccerreid.cli import progress, run_stage
from soccerreid.config import load_params
from soccerreid.errors import DataError
from soccerreid.config.retrieval import RERANK_PRESETS
from soccerreid.evaluation.methods import build_scores, challenge_scores, method_paths, official_section
from soccerreid.evaluation.ranking import ranking_from_blocks, write_ranking
from soccerreid.io import atomic_dir, write_json, write_text
from soccerreid.retrieval.fusion import FUSION_METHODS
from soccerreid.schema import EVAL_SPLITS, read_blocks


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--distances", required=True, help="folder of <model>/<split>.h5 distance blocks")
    parser.add_argument("--fused", required=True, help="output folder of the fuse stage")
    parser.add_argument("--reranked", required=True, help="output folder of the rerank stage")
    parser.add_argument("--challenge-groundtruth", help="bbox_info-layout labels of challenge, scored if the file exists")
    parser.add_argument("--scores", required=True, help="scores JSON to write")
    parser.add_argument("--cmc", required=True, help="CMC CSV to write")
    parser.add_argument("--rankings", required=True, help="folder for <split>.json rankings")
    return parser.parse_args(argv)


def read_sections(args: argparse.Namespace, split: str) -> dict:
    """``{"models": {...}, "fusion": {...}, "rerank": {...}}`` blocks of ``split`` for the scores."""
    info_path = Path(args.fused) / "fusion.json"
    if not info_path.is_file():
        raise DataError(f"{info_path}: not found; run the fuse stage first")
    models = json.loads(info_path.read_text())["models"]
    paths = method_paths(args.distances, args.fused, args.reranked, models, split)
    return {group: {name: read_blocks(path) for name, path in named.items()} for group, named in paths.items()}


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    cfg = load_params(args.params).score
    paths = {s: Path(args.reranked) / f"{s}.h5" for s in EVAL_SPLITS if (Path(args.reranked) / f"{s}.h5").is_file()}
    if cfg.split not in paths:
        raise DataError(f"{Path(args.reranked) / f'{cfg.split}.h5'}: not found (score.split is {cfg.split})")
    finals = {split: read_blocks(path) for split, path in paths.items()}
    progress(f"score: Table 1 on {cfg.split}{' and test' if cfg.split == 'valid' and 'test' in finals else ''} (models, "
             f"{len(FUSION_METHODS)} fusions, {len(RERANK_PRESETS)} re-rankings); official check on up to "
             f"{cfg.official_actions} actions; rankings of {', '.join(finals)}")
    rankings = {split: ranking_from_blocks(blocks) for split, blocks in finals.items()}
    scores, cmc = build_scores(finals[cfg.split], read_sections(args, cfg.split), cfg.ranks, cfg.max_rank)
    scores["official"] = official_section(finals[cfg.split], rankings[cfg.split], cfg.official_actions)
    if cfg.split == "valid" and "test" in finals and finals["test"].labelled:
        scores["heldout"], _ = build_scores(finals["test"], read_sections(args, "test"), cfg.ranks, cfg.max_rank)
    truth = Path(args.challenge_groundtruth) if args.challenge_groundtruth else None
    if truth is not None and truth.is_file() and "challenge" in finals:
        scores["challenge"] = challenge_scores(finals["challenge"], read_sections(args, "challenge"),
                                               json.loads(truth.read_text()), rankings["challenge"], str(truth),
                                               cfg.ranks, cfg.max_rank)  # fmt: skip
    with atomic_dir(args.rankings) as out:
        for split, ranking in rankings.items():
            write_ranking(out / f"{split}.json", ranking, finals[split])
    write_json(args.scores, scores)
    write_text(args.cmc, cmc)
    print(f"{cfg.split} ({scores['method']}): mAP {scores['mAP']:.4f}, Rank-1 {scores['rank1']:.4f}")


if __name__ == "__main__":
    run_stage(main)
