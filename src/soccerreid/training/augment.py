"""Training augmentations on uint8 images, fast enough for a 2-core CPU; then one batched normalise.

Per sample, in DataLoader workers, on uint8: resize to the phase size (antialiased bilinear, as
evaluation; with probability ``tracker_resize``, cv2's bilinear without antialiasing, as trackers
such as BoxMOT), horizontal flip, zero-pad + random crop, color jitter (brightness and contrast as
one lookup table, saturation as a blend with the grey image) and random erasing (the rectangle
takes the mean colour, i.e. 0 after normalising, like torchvision's ``RandomErasing(value=0)``). Per
batch, on the training device: uint8 -> float, mean/std normalisation (:func:`to_float`).

Every random draw is a pure function of the sample's seed (from the sampler), so results do not
depend on the number of workers or on resuming.

Examples::

    img = augment_sample(read_rgb(path), 128, 64, cfg.augment, seed=123, mean=cfg.mean)  # (128, 64, 3) uint8
    x = to_float(torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2), cfg.mean, cfg.std)  # (B, 3, 128, 64)
"""

from __future__ import annotations

import math
import random

import cv2
import numpy as np
import torch
import torchvision.transforms.v2.functional as TF

from soccerreid.config.models import IMAGENET_MEAN, AugmentConfig

ERASE_AREA = (0.02, 0.4)
ERASE_LOG_ASPECT = (math.log(0.3), math.log(1 / 0.3))
GREY_WEIGHTS = (0.299, 0.587, 0.114)


def resize(img: np.ndarray, height: int, width: int, tracker: bool = False) -> np.ndarray:
    """(h, w, 3) uint8 -> (height, width, 3) uint8: antialiased bilinear, the eval transform's PIL
    resize to within one grey level, with torchvision's uint8 kernel (about cv2's speed, 4x PIL's;
    ``benchmarks/resize.py``); ``tracker``: ``cv2.resize`` bilinear, BoxMOT's kernel (no antialiasing)."""
    if img.shape[:2] == (height, width):
        return img
    if tracker:
        return cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
    chw = torch.from_numpy(img).permute(2, 0, 1)
    out = TF.resize(chw, [height, width], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return out.permute(1, 2, 0).numpy()


def augment_sample(
    img: np.ndarray,
    height: int,
    width: int,
    aug: AugmentConfig,
    seed: int,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
) -> np.ndarray:
    """Augment one (h, w, 3) uint8 RGB image -> (height, width, 3) uint8 (see the module docstring).

    ``mean`` (RGB in [0, 1]) is the normalisation mean, the fill colour of random erasing.
    """
    rng = random.Random(seed)
    tracker = aug.tracker_resize > 0 and rng.random() < aug.tracker_resize  # no draw when off: same stream
    out = resize(img, height, width, tracker)
    if rng.random() < aug.flip:
        out = out[:, ::-1]
    if aug.pad > 0:
        out = _shift(out, rng.randint(-aug.pad, aug.pad), rng.randint(-aug.pad, aug.pad))
    if aug.color_jitter > 0:
        out = _color_jitter(np.ascontiguousarray(out), aug.color_jitter, rng)
    if rng.random() < aug.random_erasing:
        out = _erase(out if _owned(out, img) else np.array(out), mean, rng)
    return np.ascontiguousarray(out)


def _owned(out: np.ndarray, img: np.ndarray) -> bool:
    """True when ``out`` is a fresh contiguous array, safe to modify without touching ``img``."""
    return out.flags.c_contiguous and out.flags.writeable and not np.may_share_memory(out, img)


def _shift(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Equivalent of zero-padding by ``pad`` and cropping at offset (pad+dy, pad+dx)."""
    h, w = img.shape[:2]
    out = np.zeros_like(img)
    ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
    xs, xd = (slice(dx, w), slice(0, w - dx)) if dx >= 0 else (slice(0, w + dx), slice(-dx, w))
    out[yd, xd] = img[ys, xs]
    return out


def to_float(batch: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(B, 3, H, W) uint8 -> (B, 3, H, W) float32 in [0, 1], normalised by ``mean`` / ``std`` (RGB).

    Examples::

        x = to_float(torch.zeros(2, 3, 8, 4, dtype=torch.uint8), IMAGENET_MEAN, IMAGENET_STD)
    """
    std_t = torch.tensor(std, device=batch.device).view(1, 3, 1, 1)
    shift = -torch.tensor(mean, device=batch.device).view(1, 3, 1, 1) / std_t
    return batch.float().mul_(1.0 / (255.0 * std_t)).add_(shift)


def _color_jitter(img: np.ndarray, strength: float, rng: random.Random) -> np.ndarray:
    """Brightness, contrast, saturation factors drawn in [1 - s, 1 + s], applied in that order."""
    bright, contrast, sat = (rng.uniform(1.0 - strength, 1.0 + strength) for _ in range(3))
    grey_mean = float(np.dot(cv2.mean(img)[:3], GREY_WEIGHTS))
    values = np.arange(256, dtype=np.float32)
    lut = values * (bright * contrast) + (1.0 - contrast) * bright * grey_mean
    out = cv2.LUT(img, np.clip(lut + 0.5, 0, 255).astype(np.uint8))
    grey = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(out, sat, grey, 1.0 - sat, 0.0)


def _erase(img: np.ndarray, mean: tuple[float, float, float], rng: random.Random) -> np.ndarray:
    """Fill one random rectangle (2-40% of the area, aspect 0.3-3.3) with the mean colour, in place."""
    h, w = img.shape[:2]
    area = rng.uniform(*ERASE_AREA) * h * w
    aspect = math.exp(rng.uniform(*ERASE_LOG_ASPECT))
    eh = min(h, max(1, round(math.sqrt(area * aspect))))
    ew = min(w, max(1, round(math.sqrt(area / aspect))))
    top, left = rng.randint(0, h - eh), rng.randint(0, w - ew)
    img[top : top + eh, left : left + ew] = np.round(np.asarray(mean) * 255.0).astype(np.uint8)
    return img
