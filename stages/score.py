"""Stage score: SoccerNet-protocol scores, the CMC table and the final rankings.

Reads the final (re-ranked) blocks ``<reranked>/<split>.h5`` and Table 1's rows: ``<distances>/<model>/<split>.h5``,
the fusions ``<fused>/methods/<method>/<split>.h5``, the four re-ranking presets
``<reranked>/presets/<preset>/<split>.h5``
and the three query expansions ``<reranked>/qe/<method>/<split>.h5``; scores them (soccerreid.evaluation.scores),
re-ranking nothing. Writes ``--scores`` JSON: the final method's mAP, rank1, rank5, rank10, rank20 (fractions) at top
level, per-class scores, the official scorer's check (on ``score.official_actions`` actions of the split), sections
``models`` (with every soup and its members), ``fusion``, ``qe``, ``rerank``, labelled by ``soups``, ``imported`` and
``qe_settings``;
``heldout``, the same on test when scoring valid (every choice of the run, best epoch and grid weights, was made on
valid); ``challenge``, every row on challenge against ``--challenge-groundtruth`` (released labels) when it exists,
with the official scorer's figures for the exported ranking. ``--cmc`` CSV: rank vs. accuracy, one column per method
(``dvc plots``). ``--rankings``: ``<split>.json`` in the official format for every split re-ranked.
Params: ``score.*``, ``qe.*`` (labels of the expansion rows), ``soups`` (the soup rows), ``imported`` (which rows
come from models not trained here).

    python stages/score.py --params params.yaml --distances artifacts/distances --fused artifacts/fused \\
        --reranked artifacts/reranked --challenge-groundtruth data/index/challenge_groundtruth.json \\
        --scores metrics/scores.json --cmc metrics/cmc.csv --rankings artifacts/rankings
"""

from __future__ import annotations

from pathlib import Path

from soccerreid.config import load_params
from soccerreid.evaluation.scores import describe_run, read_finals, read_sections, score_run, write_rankings
from soccerreid.io import write_json, write_text
from soccerreid.stage import progress, run_stage, stage_parser

PARSER = stage_parser(
    __doc__,
    {
        "distances": "folder of <model>/<split>.h5 distance blocks",
        "fused": "output folder of the fuse stage",
        "reranked": "output folder of the rerank stage",
        "scores": "scores JSON to write",
        "cmc": "CMC CSV to write",
        "rankings": "folder for <split>.json rankings",
    },
)
PARSER.add_argument(
    "--challenge-groundtruth", type=Path, help="bbox_info-layout labels of challenge, scored if the file exists"
)


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    params = load_params(args.params)
    cfg, qe, soups = params.score, params.qe, {name: list(s.members) for name, s in params.soups.items()}
    finals = read_finals(args.reranked, cfg.split)
    progress(describe_run(finals, cfg))
    qe_settings = {"k": qe.k, "alpha": qe.alpha, "times": qe.times}
    labels = {"soups": soups, "imported": sorted(params.imported), "qe_settings": qe_settings}
    sections = lambda split: read_sections(args.distances, args.fused, args.reranked, split, soups)  # noqa: E731
    scores, cmc, rankings = score_run(finals, sections, cfg, labels, args.challenge_groundtruth)
    write_rankings(args.rankings, rankings, finals)
    write_json(args.scores, scores)
    write_text(args.cmc, cmc)
    print(f"{cfg.split} ({scores['method']}): mAP {scores['mAP']:.4f}, Rank-1 {scores['rank1']:.4f}")


if __name__ == "__main__":
    run_stage(main)
