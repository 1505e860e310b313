"""Draw a person (kit, skin, hair, boots, number) as PIL shapes on a transparent layer.

Geometry is in units of the figure height ``u``: head top at 0, shoulders at 0.19u, hips at
0.53u, soles at 1.0u. The viewpoint decides what is visible: the back shows the big number
and the back of the head, the front shows the face, sponsor and a small chest number, the
side shows one arm and the legs' stride.

Examples::

    layer = draw_person(person, Pose("back", 0.3, 0.8), cx=104, top=24, size=192)
    layer.shape, layer.dtype        # (272, 208, 4) uint8
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from soccerreid.data.synthetic.scene import Person, Pose
from soccerreid.data.synthetic.world import RGB, Kit

CANVAS = (272, 208)  # (H, W) of the canonical canvas every figure is drawn on
Point = tuple[float, float]


def draw_person(person: Person, pose: Pose, cx: float, top: float, size: float) -> np.ndarray:
    """Draw ``person`` in ``pose``, centred at ``cx`` with head top at ``top``, ``size`` px tall.

    Returns the RGBA layer (CANVAS[0], CANVAS[1], 4) uint8; alpha is 255 on the body.

    Examples::

        draw_person(person, Pose("front", 0.0, 0.0), 104, 24, 192)[..., 3].max()   # 255
    """
    layer = Image.new("RGBA", (CANVAS[1], CANVAS[0]), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    u = size * person.look.height
    joints = skeleton(pose, person.look.width, cx, top + size - u, u)
    limbs = (0, 1)
    if pose.view in ("left", "right"):  # the far leg and arm are behind the body, in shade
        _draw_leg(draw, person, joints, 0, u, dim=0.75)
        _draw_arm(draw, person, joints, 0, u, dim=0.75)
        limbs = (1,)
    if person.look.hair_style == "long" and pose.view == "front":
        _draw_long_hair(draw, person, joints, u)
    for leg in limbs:
        _draw_leg(draw, person, joints, leg, u)
    _draw_torso(layer, draw, person, joints, pose, u)
    for arm in limbs:
        _draw_arm(draw, person, joints, arm, u)
    _draw_head(draw, person, joints, pose, u)
    _draw_marks(draw, person, joints, pose, u)
    return np.asarray(layer)


def skeleton(pose: Pose, build: float, cx: float, top: float, u: float) -> dict[str, Point | list]:
    """2-D joint positions (px) for a pose: head, neck, shoulders, hips, knees, ankles, hands.

    Examples::

        skeleton(Pose("left", 0.0, 1.0), 1.0, 104, 24, 192)["knees"][0]
    """
    side = pose.view in ("left", "right")
    facing = 1 if pose.view == "right" else -1
    shoulder_y, hip_y = top + 0.19 * u, top + 0.53 * u
    sw = (0.06 if side else 0.125) * u * build
    hw = (0.065 if side else 0.085) * u * build
    joints: dict = {"head": (cx, top + 0.068 * u), "sw": sw, "hw": hw, "shoulder_y": shoulder_y, "hip_y": hip_y}
    joints["hips"], joints["knees"], joints["ankles"] = [], [], []
    joints["shoulders"], joints["elbows"], joints["hands"] = [], [], []
    for k in (0, 1):
        phase = pose.phase + k * math.pi
        lateral = 0.0 if side else (k * 2 - 1)
        hip = (cx + lateral * 0.045 * u * build, hip_y)
        swing = 0.55 * pose.stride * math.sin(phase)
        bend = pose.stride * (0.15 + 0.7 * max(0.0, math.cos(phase)))
        knee = _limb(hip, swing, 0.22 * u, side, facing, lateral * 0.05)
        ankle = _limb(knee, swing - bend, 0.23 * u, side, facing, lateral * 0.03)
        shoulder = (cx + lateral * sw * 0.92, shoulder_y + 0.01 * u)
        arm_swing = -0.6 * pose.stride * math.sin(phase)
        elbow = _limb(shoulder, arm_swing, 0.16 * u, side, facing, lateral * 0.15)
        hand = _limb(elbow, arm_swing + 0.2 + 1.0 * pose.stride, 0.15 * u, side, facing, lateral * 0.1)
        for name, point in (("hips", hip), ("knees", knee), ("ankles", ankle)):
            joints[name].append(point)
        for name, point in (("shoulders", shoulder), ("elbows", elbow), ("hands", hand)):
            joints[name].append(point)
    joints["facing"], joints["side"] = facing, side
    return joints


def _limb(start: Point, angle: float, length: float, side: bool, facing: int, splay: float) -> Point:
    """The end of a limb swung ``angle`` rad forward; seen from the front it only foreshortens."""
    if side:
        return start[0] + facing * length * math.sin(angle), start[1] + length * math.cos(angle)
    return start[0] + length * math.sin(splay), start[1] + length * abs(math.cos(angle)) * math.cos(splay)


def _segment(draw: ImageDraw.ImageDraw, a: Point, b: Point, colour: RGB, width: float) -> None:
    radius = width / 2
    draw.line([a, b], fill=colour, width=max(1, round(width)))
    for x, y in (a, b):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)


def _dim(colour: RGB, factor: float) -> RGB:
    return tuple(int(c * factor) for c in colour)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(x * (1 - t) + y * t) for x, y in zip(a, b))


def _draw_leg(draw: ImageDraw.ImageDraw, person: Person, joints: dict, k: int, u: float, dim: float = 1.0) -> None:
    look, kit = person.look, person.kit
    hip, knee, ankle = joints["hips"][k], joints["knees"][k], joints["ankles"][k]
    thigh_w, shin_w = 0.09 * u * look.width, 0.066 * u * look.width
    shin_top = _lerp(knee, ankle, 0.05 if not look.socks_down else 0.45)
    skin, socks = _dim(look.skin, dim), _dim(kit.socks, dim)
    _segment(draw, hip, knee, _dim(kit.shorts, dim) if person.trousers else skin, thigh_w)
    _segment(draw, knee, ankle, _dim(kit.shorts, dim) if person.trousers else skin, shin_w)
    if not person.trousers:
        _segment(draw, shin_top, ankle, socks, shin_w * 1.05)
        if look.tape is not None:
            _segment(draw, shin_top, _lerp(shin_top, ankle, 0.15), _dim(look.tape, dim), shin_w * 1.08)
    _segment(draw, hip, _lerp(hip, knee, 0.45), _dim(kit.shorts, dim), thigh_w * 1.3)
    toe = (ankle[0] + joints["facing"] * 0.05 * u * joints["side"], ankle[1] + 0.025 * u)
    _segment(draw, ankle, toe, _dim(look.boots, dim), shin_w * 0.95)


def _lerp(a: Point, b: Point, t: float) -> Point:
    return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t


def _draw_arm(draw: ImageDraw.ImageDraw, person: Person, joints: dict, k: int, u: float, dim: float = 1.0) -> None:
    look, kit = person.look, person.kit
    shoulder, elbow, hand = joints["shoulders"][k], joints["elbows"][k], joints["hands"][k]
    width = 0.055 * u * look.width
    sleeve = _dim(kit.second if kit.pattern == "sleeves" else kit.shirt, dim)
    skin = _dim(look.skin, dim)
    _segment(draw, shoulder, elbow, skin, width)
    _segment(draw, elbow, hand, sleeve if look.long_sleeves else skin, width * 0.85)
    _segment(draw, shoulder, elbow if look.long_sleeves else _lerp(shoulder, elbow, 0.5), sleeve, width * 1.2)
    palm = _dim(look.gloves, dim) if look.gloves is not None else skin
    radius = width * (0.9 if look.gloves is not None else 0.55)
    draw.ellipse((hand[0] - radius, hand[1] - radius, hand[0] + radius, hand[1] + radius), fill=palm)


def _draw_torso(
    layer: Image.Image, draw: ImageDraw.ImageDraw, person: Person, joints: dict, pose: Pose, u: float
) -> None:
    cx = joints["head"][0]
    sw, hw, sy, hy = joints["sw"], joints["hw"], joints["shoulder_y"], joints["hip_y"]
    neck = (cx, sy - 0.02 * u)
    _segment(draw, (cx, joints["head"][1] + 0.05 * u), neck, person.look.skin, 0.05 * u)
    outline = [(cx - sw, sy), (cx + sw, sy), (cx + hw * 1.1, hy), (cx - hw * 1.1, hy)]
    box = (
        max(0, int(cx - sw) - 1),
        max(0, int(sy) - 1),
        min(layer.size[0], int(cx + sw) + 2),
        min(layer.size[1], int(hy) + 2),
    )
    mask = Image.new("L", (box[2] - box[0], box[3] - box[1]))
    ImageDraw.Draw(mask).polygon([(x - box[0], y - box[1]) for x, y in outline], fill=255)
    layer.paste(_kit_pattern(person.kit, pose, cx, sy, u, box), box[:2], mask)
    shorts = [
        (cx - hw * 1.1, hy - 0.01 * u),
        (cx + hw * 1.1, hy - 0.01 * u),
        (cx + hw * 1.2, hy + 0.07 * u),
        (cx - hw * 1.2, hy + 0.07 * u),
    ]
    draw.polygon(shorts, fill=person.kit.shorts)


def _kit_pattern(kit: Kit, pose: Pose, cx: float, sy: float, u: float, box: tuple[int, int, int, int]) -> Image.Image:
    """The shirt's pattern over ``box`` (x0, y0, x1, y1) of the layer; the torso mask cuts it out."""
    x0, y0, x1, y1 = box
    y, x = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    band = 0.045 * u
    back = pose.view == "back"
    side = pose.view in ("left", "right")
    if kit.pattern == "stripes":
        second = np.floor((x - cx) / band) % 2 == 1
    elif kit.pattern == "hoops":
        second = np.floor((y - sy) / band) % 2 == 1
    elif kit.pattern == "halves" and not side:
        second = (x >= cx) if back else (x < cx)
    elif kit.pattern == "sash" and not side:
        second = np.abs((x - cx) + (y - sy - 0.17 * u) * (-1 if back else 1)) < band
    else:
        second = np.zeros(x.shape, dtype=bool)
    pattern = np.where(second[:, :, None], np.asarray(kit.second, np.uint8), np.asarray(kit.shirt, np.uint8))
    return Image.fromarray(pattern.astype(np.uint8), mode="RGB")


