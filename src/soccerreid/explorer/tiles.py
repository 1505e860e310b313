"""Crop tiles of the explorer: JPEG thumbnails and the page's CSS, shared by the app and the static page.

A tile is a crop with a border: green (:data:`~soccerreid.reporting.qualitative.MATCH_COLOR`, the
query's identity), red (another identity) or grey (unknown), as in figures 4 and 5.

Examples::

    jpeg = thumbnail("crop.png", height=96)       # JPEG bytes, aspect kept
    html = tile(data_uri(jpeg), "1", "match", role="gallery", bbox_idx=7)
"""

from __future__ import annotations

import base64
import html
import os

import cv2

from soccerreid.images import read_rgb
from soccerreid.reporting.qualitative import MATCH_COLOR, MISS_COLOR

UNKNOWN_COLOR = (150, 150, 150)
BORDER_PX = 4


def thumbnail(path: str | os.PathLike, height: int) -> bytes:
    """JPEG bytes of the crop at ``path`` scaled to ``height`` pixels (width by its aspect, at least 8)."""
    rgb = read_rgb(path)
    width = max(8, round(rgb.shape[1] * height / rgb.shape[0]))
    small = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError(f"{path}: JPEG encoding failed")
    return jpeg.tobytes()


def data_uri(jpeg: bytes) -> str:
    """A ``data:image/jpeg;base64,...`` URI of JPEG bytes."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def tile(src: str, caption: str, state: str | None, role: str, bbox_idx: int | None = None) -> str:
    """HTML of one tile: ``state`` is ``match``, ``miss`` or None (no label); ``role`` query or gallery."""
    attrs = f' data-role="{role}"' + (f' data-bbox="{bbox_idx}"' if bbox_idx is not None else "")
    attrs += f' data-state="{state}"' if state else ""
    return (
        f'<figure class="tile {role} {state or "unknown"}"{attrs}><img src="{html.escape(src)}" alt="{role} '
        f'{bbox_idx}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _rgb(color: tuple[int, int, int]) -> str:
    return "rgb({}, {}, {})".format(*color)


CSS = f"""
.tiles {{ display: flex; flex-wrap: wrap; gap: 6px; align-items: flex-end; }}
.tile {{ margin: 0; display: inline-flex; flex-direction: column; align-items: center; font: 12px sans-serif; }}
.tile img {{ height: 128px; border: {BORDER_PX}px solid {_rgb(UNKNOWN_COLOR)}; box-sizing: content-box; }}
.tile.match img {{ border-color: {_rgb(MATCH_COLOR)}; }}
.tile.miss img {{ border-color: {_rgb(MISS_COLOR)}; }}
.tile.query img {{ border-color: #222; }}
.tile.query {{ margin-right: 14px; }}
.retrieval {{ margin: 6px 0 14px 0; }}
.retrieval .head {{ font: 13px sans-serif; margin-bottom: 4px; }}
.error {{ color: {_rgb(MISS_COLOR)}; font-weight: bold; }}
"""
