"""Draw one broadcast-style player crop with PIL shapes and vectorised numpy.

A figure is drawn at a canonical size (:data:`FIGURE` px tall) on a grass canvas, optionally
with a second person overlapping it, then cropped to its box (with detector-like slack),
resized to the requested crop height and degraded like broadcast video (lighting, blur,
noise, JPEG).

Examples::

    rgb = render_shot(shot)            # (shot.height, W, 3) uint8
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from soccerreid.data.synthetic.figure import CANVAS, draw_person
from soccerreid.data.synthetic.scene import VIEWS, Camera, Person, Pose, Shot

FIGURE = 192


def render_shot(shot: Shot) -> np.ndarray:
    """Render ``shot`` into an RGB crop of shape (shot.height, W, 3), dtype uint8.

    Examples::

        crop = render_shot(shot)
        crop.shape[0] == shot.height          # True
    """
    rng = np.random.default_rng(shot.seed)
    cx, top = CANVAS[1] / 2 + rng.uniform(-6, 6), 0.09 * CANVAS[0]
    main = draw_person(shot.person, shot.pose, cx, top, FIGURE)
    layers = [(main, cx)]
    if shot.occluder is not None:
        in_front = rng.random() < 0.5
        person, pose, x, y, scale = _occluder_figure(rng, shot.occluder, cx, top)
        layers.insert(1 if in_front else 0, (draw_person(person, pose, x, y, FIGURE * scale), x))
    y0, y1, x0, x1 = crop_box(rng, main[:, :, 3])
    canvas = draw_grass(rng, shot.camera, (y0, y1, x0, x1))
    for layer, x in layers:
        composite(canvas, layer[y0:y1, x0:x1], shot.camera.light, x - x0)
    return degrade(rng, canvas, shot.height, shot.camera)


def _occluder_figure(rng: np.random.Generator, person: Person, cx: float, top: float) -> tuple:
    side = 1 if rng.random() < 0.5 else -1
    dx = side * rng.uniform(0.12, 0.3) * FIGURE
    scale = rng.uniform(0.85, 1.15)
    pose = Pose(str(rng.choice(VIEWS)), rng.uniform(0, 2 * math.pi), rng.uniform(0, 1))
    return person, pose, cx + dx, top + (1.0 - scale) * FIGURE * rng.uniform(0.3, 1.0), scale


def draw_grass(rng: np.random.Generator, camera: Camera, box: tuple[int, int, int, int]) -> np.ndarray:
    """Mown grass for the canvas window ``box`` (y0, y1, x0, x1): stripes, blotches, grain, maybe
    a pitch line. Returns (y1 - y0, x1 - x0, 3) float32 in [0, 255].

    Examples::

        draw_grass(np.random.default_rng(0), camera, (0, 272, 0, 208)).shape      # (272, 208, 3)
    """
    y0, y1, x0, x1 = box
    y, x = (grid[y0:y1, x0:x1] for grid in canvas_grid())
    along = x * (math.cos(camera.stripe_angle) / 330.0) + y * (math.sin(camera.stripe_angle) / 330.0)
    stripes = np.where((along + rng.random()) % 1.0 < 0.5, np.float32(1.06), np.float32(0.94))
    coarse = Image.fromarray(rng.normal(1.0, 0.05, size=(5, 4)).astype(np.float32), mode="F")
    source = (x0 * 4 / CANVAS[1], y0 * 5 / CANVAS[0], x1 * 4 / CANVAS[1], y1 * 5 / CANVAS[0])
    blotch = np.asarray(coarse.resize((x1 - x0, y1 - y0), Image.Resampling.BICUBIC, box=source))
    grain = rng.standard_normal(x.shape, dtype=np.float32) * 4.0
    canvas = (stripes * blotch)[:, :, None] * np.asarray(camera.grass, np.float32) + grain[:, :, None]
    if rng.random() < 0.25:
        canvas = _draw_line(rng, canvas, x, y)
    return canvas


@lru_cache(maxsize=1)
def canvas_grid() -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of the canonical canvas, each (H, W) float32 (read-only)."""
    y, x = np.mgrid[0 : CANVAS[0], 0 : CANVAS[1]].astype(np.float32)
    y.flags.writeable = x.flags.writeable = False
    return y, x