def _draw_long_hair(draw: ImageDraw.ImageDraw, person: Person, joints: dict, u: float) -> None:
    hx, hy = joints["head"]
    draw.rectangle((hx - 0.05 * u, hy, hx + 0.05 * u, hy + 0.14 * u), fill=person.look.hair)


def _draw_head(draw: ImageDraw.ImageDraw, person: Person, joints: dict, pose: Pose, u: float) -> None:
    look = person.look
    hx, hy = joints["head"]
    rx, ry = (0.058 if pose.view in ("left", "right") else 0.052) * u, 0.068 * u
    face = (hx - rx, hy - ry, hx + rx, hy + ry)
    hair = look.hair if look.hair_style != "buzz" else _mix(look.hair, look.skin, 0.45)
    bald = look.hair_style == "bald"
    grow = 1.3 if look.hair_style == "afro" else 1.06
    if pose.view == "front":
        if not bald:
            draw.ellipse((hx - rx * grow, hy - ry * grow, hx + rx * grow, hy + ry * 0.3), fill=hair)
        draw.ellipse((hx - rx * 0.95, hy - ry * 0.5, hx + rx * 0.95, hy + ry), fill=look.skin)
        if look.beard:
            draw.ellipse((hx - rx * 0.8, hy + ry * 0.25, hx + rx * 0.8, hy + ry), fill=_mix(look.hair, look.skin, 0.3))
        eye = max(1.0, 0.008 * u)
        for ex in (hx - rx * 0.4, hx + rx * 0.4):
            draw.ellipse((ex - eye, hy - ry * 0.1 - eye, ex + eye, hy - ry * 0.1 + eye), fill=(30, 25, 25))
    elif pose.view == "back":
        draw.ellipse(face, fill=look.skin)
        if not bald:
            draw.ellipse((hx - rx * grow, hy - ry * grow, hx + rx * grow, hy + ry * 0.75), fill=hair)
        if look.hair_style == "long":
            _draw_long_hair(draw, person, joints, u)
    else:
        back = -joints["facing"] * rx * 0.35
        draw.ellipse(face, fill=look.skin)
        if not bald:
            draw.ellipse((hx + back - rx * grow, hy - ry * grow, hx + back + rx * grow * 0.9, hy + ry * 0.4), fill=hair)
    _draw_head_extras(draw, person, joints, pose, (hx, hy, rx, ry))


