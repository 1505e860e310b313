"""Shared plumbing for the thin scripts in ``stages/``.

Examples::

    def main(argv=None):
        args = parse(argv)
        params = load_params(args.params)
        ...

    if __name__ == "__main__":
        run_stage(main)

    progress("train@osnet_ain: 6 epochs x 73 steps at 128x64; ...")   # what the stage is about to do
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from soccerreid.errors import exit_status


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; a user error exits with status 2 and its one-line message."""
    status = exit_status(main)
    if status:
        raise SystemExit(status)


def progress(line: str) -> None:
    """Print a stage's plan line (what it will do, and its size) on stderr, at once."""
    print(line, file=sys.stderr, flush=True)
