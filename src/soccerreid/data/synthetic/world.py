"""The synthetic league: teams with kits, real players and referees with persistent looks.

A "real" person keeps the same look in every game and action (skin, hair, build, boots,
socks, sleeves, number); SoccerNet gives them a new person_uid in every action.

Examples::

    world = make_world(np.random.default_rng(0), teams=10, squad=18)
    world.teams[0].players[3].number, world.teams[0].home.shirt
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RGB = tuple[int, int, int]

KIT_COLOURS: tuple[RGB, ...] = (
    (200, 30, 40),
    (120, 25, 50),
    (30, 60, 180),
    (110, 170, 230),
    (25, 35, 80),
    (235, 235, 235),
    (25, 25, 25),
    (240, 210, 40),
    (240, 120, 30),
    (30, 130, 60),
    (100, 50, 140),
    (140, 140, 145),
    (230, 120, 170),
    (20, 130, 140),
)
KEEPER_COLOURS: tuple[RGB, ...] = (
    (120, 230, 60),
    (220, 240, 50),
    (250, 140, 20),
    (240, 80, 170),
    (40, 200, 220),
    (130, 60, 200),
    (30, 30, 30),
    (110, 110, 115),
)
REFEREE_COLOURS: tuple[RGB, ...] = ((20, 20, 20), (230, 220, 40), (210, 40, 40), (50, 80, 200), (60, 180, 80))
SKIN_TONES: tuple[RGB, ...] = (
    (255, 224, 196),
    (241, 194, 160),
    (224, 172, 130),
    (198, 140, 100),
    (160, 105, 70),
    (120, 80, 55),
    (90, 60, 40),
    (62, 44, 32),
)
HAIR_COLOURS: tuple[RGB, ...] = (
    (20, 18, 18),
    (55, 38, 26),
    (100, 70, 45),
    (200, 165, 100),
    (150, 70, 35),
    (150, 150, 150),
    (225, 215, 180),
)
HAIR_STYLES = ("short", "short", "buzz", "long", "bald", "afro", "bun")
BOOT_COLOURS: tuple[RGB, ...] = (
    (15, 15, 15),
    (240, 240, 240),
    (220, 250, 40),
    (250, 110, 20),
    (220, 30, 40),
    (40, 90, 230),
    (240, 90, 180),
    (180, 185, 190),
    (210, 170, 60),
    (40, 220, 230),
)
PATTERNS = ("plain", "plain", "stripes", "hoops", "halves", "sash", "sleeves")
TEAM_NAMES = (
    "Northbridge",
    "Redhill United",
    "Castleford City",
    "Port Ashby",
    "Kingsmere",
    "Westvale Rovers",
    "Oakham Athletic",
    "Harrowgate",
    "Lowmoor Town",
    "Saint Brandon",
    "Eastwick Albion",
    "Fernley",
    "Granton Wanderers",
    "Millbrook",
    "Queensbay",
    "Thornfield",
    "Upton Park Rangers",
    "Valemont",
    "Whitcliffe",
    "Yarmouth Forest",
)


@dataclass(frozen=True)
class Kit:
    """A kit: shirt colours and pattern, shorts, socks and the number's colour."""

    shirt: RGB
    second: RGB
    pattern: str
    shorts: RGB
    socks: RGB
    number: RGB


@dataclass(frozen=True)
class Look:
    """What stays the same for a real person across frames, actions and games.

    ``height`` and ``width`` scale the body (about 0.9-1.1); ``tape`` and ``headband`` are
    colours or None; ``gloves`` is a goalkeeper's glove colour or None.
    """

    skin: RGB
    hair: RGB
    hair_style: str
    beard: bool
    height: float
    width: float
    boots: RGB
    long_sleeves: bool
    socks_down: bool
    tape: RGB | None
    headband: RGB | None
    gloves: RGB | None


@dataclass(frozen=True)
class RealPerson:
    """A real player, goalkeeper, referee or staff member; ``number`` is 0 when none."""

    name: str
    look: Look
    number: int


@dataclass(frozen=True)
class Team:
    """A club: name, home and away kits, goalkeeper kits and its squad."""

    name: str
    home: Kit
    away: Kit
    keeper_kits: tuple[Kit, ...]
    players: tuple[RealPerson, ...]
    keepers: tuple[RealPerson, ...]
    staff: tuple[RealPerson, ...]


@dataclass(frozen=True)
class World:
    """Every team and referee of the synthetic league."""

    teams: tuple[Team, ...]
    referees: tuple[RealPerson, ...]


def make_world(rng: np.random.Generator, teams: int, squad: int) -> World:
    """Draw a league of ``teams`` clubs with ``squad`` (<= 39) outfield players and two keepers each.

    Examples::

        make_world(np.random.default_rng(0), teams=4, squad=12).teams[1].keepers[0].number  # 1
    """
    clubs = tuple(make_team(rng, _team_name(i), squad) for i in range(teams))
    referees = tuple(RealPerson(f"referee {i}", make_look(rng, keeper=False), 0) for i in range(max(6, teams)))
    return World(clubs, referees)


