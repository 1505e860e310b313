"""Plain data describing what to draw: people, frames (cameras), poses and shots.

Examples::

    shot = Shot(bbox_idx=7, person=person, camera=camera, pose=Pose("back", 0.5, 0.8),
                height=96, occluder=None, seed=123)
"""

from __future__ import annotations

from dataclasses import dataclass

from soccerreid.data.synthetic.world import RGB, Kit, Look

VIEWS = ("front", "back", "left", "right")


@dataclass(frozen=True)
class Person:
    """One person of one action: identity labels plus what they look like and wear."""

    person_uid: int
    clazz: str
    look: Look
    kit: Kit
    number: int
    trousers: bool = False


@dataclass(frozen=True)
class Camera:
    """One frame (the action frame or a replay): its ids and how it degrades crops.

    ``gain`` is a per-channel multiplier, ``blur`` a Gaussian sigma and ``motion`` a
    horizontal motion-blur radius in output pixels, ``noise`` a Gaussian sigma in grey
    levels, ``jpeg`` a JPEG quality (0: lossless PNG only).
    """

    frame_idx: int
    uai: str
    grass: RGB
    stripe_angle: float
    gain: tuple[float, float, float]
    blur: float
    motion: int
    noise: float
    jpeg: int
    light: float


@dataclass(frozen=True)
class Pose:
    """Viewpoint (front, back, left, right), gait phase (radians) and stride (0 stands, 1 sprints)."""

    view: str
    phase: float
    stride: float


@dataclass(frozen=True)
class Shot:
    """One crop to render: who, in which frame, from which view, how tall, and who occludes."""

    bbox_idx: int
    person: Person
    camera: Camera
    pose: Pose
    height: int
    occluder: Person | None
    seed: int
