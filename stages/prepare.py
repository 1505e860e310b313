"""Stage prepare: get the SoccerNet ReID crops (params ``data``) and index every split.

    python stages/prepare.py --params params.yaml --raw data/raw --index data/index

``data.source: synthetic`` generates the embedded dataset into ``--raw``; ``soccernet`` uses
``data.soccernet_dir`` (downloading there when ``data.download``) and writes only a pointer
file into ``--raw``. Writes ``<index>/{train,valid,test,challenge}.csv``,
``invalid_images.json``, ``summary.json`` and, when the released challenge labels are there,
``challenge_groundtruth.json`` (see docs/data.md), then prints a summary table. ``data.workers``
(0: every core) processes render and threads decode.
"""

from __future__ import annotations

from soccerreid.config import load_params
from soccerreid.stage import progress, run_stage, stage_parser

PARSER = stage_parser(
    __doc__,
    {"raw": "raw data folder (synthetic tree or SOURCE.json)", "index": "index output folder"},
)


def main(argv: list[str] | None = None) -> None:
    args = PARSER.parse_args(argv)
    data = load_params(args.params).data
    # the libraries load once the params are valid: a bad params file is refused in a second
    from soccerreid.data.prepare import build_index, format_summary, generate_source

    if data.source == "synthetic":  # a SoccerNet copy is announced once found: a missing one is a one-line error
        progress(
            "prepare: generating synthetic SoccerNet ReID, actions: "
            f"{', '.join(f'{k} {v}' for k, v in vars(data.synthetic.actions).items())}"
        )
    source = generate_source(data, args.raw)
    progress(f"prepare: validating and indexing every crop of {source.reid_dir}")
    summary = build_index(source, args.index, workers=data.resolved_workers)
    print(format_summary(summary))


if __name__ == "__main__":
    run_stage(main)
