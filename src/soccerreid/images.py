"""Image files: find them (:func:`find_images`) and decode them (:func:`read_rgb`), for the data layer,
every model's data loader, the command and the explorer.

Examples::

    find_images(["crops/"])   # every image file under crops/, sorted

    rgb = read_rgb("data/raw/reid/train/.../1-0-0-0-Player_team_left-7-a_b-120x48.png")
    rgb.shape, rgb.dtype       # (120, 48, 3) uint8
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from soccerreid.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode an image file into an RGB array.

    Returns an array of shape (H, W, 3), dtype uint8, in RGB channel order. Grey and RGBA
    files are converted to 3-channel RGB. Raises :class:`DataError` naming ``path`` when the
    file is missing, empty, truncated or not a decodable image.

    Examples::

        img = read_rgb("crop.png")     # (H, W, 3) uint8
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: image file not found")
    if file.stat().st_size == 0:
        raise DataError(f"{file}: image file is empty (0 bytes)")
    bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise DataError(f"{file}: cannot decode image (truncated or not an image file)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def find_images(items: Sequence[str]) -> list[str]:
    """Image files of ``items`` (files, or folders searched recursively, sorted); a missing path,
    a non-image file or a folder without images is a :class:`DataError`."""
    paths = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError(f"{path}: no image files in this folder (expected {', '.join(IMAGE_SUFFIXES)})")
            paths += found
        elif not path.is_file():
            raise DataError(f"{path}: no such file or folder")
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{path}: not an image file (expected {', '.join(IMAGE_SUFFIXES)})")
        else:
            paths.append(str(path))
    return paths
