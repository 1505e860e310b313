"""SoccerNet ``bbox_info`` JSON: find it, read it, cross-check it with the crop file names.

Valid, test and challenge hold ``{"query": {...}, "gallery": {...}}``; train holds a flat
``{bbox_idx: entry}`` mapping. bbox_idx counts within each list (sn-reid README, "Filename
convention"), so a query and a gallery crop share each index: an entry is keyed by
``(role, bbox_idx)``, role ``train`` for the flat layout. Entries carry bbox_idx, action_idx,
person_uid, frame_idx, clazz, id, UAI, relative_path, height and width (challenge entries have
no labels). The exact file names inside the official zips are not documented, so the split
folder is searched for any ``*bbox_info*.json``.

Examples::

    entries = read_bbox_info(find_bbox_info(Path("data/raw/reid/valid"))[0])
    entries["query", 0]        # {'bbox_idx': 0, 'action_idx': 0, 'person_uid': 1183, ...}
    entries["gallery", 0]      # another crop with the same bbox_idx
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from soccerreid.data.naming import CropName
from soccerreid.errors import DataError
from soccerreid.vocab import EVAL_ROLES

FLAT_ROLE = "train"
BoxKey = tuple[str, int]  # (role, bbox_idx): unique within a split
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


def find_bbox_info(split_dir: Path) -> list[Path]:
    """All ``*bbox_info*.json`` files anywhere under ``split_dir``, sorted.

    Examples::

        find_bbox_info(Path("data/raw/reid/train"))   # [.../train/train_bbox_info.json]
    """
    found = []
    for folder, _, files in os.walk(split_dir):
        found += [Path(folder) / f for f in files if f.endswith(".json") and "bbox_info" in f]
    return sorted(found)


def read_bbox_info(path: Path) -> dict[BoxKey, dict[str, Any]]:
    """Read a bbox_info JSON into ``{(role, bbox_idx): fields}``; one-line DataError when malformed.

    Examples::

        read_bbox_info(Path("valid/bbox_info.json"))["query", 12]["action_idx"]
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read bbox_info JSON ({_one_line(err)})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object keyed by bbox_idx or by query/gallery")
    groups = {role: data[role] for role in data} if set(data) and set(data) <= set(EVAL_ROLES) else {FLAT_ROLE: data}
    entries: dict[BoxKey, dict[str, Any]] = {}
    for role, group in groups.items():
        entries.update(_read_group(path, role, group))
    return entries


def _read_group(path: Path, role: str, group: Any) -> dict[BoxKey, dict[str, Any]]:
    if not isinstance(group, dict):
        raise DataError(f"{path}: expected '{role}' to be an object keyed by bbox_idx")
    entries = {}
    for key, fields in group.items():
        if not isinstance(fields, dict) or not str(key).isdigit():
            raise DataError(f"{path}: {role} entry {key!r} is not a bbox_idx-keyed object")
        entries[role, int(key)] = fields
    return entries


def check_names(entries: dict[BoxKey, dict[str, Any]], crops: dict[BoxKey, CropName], source: Path) -> list[str]:
    """Cross-check bbox_info entries with the crops' file names, both keyed by (role, bbox_idx).

    Only fields present on both sides are compared, as strings (so ``9`` and ``"9"`` agree). A
    disagreement on what defines an identity (action_idx, person_uid) raises a DataError naming
    ``source`` and the box; other disagreements (frame, class, id, UAI, size) are returned as notes.

    Examples::

        check_names(read_bbox_info(json_path), {("query", 12): parse_name(p)}, json_path)   # []
    """
    minor: dict[str, list[BoxKey]] = {}
    for key, crop in crops.items():
        fields = entries.get(key)
        if fields is None:
            continue
        for field, attr in _NAME_FIELDS.items():
            value = getattr(crop, attr)
            if field in fields and value not in ("", -1) and str(fields[field]) != str(value):
                if field in _IDENTITY_FIELDS:
                    raise DataError(
                        f"{source}: {key[0]} bbox {key[1]} has {field}={fields[field]!r} "
                        f"but its file name says {value!r}"
                    )
                minor.setdefault(field, []).append(key)
    return [
        f"{source}: {len(boxes)} entries disagree with their file names on {field} "
        f"(first: {boxes[0][0]} bbox {boxes[0][1]}); file names win"
        for field, boxes in minor.items()
    ]


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())