def _team_name(i: int) -> str:
    base = TEAM_NAMES[i % len(TEAM_NAMES)]
    return base if i < len(TEAM_NAMES) else f"{base} {i // len(TEAM_NAMES) + 1}"


def make_team(rng: np.random.Generator, name: str, squad: int) -> Team:
    """One club: two outfield kits, two keeper kits, numbered squad, keepers and staff.

    Examples::

        make_team(np.random.default_rng(1), "Fernley", 18).players[0].number
    """
    home = make_kit(rng, KIT_COLOURS)
    away = make_kit(rng, KIT_COLOURS, avoid=(home.shirt,))
    keeper_kits = (make_kit(rng, KEEPER_COLOURS), make_kit(rng, KEEPER_COLOURS))
    numbers = rng.choice(np.arange(2, 41), size=squad, replace=False)
    players = tuple(RealPerson(f"{name} #{n}", make_look(rng, keeper=False), int(n)) for n in numbers)
    spare = [n for n in (12, 13, 16, 23, 25, 30, 31, 33, 99) if n not in set(numbers.tolist())]
    keeper_numbers = (1, int(rng.choice(spare)))
    keepers = tuple(RealPerson(f"{name} GK #{n}", make_look(rng, keeper=True), n) for n in keeper_numbers)
    staff = tuple(RealPerson(f"{name} staff {i}", make_look(rng, keeper=False), 0) for i in range(2))
    return Team(name, home, away, keeper_kits, players, keepers, staff)


def make_kit(rng: np.random.Generator, palette: tuple[RGB, ...], avoid: tuple[RGB, ...] = ()) -> Kit:
    """A kit whose shirt colour (jittered) is far from every colour in ``avoid``.

    Examples::

        make_kit(np.random.default_rng(0), KIT_COLOURS).pattern      # 'plain', 'stripes', ...
    """
    shirt = pick_far(rng, palette, avoid)
    second = pick_far(rng, KIT_COLOURS, (shirt,))
    shorts = shirt if rng.random() < 0.4 else second
    socks = shirt if rng.random() < 0.5 else shorts
    number = (20, 20, 20) if sum(shirt) > 450 else (240, 240, 240)
    return Kit(
        _jitter(rng, shirt, 12),
        _jitter(rng, second, 12),
        str(rng.choice(PATTERNS)),
        _jitter(rng, shorts, 12),
        _jitter(rng, socks, 12),
        number,
    )


def pick_far(
    rng: np.random.Generator, palette: tuple[RGB, ...], avoid: tuple[RGB, ...], distance: float = 140.0
) -> RGB:
    """A random palette colour at least ``distance`` (RGB Euclidean) from all of ``avoid``.

    Falls back to the farthest colour when none is far enough.

    Examples::

        pick_far(np.random.default_rng(0), KIT_COLOURS, avoid=((235, 235, 235),))
    """
    colours = np.asarray(palette, dtype=float)
    if avoid:
        gaps = np.linalg.norm(colours[:, None, :] - np.asarray(avoid, float)[None], axis=2).min(axis=1)
    else:
        gaps = np.full(len(colours), np.inf)
    far = np.flatnonzero(gaps >= distance)
    index = int(rng.choice(far)) if len(far) else int(np.argmax(gaps))
    return palette[index]


def make_look(rng: np.random.Generator, keeper: bool) -> Look:
    """A person's persistent appearance.

    Examples::

        make_look(np.random.default_rng(0), keeper=True).gloves       # a glove colour
    """
    style = str(rng.choice(HAIR_STYLES))
    return Look(
        skin=_jitter(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 8),
        hair=_jitter(rng, HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], 10),
        hair_style=style,
        beard=bool(rng.random() < 0.3),
        height=float(rng.uniform(0.9, 1.08) + 0.04 * keeper),
        width=float(rng.uniform(0.85, 1.2)),
        boots=BOOT_COLOURS[rng.integers(len(BOOT_COLOURS))],
        long_sleeves=bool(rng.random() < (0.6 if keeper else 0.2)),
        socks_down=bool(rng.random() < 0.2),
        tape=_jitter(rng, (235, 235, 235), 10) if rng.random() < 0.3 else None,
        headband=KIT_COLOURS[rng.integers(len(KIT_COLOURS))] if rng.random() < 0.08 else None,
        gloves=KEEPER_COLOURS[rng.integers(len(KEEPER_COLOURS))] if keeper else None,
    )


def _jitter(rng: np.random.Generator, colour: RGB, amount: int) -> RGB:
    shifted = np.clip(np.asarray(colour) + rng.integers(-amount, amount + 1, size=3), 0, 255)
    return tuple(int(c) for c in shifted)
