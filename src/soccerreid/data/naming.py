"""SoccerNet ReID crop file names: parse and format.

Labelled crops (train, valid, test) are named
``<bbox_idx>-<action_idx>-<person_uid>-<frame_idx>-<clazz>-<id>-<UAI>-<H>x<W>.png``: eight
``-`` separated fields, where ``clazz`` and ``UAI`` may contain ``_`` and ``id`` is the jersey
number, a letter, or ``None``. Challenge crops carry no labels:
``<bbox_idx>-<action_idx>-<H>x<W>.png``.

Examples::

    crop = parse_name("54404-1940-33397-5089-Player_team_right-9-014r002_00858c3b0003-775x449.png")
    crop.person_uid, crop.jersey, crop.height, crop.width    # (33397, '9', 775, 449)
    format_name(crop)                                        # the same file name back
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import PurePath

from soccerreid.errors import DataError

UNLABELLED = -1
NONE_ID = "None"  # the id of a person seen in one frame only

_LABELLED = re.compile(
    r"(?P<bbox_idx>\d+)-(?P<action_idx>\d+)-(?P<person_uid>\d+)-(?P<frame_idx>\d+)"
    r"-(?P<clazz>[A-Za-z][A-Za-z0-9_]*)-(?P<jersey>[A-Za-z0-9]+)-(?P<uai>[A-Za-z0-9_]+)"
    r"-(?P<height>\d+)x(?P<width>\d+)\.png"
)
_CHALLENGE = re.compile(r"(?P<bbox_idx>\d+)-(?P<action_idx>\d+)-(?P<height>\d+)x(?P<width>\d+)\.png")
_LABELLED_FORM = "<bbox_idx>-<action_idx>-<person_uid>-<frame_idx>-<clazz>-<id>-<UAI>-<H>x<W>.png"
_CHALLENGE_FORM = "<bbox_idx>-<action_idx>-<H>x<W>.png"


@dataclass(frozen=True)
class CropName:
    """The fields of one crop's file name; unlabelled (challenge) crops hold -1 and ''."""

    bbox_idx: int
    action_idx: int
    height: int
    width: int
    person_uid: int = UNLABELLED
    frame_idx: int = UNLABELLED
    clazz: str = ""
    jersey: str = ""
    uai: str = ""

    @property
    def labelled(self) -> bool:
        """True for train/valid/test names, False for challenge names."""
        return self.person_uid != UNLABELLED


def parse_name(path: str | os.PathLike) -> CropName:
    """Parse a labelled (train/valid/test) crop file name; only the base name is read.

    Raises :class:`DataError` naming ``path`` and the expected form when it does not match.

    Examples::

        parse_name("a/b/1-2-3-4-Main_referee-A-001a000_0123456789ab-120x50.png").clazz  # 'Main_referee'
    """
    match = _LABELLED.fullmatch(PurePath(path).name)
    if match is None:
        raise DataError(f"{path}: malformed crop file name (expected {_LABELLED_FORM})")
    fields = match.groupdict()
    ints = {k: int(fields[k]) for k in ("bbox_idx", "action_idx", "person_uid", "frame_idx", "height", "width")}
    return CropName(**ints, clazz=fields["clazz"], jersey=fields["jersey"], uai=fields["uai"])


def parse_challenge_name(path: str | os.PathLike) -> CropName:
    """Parse a label-free challenge crop file name ``<bbox_idx>-<action_idx>-<H>x<W>.png``.

    Examples::

        parse_challenge_name("7-3-80x31.png").action_idx    # 3
    """
    match = _CHALLENGE.fullmatch(PurePath(path).name)
    if match is None:
        raise DataError(f"{path}: malformed challenge crop file name (expected {_CHALLENGE_FORM})")
    return CropName(**{k: int(v) for k, v in match.groupdict().items()})


def format_name(crop: CropName) -> str:
    """The SoccerNet file name of ``crop``: labelled form if it has labels, else challenge form.

    Examples::

        format_name(CropName(bbox_idx=7, action_idx=3, height=80, width=31))   # '7-3-80x31.png'
    """
    if not crop.labelled:
        return f"{crop.bbox_idx}-{crop.action_idx}-{crop.height}x{crop.width}.png"
    return (
        f"{crop.bbox_idx}-{crop.action_idx}-{crop.person_uid}-{crop.frame_idx}-{crop.clazz}"
        f"-{crop.jersey}-{crop.uai}-{crop.height}x{crop.width}.png"
    )
