"""Plan the synthetic dataset: games, actions, who is in each frame, and every crop's labels.

Planning is cheap and sequential (it hands out the id counters); rendering the planned shots is
the expensive, parallel part. Ids follow SoccerNet's numbering (sn-reid README, "Filename
convention"): ``person_uid`` is unique over all splits, ``action_idx`` and ``frame_idx`` count
within each split, and ``bbox_idx`` is the position within its own list (train, query or
gallery), so in valid, test and challenge the query and gallery indices overlap.

An action has 15-25 people (two teams in shared kits, goalkeepers, referees, rarely staff)
seen in an action frame plus replays. The action frame is a wide shot (small crops); replays
are closer (bigger crops). Each person of each frame gets a viewpoint, gait, scale and maybe
an occluding neighbour. In valid/test/challenge every identity seen at least twice gives one
query; all other crops go to the gallery, so every query has a gallery positive.

Examples::

    world = make_world(np.random.default_rng(0), teams=10, squad=18)
    actions = plan_split(config, world, "valid", Counters())
    actions[0].shots[0].person.clazz          # 'Player_team_left', ...
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field, replace

import numpy as np

from soccerreid.config.data import SyntheticConfig
from soccerreid.data.synthetic.scene import VIEWS, Camera, Person, Pose, Shot
from soccerreid.data.synthetic.world import (
    KEEPER_COLOURS,
    REFEREE_COLOURS,
    Kit,
    RealPerson,
    Team,
    World,
    make_kit,
    pick_far,
)

SPLIT_CODES = {"train": 0, "valid": 1, "test": 2, "challenge": 3}
MAX_OUTFIELD = 10  # outfield players per team on the pitch
CHAMPIONSHIP = "synthetic_league"
UNNUMBERED = -1  # a planned shot's bbox_idx until number_boxes sets it


@dataclass
class Counters:
    """Id counters: ``person_uid`` is shared by every split; the others restart per split
    (:meth:`next_split`)."""

    action_idx: int = 0
    person_uid: int = 0
    frame_idx: int = 0

    def take(self, name: str) -> int:
        """Return the next value of counter ``name``."""
        value = getattr(self, name)
        setattr(self, name, value + 1)
        return value

    def next_split(self) -> None:
        """Restart the per-split counters (action_idx, frame_idx), as SoccerNet does for each set."""
        self.action_idx = self.frame_idx = 0


@dataclass(frozen=True)
class Game:
    """One game: its folder, its teams' kits for the day and the people on the pitch."""

    folder: str
    code: int
    grass: tuple[int, int, int]
    lineups: dict[str, tuple[RealPerson, ...]]
    kits: dict[str, Kit]


@dataclass(frozen=True)
class ActionPlan:
    """One action: where its crops go and every crop (shot) with its role and jersey id."""

    split: str
    action_idx: int
    folder: str
    shots: tuple[Shot, ...]
    roles: tuple[str, ...]
    jerseys: dict[int, str] = field(default_factory=dict)


