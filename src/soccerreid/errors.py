"""One-line user-facing errors.

Every error a user can cause (bad params, bad data, missing files) is raised as a subclass of
:class:`SoccerReidError` with a single-line message that names the file, key or value and says
what was expected. Stage scripts and the command run through :func:`exit_status`, which turns it
into that line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


class SoccerReidError(Exception):
    """Base class for errors caused by user input; the message is one line."""


class ConfigError(SoccerReidError):
    """A params key is unknown, missing, of the wrong type or out of range."""


class ArgumentError(SoccerReidError, ValueError):
    """An argument of the Python API (or a command's flag) is of the wrong kind or out of range."""


class DataError(SoccerReidError):
    """A data file or folder is missing, malformed or inconsistent."""


class WeightsError(SoccerReidError):
    """Pretrained weights cannot be found, fetched or loaded."""


class ExportError(SoccerReidError):
    """An exported model (ONNX, TorchScript) does not reproduce the torch model's features."""


def need(path: Path, command: str, what: str = "") -> Path:
    """``path`` if it exists, else a one-line :class:`DataError` naming it and the ``command`` that makes it."""
    if not path.exists():
        raise DataError(f"{path}: not found{f' ({what})' if what else ''}; `{command}` makes it")
    return path


def exit_status(action: Callable[[], object]) -> int:
    """Run ``action``: 0, or 2 after printing a user error's one line on stderr (the one handler of
    the stage scripts and the ``soccerreid`` command).

    Examples::

        raise SystemExit(exit_status(main))
    """
    try:
        action()
    except SoccerReidError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
