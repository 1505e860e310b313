"""The stage plumbing: what every script in ``stages/`` shares (running its main, announcing its plan).

Examples::

    PARSER = stage_parser(__doc__, {"index": "folder of <split>.csv", "out": "output folder"}, device=True)

    def main(argv=None):
        args = PARSER.parse_args(argv)
        params = load_params(args.params)
        ...

    if __name__ == "__main__":
        run_stage(main)

    progress("train@osnet_ain: 6 epochs x 73 steps at 128x64; ...")   # what the stage is about to do
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from soccerreid.errors import exit_status


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; a user error exits with status 2 and its one-line message."""
    status = exit_status(main)
    if status:
        raise SystemExit(status)


def progress(line: str) -> None:
    """Print a stage's plan line (what it will do, and its size) on stderr, at once."""
    print(line, file=sys.stderr, flush=True)


def stage_parser(doc: str, paths: Mapping[str, str], device: bool = False) -> argparse.ArgumentParser:
    """A stage's argument parser: its description is the first line of ``doc``; ``--params`` (default
    params.yaml) and one required ``--<name>`` path per entry of ``paths`` (``{name: help}``); ``device``
    adds ``--device`` (auto, cpu, cuda or cuda:N). A stage adds its other options to the parser."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default params.yaml)")
    for name, what in paths.items():
        parser.add_argument(f"--{name}", required=True, type=Path, help=what)
    if device:
        parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    return parser
