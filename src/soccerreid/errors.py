"""One-line user-facing errors.

Every error a user can cause (bad params, bad data, missing files) is raised as a subclass of
:class:`SoccerReidError` with a single-line message that names the file, key or value and says
what was expected. Stage scripts and the command run through :func:`exit_status`, which turns it
into that line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import errno
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
    """Run ``action``: 0, or 2 after printing a user error's one line on stderr (the one error boundary
    of the stage scripts, the ``soccerreid`` command and the explorer's start-up).

    A :class:`SoccerReidError` is the user's mistake; so is the operating system refusing a path
    (permission, not a folder, exists, disk full, read-only), which is translated naming the path.
    Anything else is a bug and keeps its traceback.

    Examples::

        raise SystemExit(exit_status(main))
    """
    try:
        action()
    except SoccerReidError as err:
        return _fail(str(err))
    except OSError as err:
        if err.errno not in REFUSALS or err.filename is None:
            raise
        return _fail(describe_os_error(err))
    return 0


# the operating system's refusals of a user's path, and how each is said
REFUSALS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.EEXIST: "already exists",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.ENAMETOOLONG: "file name too long",
}


def describe_os_error(err: OSError) -> str:
    """One line naming the path(s) of an operating-system refusal and what it means."""
    paths = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None)
    return f"{paths}: {REFUSALS.get(err.errno, err.strerror)}"


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
