"""The crop index: one CSV table per split, the only way later stages see the data.

``<index_dir>/<split>.csv`` has one row per usable crop and these columns (see docs/data.md):

=========== ====== ===============================================================
path        str    crop file: relative to the repo root for data DVC tracks (the synthetic
                   tree), absolute for data outside DVC (SoccerNet), so that a temporary
                   or queued experiment workspace still finds the crops
split       str    train | valid | test | challenge
role        str    train | query | gallery
bbox_idx    int    SoccerNet bbox_idx: position in its own list (train, query or gallery);
                   query and gallery overlap, so (role, bbox_idx) is the key of a crop
action_idx  int    the action (identities are only valid within one action)
person_uid  int    identity within the action; -1 when unlabelled (challenge)
frame_idx   int    the frame (action frame or replay); -1 when unlabelled
clazz       str    Player_team_left, Main_referee, ...; '' when unlabelled
jersey      str    jersey number, a letter, or 'None'; '' when unlabelled
uai         str    SoccerNet UAI; '' when unlabelled
height      int    crop height in pixels (from the file name)
width       int    crop width in pixels
game        str    <championship>/<season>/<game>; '' for the flat challenge split
label       int    train: one contiguous int per (action_idx, person_uid); -1 elsewhere
=========== ====== ===============================================================

Rows are sorted by role (train, query, gallery) then bbox_idx.

Examples::

    train = read_index("data/index", "train")
    small = select_train_fraction(train, 0.1, seed=0)    # 10% of train actions, labels 0..n-1
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from soccerreid.data.metadata import check_names, find_bbox_info, read_bbox_info
from soccerreid.data.naming import UNLABELLED, CropName, parse_challenge_name, parse_name
from soccerreid.data.validate import find_invalid_images
from soccerreid.errors import ConfigError, DataError
from soccerreid.io import atomic_path
from soccerreid.vocab import EVAL_ROLES, ROLES, SPLITS

COLUMNS = (
    "path",
    "split",
    "role",
    "bbox_idx",
    "action_idx",
    "person_uid",
    "frame_idx",
    "clazz",
    "jersey",
    "uai",
    "height",
    "width",
    "game",
    "label",
)
INT_COLUMNS = ("bbox_idx", "action_idx", "person_uid", "frame_idx", "height", "width", "label")
_NAME_COLUMNS = ("bbox_idx", "action_idx", "person_uid", "frame_idx", "clazz", "jersey", "uai", "height", "width")
_ROLE_ORDER = {role: order for order, role in enumerate(ROLES)}


@dataclass(frozen=True)
class CropFile:
    """A crop found on disk: its path, role (train/query/gallery) and game folder."""

    path: Path
    role: str
    game: str


@dataclass(frozen=True)
class ScannedSplit:
    """A split whose crops are listed, parsed and cross-checked, but not yet decoded."""

    split: str
    split_dir: Path
    crops: list[CropFile]
    names: list[CropName]
    notes: list[str]


@dataclass
class SplitIndex:
    """One split's index table, its undecodable crops ``{path: reason}`` and notes for the user."""

    split: str
    frame: pd.DataFrame
    invalid: dict[Path, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def scan_split(split_dir: str | os.PathLike, split: str, labels: Sequence[Path] = ()) -> ScannedSplit:
    """List, parse and cross-check a split (cheap: no image is decoded).

    ``labels`` are more bbox_info files of this split kept outside its folder (the released
    labels). A missing folder, a malformed name, a (role, bbox_idx) used twice, metadata
    disagreeing with a name, or crops missing from or added to what the metadata lists raises a
    one-line DataError naming the path.

    Examples::

        scan_split("data/raw/reid/challenge", "challenge").names[0].action_idx
    """
    split_dir = Path(split_dir)
    crops = list_crops(split_dir, split)
    parse = parse_challenge_name if split == "challenge" else parse_name
    names = [parse(crop.path) for crop in crops]
    _check_unique(crops, names)
    notes = cross_check_metadata(split_dir, crops, names, labels)
    return ScannedSplit(split, split_dir, crops, names, notes)


def decode_splits(scanned: Sequence[ScannedSplit], workers: int = 1, absolute_paths: bool = False) -> list[SplitIndex]:
    """Decode every crop of the scanned splits, with one progress bar over all of them;
    undecodable crops are left out and reported.

    Examples::

        decode_splits([scan_split("data/raw/reid/test", "test")], workers=2)[0].invalid    # {}
    """
    paths = [crop.path for split in scanned for crop in split.crops]
    invalid = find_invalid_images(paths, workers, progress=f"prepare: decoding {len(scanned)} split(s)")
    indexes = []
    for split in scanned:
        kept = [(c, n) for c, n in zip(split.crops, split.names) if c.path not in invalid]
        if not kept:
            raise DataError(f"{split.split_dir}: none of the {len(split.crops)} crops could be decoded")
        frame = make_frame([c for c, _ in kept], [n for _, n in kept], split.split, absolute_paths)
        mine = {c.path: invalid[c.path] for c in split.crops if c.path in invalid}
        indexes.append(SplitIndex(split.split, frame, mine, split.notes))
    return indexes


def list_crops(split_dir: Path, split: str) -> list[CropFile]:
    """Every ``*.png`` under a split folder, in a stable order, with role and game.

    Train crops sit under ``train/<championship>/<season>/<game>/<action>/``; the other
    splits have ``query/`` and ``gallery/`` sub-folders (flat for challenge).

    Examples::

        list_crops(Path("data/raw/reid/valid"), "valid")[0].role     # 'query'
    """
    if split not in SPLITS:
        raise DataError(f"{split_dir}: unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: split folder not found (expected the unzipped SoccerNet {split} split)")
    roots = [("train", split_dir)] if split == "train" else [(role, split_dir / role) for role in EVAL_ROLES]
    crops = []
    for role, root in roots:
        if not root.is_dir():
            raise DataError(f"{root}: folder not found (expected {split}/query/ and {split}/gallery/)")
        crops += _walk_pngs(root, role)
    if not crops:
        raise DataError(f"{split_dir}: no .png crops found")
    return crops


def _walk_pngs(root: Path, role: str) -> list[CropFile]:
    crops = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        parts = Path(folder).relative_to(root).parts
        game = "/".join(parts[:-1])
        crops += [CropFile(Path(folder) / f, role, game) for f in sorted(files) if _is_crop(f)]
    return crops


def _is_crop(filename: str) -> bool:
    return filename.endswith(".png") and not filename.startswith(".")


def _check_unique(crops: Sequence[CropFile], names: Sequence[CropName]) -> None:
    seen: dict[tuple[str, int], Path] = {}
    for crop, name in zip(crops, names):
        other = seen.setdefault((crop.role, name.bbox_idx), crop.path)
        if other != crop.path:
            raise DataError(f"{crop.path}: {crop.role} bbox_idx {name.bbox_idx} is also used by {other}")


def cross_check_metadata(
    split_dir: Path, crops: Sequence[CropFile], names: Sequence[CropName], labels: Sequence[Path] = ()
) -> list[str]:
    """Compare every bbox_info JSON under ``split_dir`` (and the ``labels`` files) with the names.

    A disagreement on identity (action, person) raises a DataError, and so does a split whose
    crops differ from what a JSON lists (crops missing, as in a truncated copy, or crops the
    JSON does not know): its counts are wrong. Other disagreements are returned as notes. No
    JSON at all is a note too: the names carry every label.

    Examples::

        cross_check_metadata(Path("valid"), crops, names)   # []
    """
    sources = find_bbox_info(split_dir) + list(labels)
    if not sources:
        return [f"{split_dir}: no bbox_info JSON found; labels come from file names only"]
    by_bbox = {(crop.role, name.bbox_idx): name for crop, name in zip(crops, names)}
    notes = []
    for source in sources:
        entries = read_bbox_info(source)
        notes += check_names(entries, by_bbox, source)
        _check_counts(source, entries, by_bbox)
    return notes


def _check_counts(source: Path, entries: dict, crops: dict) -> None:
    missing, unlisted = sorted(entries.keys() - crops.keys()), sorted(crops.keys() - entries.keys())
    if missing or unlisted:
        first = (
            f"{missing[0][0]} bbox {missing[0][1]} has no crop"
            if missing
            else f"{unlisted[0][0]} bbox {unlisted[0][1]} is not listed"
        )
        raise DataError(
            f"{source}: lists {len(entries)} crops but the split holds {len(crops)} ({len(missing)} missing, "
            f"{len(unlisted)} not listed; first: {first}); the copy is incomplete or modified: "
            "unzip or download it again"
        )


def make_frame(
    crops: Sequence[CropFile], names: Sequence[CropName], split: str, absolute_paths: bool = False
) -> pd.DataFrame:
    """Build the index table (columns :data:`COLUMNS`) from crops and their parsed names.

    Paths are absolute with ``absolute_paths`` (data outside DVC), else relative to the
    working directory (the repo root) when under it.

    Examples::

        make_frame(crops, [parse_name(c.path) for c in crops], "train").label.max()
    """
    frame = pd.DataFrame(
        {
            "path": _index_paths([c.path for c in crops], absolute_paths),
            "split": split,
            "role": [c.role for c in crops],
            **{col: [getattr(n, col) for n in names] for col in _NAME_COLUMNS},
            "game": [c.game for c in crops],
        }
    )
    frame["label"] = UNLABELLED
    order = frame["role"].map(_ROLE_ORDER)
    frame = frame.assign(_order=order).sort_values(["_order", "bbox_idx"], kind="stable").drop(columns="_order")
    frame = frame.reset_index(drop=True)
    if split == "train":
        frame["label"] = assign_labels(frame)
    return frame[list(COLUMNS)].astype({col: np.int64 for col in INT_COLUMNS})


ACTION_KEY = ["split", "action_idx"]  # action_idx counts within its split: an action is the pair


def assign_labels(frame: pd.DataFrame) -> np.ndarray:
    """One contiguous int per (split, action_idx, person_uid), numbered in sorted order: (N,) int64.

    Examples::

        assign_labels(pd.DataFrame({"split": "train", "action_idx": [5, 5, 2], "person_uid": [9, 9, 1]}))  # [1, 1, 0]
    """
    groups = frame.groupby([*ACTION_KEY, "person_uid"], sort=True).ngroup()
    return groups.to_numpy(dtype=np.int64)


def _index_paths(paths: Sequence[Path], absolute: bool) -> list[str]:
    cwd = os.path.abspath(os.getcwd()) + os.sep
    out = []
    for path in paths:
        full = os.path.realpath(path) if absolute else os.path.abspath(path)
        out.append(Path(full[len(cwd) :]).as_posix() if not absolute and full.startswith(cwd) else full)
    return out


def write_index(frame: pd.DataFrame, index_dir: str | os.PathLike, split: str) -> Path:
    """Write ``frame`` atomically to ``<index_dir>/<split>.csv`` and return that path.

    Examples::

        write_index(decode_splits([scan_split("data/raw/reid/train", "train")])[0].frame, "data/index", "train")
    """
    path = Path(index_dir) / f"{split}.csv"
    with atomic_path(path) as tmp:
        frame[list(COLUMNS)].to_csv(tmp, index=False)
    return path


def index_file(index_dir: str | os.PathLike, split: str) -> Path:
    """``<index_dir>/<split>.csv`` if it is a file, else a one-line DataError (checked before any work)."""
    path = Path(index_dir) / f"{split}.csv"
    if not path.is_file():
        raise DataError(f"{path}: index file not found (run the prepare stage first)")
    return path


def read_index(index_dir: str | os.PathLike, split: str) -> pd.DataFrame:
    """Read and validate ``<index_dir>/<split>.csv``; a one-line DataError names the file.

    String columns stay strings (jersey ``'None'`` and empty game are kept as written);
    integer columns are int64.

    Examples::

        gallery = read_index("data/index", "valid").query("role == 'gallery'")
    """
    path = index_file(index_dir, split)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path}: cannot read index CSV ({' '.join(str(err).split())})") from None
    missing = [col for col in COLUMNS if col not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column {missing[0]!r} (expected columns: {', '.join(COLUMNS)})")
    for col in INT_COLUMNS:
        try:
            frame[col] = frame[col].astype(np.int64)
        except ValueError:
            raise DataError(f"{path}: column {col!r} holds a non-integer value") from None
    wrong = frame.index[frame["split"] != split]
    if len(wrong):
        raise DataError(f"{path}: row {wrong[0] + 2} has split {frame['split'].iat[wrong[0]]!r}, expected {split!r}")
    return frame[list(COLUMNS)]


def select_train_fraction(frame: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """A deterministic subset of train ACTIONS, with labels re-made contiguous (0..n-1).

    Actions, (split, action_idx) pairs, are shuffled once by ``seed`` and the first
    ``ceil(fraction * n_actions)`` kept, so subsets are nested: the 0.1 subset lies inside the 0.3
    subset. Row order is kept.

    Examples::

        tenth = select_train_fraction(read_index("data/index", "train"), 0.1, seed=0)
        tenth.label.max() + 1        # number of identities in the subset
    """
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"train_fraction: expected a value in (0, 1], got {fraction!r}")
    keys = pd.MultiIndex.from_frame(frame[ACTION_KEY])
    actions = keys.unique().sort_values()
    order = np.random.default_rng(seed).permutation(len(actions))
    keep = actions[order[: max(1, math.ceil(fraction * len(actions) - 1e-9))]]
    subset = frame[keys.isin(keep)].copy()
    subset["label"] = assign_labels(subset)
    return subset
