"""SoccerNet ``bbox_info`` JSON: find it, read it, cross-check it with the crop file names.

The JSON is keyed by bbox_idx. Valid, test and challenge hold ``{"query": {...}, "gallery":
{...}}``; train holds a flat ``{bbox_idx: entry}`` mapping. Entries carry bbox_idx, action_idx,
person_uid, frame_idx, clazz, id, UAI, relative_path, height and width (challenge entries have
no labels). The exact file names inside the official zips are not documented, so the split
folder is searched for any ``*bbox_info*.json``.

Examples::

    entries = read_bbox_info(find_bbox_info(Path("data/raw/reid/valid"))[0])
    entries[54404]        # BboxEntry(role='query', fields={'action_idx': 1940, ...})
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soccerreid.data.naming import CropName
from soccerreid.errors import DataError

ROLES = ("query", "gallery")
_IDENTITY_FIELDS = ("action_idx", "person_uid")
# bbox_info key -> CropName attribute, for the cross-check with file names
_NAME_FIELDS = {
    "action_idx": "action_idx",
    "person_uid": "person_uid",
    "frame_idx": "frame_idx",
    "clazz": "clazz",
    "id": "jersey",
    "UAI": "uai",
    "height": "height",
    "width": "width",
}


@dataclass(frozen=True)
class BboxEntry:
    """One bbox_info entry: its role (``query``, ``gallery`` or ``None`` when flat) and fields."""

    role: str | None
    fields: dict[str, Any]


def find_bbox_info(split_dir: Path) -> list[Path]:
    """All ``*bbox_info*.json`` files anywhere under ``split_dir``, sorted.

    Examples::

        find_bbox_info(Path("data/raw/reid/train"))   # [.../train/train_bbox_info.json]
    """
    found = []
    for folder, _, files in os.walk(split_dir):
        found += [Path(folder) / f for f in files if f.endswith(".json") and "bbox_info" in f]
    return sorted(found)


def read_bbox_info(path: Path) -> dict[int, BboxEntry]:
    """Read a bbox_info JSON into ``{bbox_idx: BboxEntry}``; one-line DataError when malformed.

    Examples::

        read_bbox_info(Path("valid/bbox_info.json"))[12].role     # 'query'
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read bbox_info JSON ({_one_line(err)})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object keyed by bbox_idx or by query/gallery")
    if set(data) and set(data) <= set(ROLES):
        groups = {role: data[role] for role in data}
    else:
        groups = {None: data}
    entries: dict[int, BboxEntry] = {}
    for role, group in groups.items():
        entries.update(_read_group(path, role, group))
    return entries


def _read_group(path: Path, role: str | None, group: Any) -> dict[int, BboxEntry]:
    if not isinstance(group, dict):
        raise DataError(f"{path}: expected '{role}' to be an object keyed by bbox_idx")
    entries = {}
    for key, fields in group.items():
        if not isinstance(fields, dict) or not str(key).isdigit():
            raise DataError(f"{path}: entry {key!r} is not a bbox_idx-keyed object")
        entries[int(key)] = BboxEntry(role, fields)
    return entries


def check_names(entries: dict[int, BboxEntry], crops: dict[int, tuple[str, CropName]], source: Path) -> list[str]:
    """Cross-check bbox_info entries with the crops' file names.

    ``crops`` maps bbox_idx to (role, parsed name). Only fields present on both sides are
    compared, as strings (so ``9`` and ``"9"`` agree). A disagreement on what defines an
    identity (query/gallery role, action_idx, person_uid) raises a DataError naming ``source``
    and the bbox; other disagreements (frame, class, id, UAI, size) are returned as notes.

    Examples::

        check_names(read_bbox_info(json_path), {12: ("query", parse_name(p))}, json_path)   # []
    """
    minor: dict[str, list[int]] = {}
    for bbox_idx, (role, crop) in crops.items():
        entry = entries.get(bbox_idx)
        if entry is None:
            continue
        if entry.role is not None and entry.role != role:
            raise DataError(f"{source}: bbox {bbox_idx} is listed as {entry.role} but its crop is in {role}/")
        for key, attr in _NAME_FIELDS.items():
            value = getattr(crop, attr)
            if key in entry.fields and value not in ("", -1) and str(entry.fields[key]) != str(value):
                if key in _IDENTITY_FIELDS:
                    raise DataError(
                        f"{source}: bbox {bbox_idx} has {key}={entry.fields[key]!r} but its file name says {value!r}"
                    )
                minor.setdefault(key, []).append(bbox_idx)
    return [
        f"{source}: {len(boxes)} entries disagree with their file names on {key} (first: bbox {boxes[0]}); file names win"
        for key, boxes in minor.items()
    ]


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())
