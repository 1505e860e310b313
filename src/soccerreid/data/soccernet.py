"""Real SoccerNet ReID: find a local copy, download it with the SoccerNet SDK, unzip it safely.

A local copy lives in ``<soccernet_dir>/<task>/`` (the SDK's layout: ``reid/train.zip`` ...)
or directly in ``<soccernet_dir>/``, as zips or as unzipped split folders. Zips are unzipped
into a hidden temporary folder that is renamed into place only once complete, so an
interrupted unzip never looks like a split.

Examples::

    reid_dir = locate_soccernet("/data/SoccerNet", task="reid", download=False)
    reid_dir / "valid" / "query"            # unzipped, ready for the index
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

from soccerreid.data.index import scan_split
from soccerreid.errors import DataError
from soccerreid.vocab import SPLITS

# Published sizes of SoccerNet ReID v3 (docs/data.md): images per split and role.
PUBLISHED = {
    "train": {"images": 248_234},
    "valid": {"images": 45_993, "query": 11_638, "gallery": 34_355},
    "test": {"images": 46_766, "query": 11_777, "gallery": 34_989},
    "challenge": {"images": 35_103, "query": 9_021, "gallery": 26_082},
}
# The released labels, as the SDK writes them at the task root (splits test_labels, challenge_labels).
LABEL_FILES = {"test": "test_bbox_info.json", "challenge": "challenge_bbox_info.json"}
LABEL_SPLITS = {"test": "test_labels", "challenge": "challenge_labels"}


def locate_soccernet(
    root: str | os.PathLike, task: str, splits: Sequence[str] = SPLITS, download: bool = False
) -> Path:
    """The folder holding the unzipped ``splits``; downloads (if asked) and unzips what is missing.

    With ``download`` the released labels of test and challenge (:data:`LABEL_FILES`) are
    fetched too when absent. Raises a one-line DataError naming the folder and how to supply
    the data by hand when a split is neither unzipped, nor zipped, nor downloadable.

    Examples::

        locate_soccernet("/data/SoccerNet", "reid")        # PosixPath('/data/SoccerNet/reid')
    """
    root = Path(root)
    base = find_task_dir(root, task)
    missing = [split for split in splits if not _present(base, split)]
    wanted = missing + [LABEL_SPLITS[s] for s, name in LABEL_FILES.items() if not (base / name).is_file()]
    if wanted and download:
        download_splits(root, task, wanted)
        base = find_task_dir(root, task)
        missing = [split for split in splits if not _present(base, split)]
    if missing:
        raise DataError(_missing_message(root, task, missing))
    for split in splits:
        if not (base / split).is_dir():
            unzip_split(base / f"{split}.zip", base / split)
    return base


def find_task_dir(root: Path, task: str) -> Path:
    """``<root>/<task>`` if it holds any split (folder or zip), else ``<root>`` if it does, else
    ``<root>/<task>`` (where the SDK downloads to).

    Examples::

        find_task_dir(Path("/data/SoccerNet"), "reid")
    """
    for candidate in (root / task, root):
        if any(_present(candidate, split) for split in SPLITS):
            return candidate
    return root / task


def _present(base: Path, split: str) -> bool:
    return (base / split).is_dir() or (base / f"{split}.zip").is_file()


def _missing_message(root: Path, task: str, missing: list[str]) -> str:
    zips = ", ".join(f"{split}.zip" for split in missing)
    return (
        f"{root / task}: SoccerNet split(s) {', '.join(missing)} not found; put {zips} (or the unzipped "
        f"split folders) there by hand, or set data.download: true to fetch them with the SoccerNet SDK"
    )


def download_splits(root: Path, task: str, splits: Sequence[str]) -> None:
    """Download ``splits`` (split names, or ``test_labels``/``challenge_labels``) with
    ``SoccerNetDownloader(...).downloadDataTask``; fails in seconds offline.

    Any failure becomes ONE line saying what failed and how to provide the files by hand.

    Examples::

        # fetches reid/valid.zip and reid/test_bbox_info.json
        download_splits(Path("/data/SoccerNet"), "reid", ["valid", "test_labels"])
    """
    try:
        from SoccerNet.Downloader import SoccerNetDownloader

        root.mkdir(parents=True, exist_ok=True)
        SoccerNetDownloader(LocalDirectory=str(root)).downloadDataTask(task=task, split=list(splits))
    except Exception as err:  # the SDK raises many types (HTTP, hub, OS errors); all mean "not downloaded"
        reason = " ".join(str(err).split())[:200]
        raise DataError(
            f"SoccerNet download of {task} {'/'.join(splits)} into {root / task} failed "
            f"({type(err).__name__}: {reason}); without network, put {', '.join(_file_names(splits))} "
            f"(or the unzipped folders) in {root / task} by hand and set data.download: false"
        ) from None


def _file_names(splits: Sequence[str]) -> list[str]:
    labels = {name: LABEL_FILES[split] for split, name in LABEL_SPLITS.items()}
    return [labels.get(split, f"{split}.zip") for split in splits]


def unzip_split(zip_path: Path, dest: Path) -> Path:
    """Extract a split's zip to ``dest`` atomically: into a hidden temp folder, checked, then
    renamed into place.

    A leading ``<split>/`` or ``<task>/`` folder inside the zip is stripped. Before the rename
    the split is scanned (:func:`~soccerreid.data.index.scan_split`): names parsed and crops
    counted against its bbox_info. A corrupt or truncated zip, or one with crops missing,
    raises a one-line DataError naming the zip and leaves nothing behind, so a later run never
    takes a partial split for a complete one.

    Examples::

        unzip_split(Path("/data/SoccerNet/reid/valid.zip"), Path("/data/SoccerNet/reid/valid"))
    """
    tmp = dest.parent / f".{dest.name}.unzip.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(tmp)
        content = _content_root(tmp, dest.name)
        _check_unzipped(zip_path, content, dest)
        os.replace(content, dest)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as err:
        reason = " ".join(str(err).split())
        raise DataError(f"{zip_path}: cannot unzip ({reason}); delete it and download or copy it again") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _check_unzipped(zip_path: Path, content: Path, dest: Path) -> None:
    try:
        scan_split(content, dest.name)
    except DataError as err:
        reason = str(err).replace(str(content), str(dest))
        raise DataError(f"{zip_path}: the archive is incomplete or malformed ({reason})") from None


def _content_root(folder: Path, split: str) -> Path:
    """Descend through single wrapper folders named like the split or the task."""
    entries = list(folder.iterdir())
    while len(entries) == 1 and entries[0].is_dir() and entries[0].name in (split, "reid", "reid-2023"):
        folder = entries[0]
        entries = list(folder.iterdir())
    return folder


def check_counts(split: str, role_counts: dict[str, int]) -> list[str]:
    """Warnings where a split's image counts differ from the published SoccerNet ReID sizes.

    Examples::

        check_counts("valid", {"query": 11638, "gallery": 34355})     # []
    """
    expected = PUBLISHED[split]
    found = {"images": sum(role_counts.values()), **role_counts}
    return [
        f"{split}: {found.get(key, 0):,} {'' if key == 'images' else key + ' '}images, SoccerNet publishes "
        f"{value:,} (incomplete or modified copy?)"
        for key, value in expected.items()
        if found.get(key, 0) != value
    ]


def find_labels(folders: Sequence[Path]) -> dict[str, Path]:
    """``{split: path}`` of the released label files (:data:`LABEL_FILES`) found in ``folders``;
    the first folder holding a file wins.

    Examples::

        find_labels([Path("data/soccernet/reid"), Path("data/soccernet")])
        # {'test': .../reid/test_bbox_info.json, 'challenge': .../reid/challenge_bbox_info.json}
    """
    found = {}
    for split, name in LABEL_FILES.items():
        paths = [folder / name for folder in folders if (folder / name).is_file()]
        if paths:
            found[split] = paths[0]
    return found