def plan_split(config: SyntheticConfig, world: World, split: str, counters: Counters) -> list[ActionPlan]:
    """Plan every action of ``split`` (``config.actions.<split>`` of them over ``config.games`` games).

    Examples::

        plan_split(SyntheticConfig(), world, "train", Counters())[0].roles[0]   # 'train'
    """
    code = SPLIT_CODES[split]
    rng = np.random.default_rng([config.seed, 1, code])
    games = [plan_game(rng, world, split, g) for g in range(config.games)]
    count = getattr(config.actions, split)
    actions = []
    for a in range(count):
        action_rng = np.random.default_rng([config.seed, 2, code, a])
        actions.append(plan_action(action_rng, config, games[a * len(games) // count], split, counters))
    return number_boxes(actions)


def number_boxes(actions: list[ActionPlan]) -> list[ActionPlan]:
    """Give every shot its ``bbox_idx``: its position in its role's list (train, query or gallery)
    over the split, in action order, so each list counts from 0.

    Examples::

        [s.bbox_idx for s in number_boxes(actions)[0].shots]   # e.g. [0, 0, 1, 2, 1, ...] (query, gallery)
    """
    position: dict[str, int] = {}
    numbered = []
    for action in actions:
        shots = []
        for shot, role in zip(action.shots, action.roles):
            shots.append(replace(shot, bbox_idx=position.setdefault(role, 0)))
            position[role] += 1
        numbered.append(replace(action, shots=tuple(shots)))
    return numbered


def plan_game(rng: np.random.Generator, world: World, split: str, number: int) -> Game:
    """Pick two teams, their kits for the day, lineups, keepers, a referee crew and the pitch.

    Examples::

        plan_game(np.random.default_rng(0), world, "valid", 0).folder
    """
    home, away = (world.teams[i] for i in rng.choice(len(world.teams), size=2, replace=False))
    away_kit = away.away if _clashes(home.home.shirt, (away.home.shirt,)) else away.home
    sides = {"left": (home, home.home), "right": (away, away_kit)}
    if rng.random() < 0.5:
        sides = {"left": sides["right"], "right": sides["left"]}
    kits = {side: kit for side, (_, kit) in sides.items()}
    outfield = (kits["left"].shirt, kits["right"].shirt)
    for side, (team, _) in sides.items():
        kits[f"keeper_{side}"] = _keeper_kit(rng, team, outfield)
    referee = pick_far(rng, REFEREE_COLOURS, outfield + (kits["keeper_left"].shirt, kits["keeper_right"].shirt))
    kits["referee"] = Kit(
        referee, referee, "plain", (20, 20, 20) if sum(referee) > 200 else referee, (20, 20, 20), (240, 240, 240)
    )
    lineups = {}
    for side, (team, kit) in sides.items():
        lineups[side] = tuple(team.players[i] for i in rng.choice(len(team.players), MAX_OUTFIELD, replace=False))
        lineups[f"keeper_{side}"] = (team.keepers[int(rng.random() < 0.2)],)
        lineups[f"staff_{side}"] = team.staff
        kits[f"staff_{side}"] = Kit(kit.second, kit.second, "plain", kit.second, kit.second, kit.shirt)
    lineups["referees"] = tuple(world.referees[i] for i in rng.choice(len(world.referees), 3, replace=False))
    season = f"{2014 + SPLIT_CODES[split]}-{2015 + SPLIT_CODES[split]}"
    day = f"{season[:4]}-{9 + number % 4:02d}-{1 + (7 * number) % 28:02d}"
    folder = (
        f"{CHAMPIONSHIP}/{season}/{day} - {15 + number % 6}-00 "
        f"{home.name} {rng.integers(4)} - {rng.integers(4)} {away.name}"
    )
    grass = tuple(int(c) for c in np.asarray((62, 128, 58)) * rng.uniform(0.8, 1.15) + rng.integers(-8, 9, 3))
    return Game(folder, 100 * SPLIT_CODES[split] + number, grass, lineups, kits)


def _clashes(colour: tuple, others: tuple) -> bool:
    return any(float(np.linalg.norm(np.subtract(colour, other))) < 140.0 for other in others)


def _keeper_kit(rng: np.random.Generator, team: Team, outfield: tuple) -> Kit:
    for kit in team.keeper_kits:
        if not _clashes(kit.shirt, outfield):
            return kit
    return make_kit(rng, KEEPER_COLOURS, avoid=outfield)


def plan_action(
    rng: np.random.Generator, config: SyntheticConfig, game: Game, split: str, counters: Counters
) -> ActionPlan:
    """Plan one action: people, frames, who is seen where, roles and jersey ids.

    Examples::

        plan_action(np.random.default_rng(0), SyntheticConfig(), game, "test", Counters()).shots
    """
    action_idx = counters.take("action_idx")
    people = cast_people(
        rng, game, int(rng.integers(config.people_per_action[0], config.people_per_action[1] + 1)), counters
    )
    n_frames = int(rng.integers(config.frames_per_action[0], config.frames_per_action[1] + 1))
    cameras = [plan_camera(rng, game, k, counters) for k in range(n_frames)]
    sightings = plan_sightings(rng, len(people), n_frames)
    shots, owners = [], []
    for k, camera in enumerate(cameras):
        median = _frame_scale(rng, config.crop_height, first=k == 0)
        seen = np.flatnonzero(sightings[:, k])
        for p in seen:
            shots.append(_plan_shot(rng, config, people, int(p), seen, camera, median, counters))
            owners.append(int(p))
    roles = assign_roles(rng, owners, split)
    folder = "" if split == "challenge" else f"{game.folder}/{action_idx}"
    return ActionPlan(split, action_idx, folder, tuple(shots), tuple(roles), jersey_ids(people, shots, owners))


def cast_people(rng: np.random.Generator, game: Game, count: int, counters: Counters) -> list[Person]:
    """Who is in the action: referees, keepers, rarely staff, and outfield players of both teams.

    Examples::

        len(cast_people(np.random.default_rng(0), game, 20, Counters()))   # 20 (3 <= count <= 26)
    """
    referees = game.lineups["referees"]
    officials = [
        ("Main_referee", referees[0], "referee", 0.85),
        ("Side_referee", referees[1], "referee", 0.3),
        ("Side_referee", referees[2], "referee", 0.3),
        ("Goalkeeper_team_left", game.lineups["keeper_left"][0], "keeper_left", 0.5),
        ("Goalkeeper_team_right", game.lineups["keeper_right"][0], "keeper_right", 0.5),
        ("Staff_members", game.lineups["staff_left"][0], "staff_left", 0.04),
        ("Staff_members", game.lineups["staff_right"][0], "staff_right", 0.04),
    ]
    chances = np.array([o[3] for o in officials])
    draws = rng.random(len(officials)) / chances  # < 1: drawn in; sorting keeps the likeliest first
    wanted = int(np.clip((draws < 1).sum(), count - 2 * MAX_OUTFIELD, count - 2))
    cast = [officials[i][:3] for i in sorted(np.argsort(draws)[:wanted])]
    outfield = count - len(cast)
    left = int(np.clip(rng.binomial(outfield, 0.5), outfield - MAX_OUTFIELD, MAX_OUTFIELD))
    for side, n in (("left", left), ("right", outfield - left)):
        chosen = rng.choice(MAX_OUTFIELD, size=n, replace=False)
        cast += [(f"Player_team_{side}", game.lineups[side][i], side) for i in sorted(chosen)]
    return [_make_person(counters, clazz, real, game.kits[kit]) for clazz, real, kit in cast]


def _make_person(counters: Counters, clazz: str, real: RealPerson, kit: Kit) -> Person:
    return Person(counters.take("person_uid"), clazz, real.look, kit, real.number, trousers=clazz == "Staff_members")


def plan_camera(rng: np.random.Generator, game: Game, k: int, counters: Counters) -> Camera:
    """Frame ``k`` of an action (0 is the live action frame, then replays): ids and degradations.

    Examples::

        plan_camera(np.random.default_rng(0), game, 1, Counters()).uai     # '001r001_5f3a...'
    """
    uai = f"{game.code % 1000:03d}{'a' if k == 0 else 'r'}{k:03d}_{int(rng.integers(16**12)):012x}"
    brightness = rng.uniform(0.8, 1.2)
    return Camera(
        frame_idx=counters.take("frame_idx"),
        uai=uai,
        grass=tuple(int(c) for c in np.clip(np.asarray(game.grass) + rng.integers(-6, 7, 3), 0, 255)),
        stripe_angle=float(rng.uniform(0, math.pi)),
        gain=tuple(float(brightness * g) for g in rng.normal(1.0, 0.04, 3)),
        blur=float(rng.uniform(0.0, 1.0)),
        motion=int(rng.integers(1, 3)) if rng.random() < 0.15 else 0,
        noise=float(rng.uniform(1.0, 5.0)),
        jpeg=int(rng.integers(35, 91)) if rng.random() < 0.7 else 0,
        light=float(rng.uniform(-1, 1)),
    )


def plan_sightings(rng: np.random.Generator, people: int, frames: int) -> np.ndarray:
    """Who is seen in which frame: (people, frames) bool; everyone at least once.

    The wide action frame shows most people; the closer replays show fewer.

    Examples::

        plan_sightings(np.random.default_rng(0), 20, 3).any(axis=1).all()     # True
    """
    chance = np.where(np.arange(frames) == 0, 0.75, 0.4)
    seen = rng.random((people, frames)) < chance[None, :]
    unseen = np.flatnonzero(~seen.any(axis=1))
    seen[unseen, rng.integers(frames, size=len(unseen))] = True
    return seen


def _frame_scale(rng: np.random.Generator, crop_height: tuple[int, int], first: bool) -> float:
    low, high = math.log(crop_height[0]), math.log(crop_height[1])
    mid = (low + high) / 2
    return math.exp(rng.uniform(low, mid) if first else rng.uniform(mid - 0.3 * (mid - low), high))


def _plan_shot(
    rng: np.random.Generator,
    config: SyntheticConfig,
    people: list[Person],
    p: int,
    seen: np.ndarray,
    camera: Camera,
    median: float,
    counters: Counters,
) -> Shot:
    """Person ``p`` seen by ``camera``: view, gait, height around ``median`` px, maybe an occluder."""
    person = people[p]
    height = median * person.look.height * math.exp(rng.normal(0.0, 0.2))
    height = int(np.clip(round(height), config.crop_height[0], config.crop_height[1]))
    pose = Pose(str(rng.choice(VIEWS)), float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, 1)))
    others = seen[seen != p]
    occluder = people[int(rng.choice(others))] if len(others) and rng.random() < config.occlusion else None
    return Shot(UNNUMBERED, person, camera, pose, height, occluder, int(rng.integers(2**63)))


def assign_roles(rng: np.random.Generator, owners: list[int], split: str) -> list[str]:
    """Train crops are ``train``; elsewhere one crop of each identity seen twice or more is the query.

    Examples::

        assign_roles(np.random.default_rng(0), [0, 0, 1], "valid")   # e.g. ['query', 'gallery', 'gallery']
    """
    if split == "train":
        return ["train"] * len(owners)
    roles = ["gallery"] * len(owners)
    owners_arr = np.asarray(owners)
    for person in np.unique(owners_arr):
        crops = np.flatnonzero(owners_arr == person)
        if len(crops) >= 2:
            roles[int(rng.choice(crops))] = "query"
    return roles


def jersey_ids(people: list[Person], shots: list[Shot], owners: list[int]) -> dict[int, str]:
    """SoccerNet's ``id`` per person_uid: the number if it was readable in some crop, else a letter,
    or ``None`` when the person is seen in one frame only.

    Readable means a back view at least 60 px tall or a front view at least 160 px tall.

    Examples::

        jersey_ids(people, shots, owners)[people[0].person_uid]       # '7', 'a' or 'None'
    """
    letters = iter(string.ascii_lowercase)
    ids = {}
    for p, person in enumerate(people):
        mine = [s for s, o in zip(shots, owners) if o == p]
        readable = any(_readable(s) for s in mine) and person.number > 0
        ids[person.person_uid] = "None" if len(mine) == 1 else str(person.number) if readable else next(letters)
    return ids


def _readable(shot: Shot) -> bool:
    return (shot.pose.view == "back" and shot.height >= 60) or (shot.pose.view == "front" and shot.height >= 160)
