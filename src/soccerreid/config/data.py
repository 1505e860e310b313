"""Config of the ``prepare`` stage (params section ``data``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from soccerreid.config._base import bounded
from soccerreid.errors import ConfigError


@dataclass(frozen=True)
class SplitActions:
    """Number of synthetic actions per split."""

    train: int = bounded(60, ge=1)
    valid: int = bounded(20, ge=1)
    test: int = bounded(20, ge=1)
    challenge: int = bounded(20, ge=1)


@dataclass(frozen=True)
class SyntheticConfig:
    """The embedded SoccerNet-format generator.

    ``games`` is the number of games per split, ``teams`` the league's clubs (each with
    ``real_players_per_team`` outfield players and two keepers) that play them.
    ``people_per_action`` and ``frames_per_action`` are inclusive [low, high] ranges;
    ``crop_height`` is the [low, high] range of crop heights in pixels; ``occlusion`` is the
    chance that a crop shows a second person overlapping the first.
    """

    seed: int = bounded(0, ge=0)
    actions: SplitActions = field(default_factory=SplitActions)
    games: int = bounded(8, ge=1)
    teams: int = bounded(10, ge=2)
    real_players_per_team: int = bounded(18, ge=11, le=39)
    people_per_action: tuple[int, int] = bounded((15, 25), ge=3, le=26)
    frames_per_action: tuple[int, int] = bounded((2, 4), ge=2)
    crop_height: tuple[int, int] = bounded((30, 300), ge=16)
    occlusion: float = bounded(0.3, ge=0.0, le=1.0)

    def __post_init__(self) -> None:
        for name in ("people_per_action", "frames_per_action", "crop_height"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(f"{name}: expected [low, high] with low <= high, got [{low}, {high}]")


@dataclass(frozen=True)
class DataConfig:
    """Where the SoccerNet ReID tree comes from.

    ``source: synthetic`` generates the embedded dataset; ``source: soccernet`` uses an existing
    local copy at ``soccernet_dir`` (zips or unzipped folders), or downloads it there with the
    SoccerNet SDK, with the released test and challenge labels, when ``download`` is true.
    ``workers`` is how many processes render (synthetic) and threads decode (both sources) the
    crops; 0 means every core of the machine. It never changes the output.
    """

    source: Literal["synthetic", "soccernet"] = "synthetic"
    soccernet_dir: str = ""
    download: bool = False
    task: Literal["reid", "reid-2023"] = "reid"
    workers: int = bounded(0, ge=0)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    @property
    def resolved_workers(self) -> int:
        """``workers``, with 0 replaced by the number of cores."""
        return self.workers or os.cpu_count() or 1

    def __post_init__(self) -> None:
        if self.source == "soccernet" and not self.soccernet_dir:
            raise ConfigError("soccernet_dir: required when source is 'soccernet' (a local SoccerNet folder)")