def _draw_line(rng: np.random.Generator, canvas: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    angle = rng.uniform(0, math.pi)
    offset = rng.uniform(0.2, 0.8) * CANVAS[1]
    dist = np.abs((x - offset) * math.sin(angle) - (y - CANVAS[0] * 0.7) * math.cos(angle))
    weight = np.clip(rng.uniform(2.0, 4.0) - dist, 0.0, 1.0)[:, :, None] * 0.8
    return canvas * (1 - weight) + 230.0 * weight


def composite(canvas: np.ndarray, layer: np.ndarray, light: float, cx: float) -> None:
    """Alpha-blend an RGBA figure layer (H, W, 4) uint8 onto ``canvas`` (H, W, 3) float32 in place.

    The figure is shaded to look round (darker near its silhouette) and lit from one side
    (``light`` in [-1, 1], ``cx`` its centre column); a soft shadow is cast at its feet.

    Examples::

        composite(canvas, draw_person(p, pose, 104, 24, 192), light=0.5, cx=104)
    """
    rows = np.flatnonzero(layer[:, :, 3].max(axis=1))
    cols = np.flatnonzero(layer[:, :, 3].max(axis=0))
    if not len(rows):
        return
    alpha = layer[:, :, 3:4].astype(np.float32) / 255.0
    soft = np.asarray(Image.fromarray(layer[:, :, 3]).filter(ImageFilter.BoxBlur(4)), np.float32) / 255.0
    ramp = 1.0 + 0.18 * light * np.clip((np.arange(layer.shape[1], dtype=np.float32) - cx) / 40.0, -1, 1)
    shade = ((0.7 + 0.3 * soft) * ramp[None, :])[:, :, None]
    foot = (rows[-1], (cols[0] + cols[-1]) / 2 - 18 * light)
    ground = canvas * (1.0 - 0.35 * _foot_shadow(layer.shape[:2], foot))[:, :, None]
    canvas[:] = ground * (1.0 - alpha) + layer[:, :, :3] * shade * alpha


def _foot_shadow(shape: tuple[int, int], foot: tuple[float, float]) -> np.ndarray:
    """A soft ellipse (H, W) float32 in [0, 1] under the feet at (row, col) ``foot``."""
    shadow = Image.new("L", (shape[1], shape[0]))
    row, col = foot
    ImageDraw.Draw(shadow).ellipse((col - 28, row - 6, col + 28, row + 5), fill=255)
    return np.asarray(shadow.filter(ImageFilter.BoxBlur(3)), np.float32) / 255.0


def crop_box(rng: np.random.Generator, alpha: np.ndarray) -> tuple[int, int, int, int]:
    """The detector box (y0, y1, x0, x1) around a figure's alpha mask, with random slack.

    Examples::

        y0, y1, x0, x1 = crop_box(np.random.default_rng(0), layer[:, :, 3])
    """
    rows = np.flatnonzero(alpha.max(axis=1) > 127)
    cols = np.flatnonzero(alpha.max(axis=0) > 127)
    height = rows[-1] - rows[0] + 1
    top, bottom = rng.uniform(-0.02, 0.06, size=2) * height
    left, right = rng.uniform(0.03, 0.22, size=2) * height * 0.5
    y0 = int(np.clip(rows[0] - top, 0, CANVAS[0] - 2))
    y1 = int(np.clip(rows[-1] + 1 + bottom, y0 + 2, CANVAS[0]))
    x0 = int(np.clip(cols[0] - left, 0, CANVAS[1] - 2))
    x1 = int(np.clip(cols[-1] + 1 + right, x0 + 2, CANVAS[1]))
    return y0, y1, x0, x1


def degrade(rng: np.random.Generator, crop: np.ndarray, height: int, camera: Camera) -> np.ndarray:
    """Resize a canonical crop (h, w, 3) float32 to ``height`` rows and degrade it like video.

    Returns (height, W, 3) uint8 with W keeping the crop's aspect ratio (at least 8).

    Examples::

        degrade(np.random.default_rng(0), crop, 64, camera).shape[0]     # 64
    """
    width = max(8, round(height * crop.shape[1] / crop.shape[0]))
    gain = np.asarray(camera.gain, np.float32) * rng.uniform(0.92, 1.08)
    image = Image.fromarray(np.clip(crop * gain, 0, 255).astype(np.uint8))
    image = image.resize((width, height), Image.Resampling.BILINEAR)
    sigma = camera.blur * rng.uniform(0.5, 1.5) * min(1.0, height / 60)
    if sigma > 0.3:
        image = image.filter(ImageFilter.GaussianBlur(sigma))
    if camera.motion and height >= 50:
        image = image.filter(ImageFilter.BoxBlur((camera.motion, 0)))
    noisy = np.asarray(image, np.float32) + rng.normal(0, camera.noise, size=(height, width, 1))
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    if camera.jpeg:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=camera.jpeg)
        image = Image.open(buffer).convert("RGB")
    return np.asarray(image)
