"""Fingerprints: a stage's output is reused, not rebuilt, while what shapes it is unchanged.

A :class:`Fingerprint` is a set of named sha256 digests (its parts), one per thing that shapes
an output:

- **config**: the values of the config dataclasses the work reads (:func:`shaping_values`),
  without their operational fields (``bounded(..., operational=True)``, e.g. workers) and without
  the fields added later that still hold their neutral default (``bounded(..., neutral_default=True)``);
- **data**: index rows (:func:`frame_digest`) and the bytes of the files they name
  (:func:`files_digest`);
- **code**: one part per source file the work runs (:func:`code_parts`): the entry file and its
  soccerreid import closure, each as its syntax tree without docstrings and comments, so a
  comment, a docstring or a reformat changes nothing. ``config/`` modules count by the values
  they produce, not by their code, and :data:`NOT_DEPS` not at all.

Library versions (torch, timm, ...) and the machine are not parts: a model trained on a GPU box
is reused on a laptop. A stage writes :data:`STAMP` into its output folder; the next run keeps
the folder when the stamp matches (:func:`is_current`), and otherwise says which parts changed.

The cached-output skeleton (is the output current? else write it whole, then stamp it) lives
once, in :func:`cached_outputs`; :func:`stamped_dirs` is its writing half, for a stage that
decides to keep its output by more than the stamp (the train stage also needs its dvclive
metrics, and only its rank 0 writes).

Examples::

    fp = Fingerprint({"config": value_digest(shaping_values(cfg)), **code_parts(__file__)})
    with cached_outputs(fp, "artifacts/features/osnet_ain") as folders:
        if folders is None:
            return                      # kept: the folder holds fp's stamp and every file it lists
        (tmp,) = folders
        ...                             # write into tmp; it replaces the folder whole, stamped
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from soccerreid.config._base import NEUTRAL_DEFAULT, OPERATIONAL
from soccerreid.errors import DataError
from soccerreid.io import atomic_dir, remove_leftovers, write_json

FORMAT = 1  # bump only when the meaning of a part changes: every stamp and checkpoint then mismatches
STAMP = "fingerprint.json"
SRC = Path(__file__).resolve().parents[1]
# Modules that only parse params, report errors, write files or compute fingerprints: they shape
# no output, so they are no stage's DVC dep and no code part (tests/test_pipeline_spec.py).
NOT_DEPS = (
    "soccerreid/__init__.py",
    "soccerreid/_version.py",
    "soccerreid/config/__init__.py",
    "soccerreid/config/_base.py",
    "soccerreid/io.py",
    "soccerreid/stage.py",
    "soccerreid/errors.py",
    "soccerreid/fingerprint.py",
)
BY_VALUE = "soccerreid/config/"  # dataclasses: they shape outputs through the config values only


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """Named sha256 digests of what shapes an output; ``value`` is the digest of them all."""

    parts: dict[str, str]

    @property
    def value(self) -> str:
        return value_digest({"format": FORMAT, "parts": self.parts})

    def changes(self, parts: dict[str, str] | None) -> str:
        """What differs from an older fingerprint's ``parts``, e.g. ``config, code (soccerreid/schema.py)``."""
        if not parts:
            return "every part (it records none)"
        names = sorted(n for n in set(parts) | set(self.parts) if parts.get(n) != self.parts.get(n))
        code = [n.removeprefix("code:") for n in names if n.startswith("code:")]
        other = [n for n in names if not n.startswith("code:")]
        return ", ".join(other + ([f"code ({', '.join(code)})"] if code else [])) or "format"


def shaping_values(obj: Any) -> Any:
    """A config dataclass as plain JSON-able values, recursively, without its operational fields and
    without the neutral-default fields that hold their default (so adding such a field changes no digest)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: shaping_values(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not f.metadata.get(OPERATIONAL) and not _neutral(f, getattr(obj, f.name))
        }
    if isinstance(obj, (list, tuple)):
        return [shaping_values(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): shaping_values(v) for k, v in obj.items()}
    return obj


def _neutral(f: dataclasses.Field, value: Any) -> bool:
    return bool(f.metadata.get(NEUTRAL_DEFAULT)) and value == f.default


def value_digest(obj: Any) -> str:
    """sha256 of a JSON-able value (keys sorted), e.g. of :func:`shaping_values`."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 of a table's columns and rows, in order (its CSV text)."""
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of one file's bytes; a missing file is a one-line :class:`DataError`."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None


def files_digest(paths: Iterable[str | os.PathLike], workers: int = 8) -> str:
    """sha256 over the bytes of every file in ``paths``, in order (read by ``workers`` threads)."""
    with ThreadPoolExecutor(workers) as pool:
        digests = list(pool.map(file_digest, paths))
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def code_parts(entry: str | os.PathLike) -> dict[str, str]:
    """``{"code:<file>": digest}`` for ``entry`` and every soccerreid file it runs, minus config/.

    Each digest is of the file's syntax tree with docstrings removed, unparsed: comments,
    docstrings, blank lines and formatting do not count; any other edit does.
    """
    entry = Path(entry).resolve()
    files = [entry, *(p for p in import_closure(entry) if not _relative(p).startswith(BY_VALUE))]
    return {f"code:{_relative(p)}": _code_digest(p) for p in files}