def _draw_head_extras(draw: ImageDraw.ImageDraw, person: Person, joints: dict, pose: Pose, head: tuple) -> None:
    hx, hy, rx, ry = head
    look = person.look
    if look.hair_style == "bun" and pose.view != "front":
        bun = (hx - joints["facing"] * rx * 0.8 * (pose.view != "back"), hy - ry * 0.9)
        draw.ellipse((bun[0] - rx * 0.4, bun[1] - rx * 0.4, bun[0] + rx * 0.4, bun[1] + rx * 0.4), fill=look.hair)
    if look.headband is not None:
        draw.rectangle((hx - rx, hy - ry * 0.5, hx + rx, hy - ry * 0.3), fill=look.headband)


def _draw_marks(draw: ImageDraw.ImageDraw, person: Person, joints: dict, pose: Pose, u: float) -> None:
    """Number on the back (big) or chest (small), sponsor band on the front."""
    cx, sy, sw = joints["head"][0], joints["shoulder_y"], joints["sw"]
    kit = person.kit
    if pose.view == "back" and person.number:
        draw.text((cx, sy + 0.13 * u), str(person.number), fill=kit.number, font=_font(round(0.16 * u)), anchor="mm")
    if pose.view == "front" and not person.trousers:
        draw.rectangle((cx - sw * 0.6, sy + 0.1 * u, cx + sw * 0.6, sy + 0.14 * u), fill=kit.number)
        if person.number:
            draw.text(
                (cx + sw * 0.45, sy + 0.05 * u),
                str(person.number),
                fill=kit.number,
                font=_font(round(0.05 * u)),
                anchor="mm",
            )


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(4, size))
