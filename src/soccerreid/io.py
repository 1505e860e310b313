"""Atomic file output: every artifact appears whole or not at all, and a killed write leaves
nothing that DVC sees.

A write goes to a hidden temp sibling, ``.<name>.<random>.tmp``, renamed over the target only
when it is whole. Those names match ``.*.tmp`` in ``.dvcignore`` (and ``*.tmp`` in
``.gitignore``), so a write killed half-way (SIGKILL, OOM, power loss) changes no DVC-tracked
folder. The next atomic write of the same target, or :func:`remove_leftovers`, deletes them.

Examples::

    with atomic_path("artifacts/fused/valid.h5") as tmp:
        write_blocks(tmp, blocks)          # written to a temp file in the same folder
    # renamed into place only if the block exited without an exception

    write_json("metrics/scores.json", {"mAP": 0.5})
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from soccerreid.errors import ArgumentError

TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it over ``path``, on error delete it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _umasked(0o666))
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``path`` whole, on error it is removed.

    The old folder is renamed aside (``.<name>.<random>.old.tmp``) before the new one is renamed
    in, and deleted only after, so no moment exists where neither is on disk under a name.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent))
    old_path = tmp_path.with_name(tmp_path.name.removesuffix(TEMP_SUFFIX) + ".old" + TEMP_SUFFIX)
    try:
        yield tmp_path
        os.chmod(tmp_path, _umasked(0o777))
        if target.exists():
            os.replace(target, old_path)
        os.replace(tmp_path, target)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
        shutil.rmtree(old_path, ignore_errors=True)


def _umasked(mode: int) -> int:
    """``mode`` less the process umask: what ``open`` or ``mkdir`` would have given (mkstemp gives 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def remove_leftovers(path: str | os.PathLike) -> list[Path]:
    """Delete the temp files and folders that killed atomic writes of ``path`` left beside it.

    Returns what was removed. Only the leftovers of ``path`` itself go, never another target's,
    so a write of a sibling running at the same time is left alone.

    Examples::

        remove_leftovers("artifacts/features/osnet_ain")   # .osnet_ain.k3j9x_2a.tmp and the like
    """
    target = Path(path)
    return _remove_matching(target.parent, re.escape(target.name))


def remove_leftovers_in(folder: str | os.PathLike) -> list[Path]:
    """Delete the leftovers of killed atomic writes of every target directly inside ``folder``.

    Only for a folder that one process writes at a time, such as a model's checkpoint folder.
    """
    return _remove_matching(Path(folder), r".+")


def _remove_matching(folder: Path, name: str) -> list[Path]:
    pattern = re.compile(rf"\.{name}\.[^./]+(\.old)?{re.escape(TEMP_SUFFIX)}")
    if not folder.is_dir():
        return []
    removed = [entry for entry in folder.iterdir() if pattern.fullmatch(entry.name)]
    for entry in removed:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return removed


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=indent) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


# the first bytes of each kind of file the command writes, to refuse replacing a file of another kind
MAGIC = {"hdf5": b"\x89HDF\r\n\x1a\n", "zip": b"PK\x03\x04", "onnx": b"\x08"}
KINDS = {"features": ("hdf5",), "json": (), "onnx": ("onnx",), "torchscript": ("zip",), "model": ("zip",)}
LABELS = {
    "features": "a features (HDF5)",
    "json": "a JSON",
    "onnx": "an ONNX",
    "torchscript": "a TorchScript",
    "model": "a model (torch)",
}


def check_output_file(path: str | os.PathLike, flag: str, kind: str, force: bool = False) -> Path:
    """Check, before any work, that ``path`` (the value of command flag ``flag``) can be written as
    a ``kind`` file (a key of :data:`KINDS`): not a folder, its parent a folder (or creatable)
    where we may write, and no existing file of another kind (a model file under ``--out``)
    unless ``force``. Raises a one-line :class:`~soccerreid.errors.ArgumentError`; returns the path.

    Examples::

        check_output_file("out/q.h5", "--out", "features")       # Path("out/q.h5")
        check_output_file("model.pt", "--out", "features")       # ArgumentError: a file of another kind
    """
    target = Path(path)
    if target.is_dir():
        raise ArgumentError(f"{flag} {target}: is a folder (expected a file path)")
    folder = _nearest_existing(target.parent)
    if not folder.is_dir():
        raise ArgumentError(f"{flag} {target}: {folder} is a file, not a folder")
    try:
        probe, name = tempfile.mkstemp(prefix=".soccerreid-write-check.", suffix=TEMP_SUFFIX, dir=folder)
    except OSError as err:
        raise ArgumentError(f"{flag} {target}: cannot write in {folder} ({err.strerror})") from None
    os.close(probe)
    os.unlink(name)
    if target.is_file() and not force and not _is_kind(target, kind):
        raise ArgumentError(
            f"{flag} {target}: exists and is not {LABELS[kind]} file; refusing to replace it "
            "(remove it, or pass --force)"
        )
    return target


def _nearest_existing(folder: Path) -> Path:
    """``folder`` or its nearest ancestor that exists (the folders in between are made by the write)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _is_kind(path: Path, kind: str) -> bool:
    """True when ``path`` is empty or starts as a ``kind`` file does (JSON: any UTF-8 text starting with { or [)."""
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        return True
    if kind == "json":
        return head.lstrip()[:1] in (b"{", b"[")
    if not any(head.startswith(MAGIC[magic]) for magic in KINDS[kind]):
        return False
    if kind in ("torchscript", "model"):  # both zips: TorchScript archives hold code/, torch.save's do not
        return _has_code(path) == (kind == "torchscript")
    return True


def _has_code(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except zipfile.BadZipFile:
        return False