def import_closure(entry: str | os.PathLike) -> list[Path]:
    """Every soccerreid file whose code ``entry`` runs, transitively, sorted (:data:`NOT_DEPS` and
    what only they import aside).

    A package ``__init__`` that only re-exports is transparent: ``from pkg import name`` leads to
    the module ``name`` comes from, and the package's own imports of submodules (registration
    side effects) are always followed.
    """
    seen: set[Path] = set()
    todo = [m for module, names in _imports(Path(entry)) for m in _providers(module, names)]
    while todo:
        path = _module_file(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        if _relative(path) not in NOT_DEPS:
            todo += [m for module, names in _imports(path) for m in _providers(module, names)]
    return sorted(p for p in seen if _relative(p) not in NOT_DEPS)


def write_stamp(folder: str | os.PathLike, fingerprint: Fingerprint) -> None:
    """Write ``folder/fingerprint.json`` (atomically) as the last file of the output it describes:
    ``{"fingerprint": str, "parts": {name: sha256}, "files": [the other files, sorted]}``."""
    folder = Path(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != STAMP)
    write_json(folder / STAMP, {"fingerprint": fingerprint.value, "parts": fingerprint.parts, "files": files})


def read_stamp(folder: str | os.PathLike) -> dict:
    """The stamp of ``folder`` (see :func:`write_stamp`), or ``{}`` when it has none."""
    try:
        return json.loads((Path(folder) / STAMP).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return {}


def is_current(folder: str | os.PathLike, fingerprint: Fingerprint) -> bool:
    """True when ``folder`` holds the stamp of ``fingerprint`` and every file that stamp lists.

    First removes what killed atomic writes of ``folder`` left beside it, so a stage that keeps
    its output still cleans up.
    """
    remove_leftovers(folder)
    stamp = read_stamp(folder)
    fresh = stamp.get("fingerprint") == fingerprint.value
    return fresh and all((Path(folder) / name).is_file() for name in stamp.get("files", []))


@contextlib.contextmanager
def cached_outputs(fingerprint: Fingerprint, *folders: str | os.PathLike) -> Iterator[tuple[Path, ...] | None]:
    """Yield None when every one of ``folders`` is current for ``fingerprint`` (:func:`is_current`):
    the caller keeps them and writes nothing. Else yield :func:`stamped_dirs`: one temp folder per
    folder, each replacing its folder whole, stamped, when the block exits without an exception.

    Examples::

        with cached_outputs(fp, "soups/s", "features/s") as folders:
            if folders is None:
                print("kept")
            else:
                model_dir, features_dir = folders      # write here; a raise leaves the old folders
    """
    if all(is_current(folder, fingerprint) for folder in folders):
        yield None
        return
    with stamped_dirs(fingerprint, *folders) as temps:
        yield temps


@contextlib.contextmanager
def stamped_dirs(fingerprint: Fingerprint, *folders: str | os.PathLike) -> Iterator[tuple[Path, ...]]:
    """Yield one temp folder per folder of ``folders`` (:func:`~soccerreid.io.atomic_dir`); when the
    block exits without an exception, each gets the stamp of ``fingerprint`` (:func:`write_stamp`,
    its last file) and replaces its folder whole; on an exception none is replaced.

    Examples::

        with stamped_dirs(fp, "artifacts/models/osnet_ain") as (tmp,):
            save(tmp / "model.pt")
    """
    with contextlib.ExitStack() as stack:
        temps = tuple(stack.enter_context(atomic_dir(folder)) for folder in folders)
        yield temps
        for tmp in temps:
            write_stamp(tmp, fingerprint)


def _relative(path: Path) -> str:
    """``soccerreid/...`` for package files, the bare name for an entry script elsewhere."""
    return path.relative_to(SRC).as_posix() if path.is_relative_to(SRC) else path.name


def _code_digest(path: Path) -> str:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and _has_docstring(body):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.unparse(tree).encode()).hexdigest()


def _has_docstring(body: list) -> bool:
    first = body[0] if body else None
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def _module_file(dotted: str) -> Path | None:
    """The file of a soccerreid module or package (its ``__init__.py``), None if it is neither."""
    base = SRC / Path(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every ``from soccerreid... import names`` and ``import soccerreid...`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("soccerreid"):
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.startswith("soccerreid")]
    return found


def _reexports_only(init: Path) -> bool:
    """True when a package ``__init__.py`` holds only a docstring, imports and ``__all__``."""
    body = ast.parse(init.read_text()).body
    allowed = (ast.Import, ast.ImportFrom, ast.Expr)
    return all(isinstance(n, allowed) or (isinstance(n, ast.Assign) and n.targets[0].id == "__all__") for n in body)


def _providers(module: str, names: list[str]) -> list[str]:
    """The modules whose code ``from module import names`` runs for those names."""
    path = _module_file(module)
    if path is None or path.name != "__init__.py" or not _reexports_only(path):
        return [module]
    out = [f"{module}.{n}" for n in names if _module_file(f"{module}.{n}")]
    for source, imported in _imports(path):
        if source == module:
            out += [f"{source}.{n}" for n in imported]
        elif set(imported) & set(names):
            out.append(source)
    return out
