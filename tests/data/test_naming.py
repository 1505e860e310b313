"""File-name parser on real SoccerNet ReID names and on malformed ones."""

from __future__ import annotations

import pytest

from soccerreid.data.naming import CropName, format_name, parse_challenge_name, parse_name
from soccerreid.errors import DataError
from soccerreid.vocab import CLASSES

REFERENCE_EXAMPLE = "54404-1940-33397-5089-Player_team_right-9-014r002_00858c3b0003-775x449.png"


def test_reference_example_parses_field_by_field():
    crop = parse_name(f"train/england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1 Burnley/1940/{REFERENCE_EXAMPLE}")
    assert crop == CropName(
        bbox_idx=54404,
        action_idx=1940,
        person_uid=33397,
        frame_idx=5089,
        clazz="Player_team_right",
        jersey="9",
        uai="014r002_00858c3b0003",
        height=775,
        width=449,
    )
    assert crop.labelled
    assert format_name(crop) == REFERENCE_EXAMPLE


@pytest.mark.parametrize("clazz", CLASSES)
@pytest.mark.parametrize("jersey", ["9", "17", "a", "B", "None"])
def test_every_class_and_id_kind_round_trips(clazz, jersey):
    name = f"7-3-11-5-{clazz}-{jersey}-002a000_0123456789ab-120x50.png"
    crop = parse_name(name)
    assert (crop.clazz, crop.jersey, crop.height, crop.width) == (clazz, jersey, 120, 50)
    assert format_name(crop) == name


def test_challenge_name_has_no_labels():
    crop = parse_challenge_name("challenge/query/1207-88-143x61.png")
    assert (crop.bbox_idx, crop.action_idx, crop.height, crop.width) == (1207, 88, 143, 61)
    assert not crop.labelled and crop.person_uid == -1 and crop.jersey == ""
    assert format_name(crop) == "1207-88-143x61.png"


@pytest.mark.parametrize(
    "name",
    [
        "54404-1940-33397-5089-Player_team_right-9-775x449.png",  # 7 fields: UAI missing
        "54404-1940-33397-5089-Player_team_right-9-014r002_00858c3b0003-775x449.jpg",
        "54404-1940-33397-5089-Player_team_right-9-014r002_00858c3b0003-775by449.png",
        "x4404-1940-33397-5089-Player_team_right-9-014r002_00858c3b0003-775x449.png",
        "54404-1940-33397-5089-Player_team_right-9-014r002-00858c3b0003-775x449.png",  # 9 fields
        "1207-88-143x61.png",  # a challenge name where a labelled one is expected
    ],
)
def test_malformed_labelled_name_is_one_line_error_naming_path(name):
    with pytest.raises(DataError) as err:
        parse_name(f"data/raw/reid/train/{name}")
    message = str(err.value)
    assert message.startswith(f"data/raw/reid/train/{name}: malformed crop file name")
    assert "<bbox_idx>-<action_idx>-<person_uid>-<frame_idx>-<clazz>-<id>-<UAI>-<H>x<W>.png" in message
    assert "\n" not in message


def test_labelled_name_in_challenge_is_rejected():
    with pytest.raises(
        DataError,
        match=r"challenge/gallery/.*: malformed challenge crop file name "
        r"\(expected <bbox_idx>-<action_idx>-<H>x<W>.png\)",
    ):
        parse_challenge_name(f"challenge/gallery/{REFERENCE_EXAMPLE}")
