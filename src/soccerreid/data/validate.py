"""Find crops that cannot be decoded, so that no later stage ever trips over them.

Examples::

    bad = find_invalid_images([Path("a.png"), Path("b.png")], workers=2)
    bad       # {Path('b.png'): 'image file is empty (0 bytes)'}
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from soccerreid.errors import DataError
from soccerreid.images import read_rgb


def check_image(path: Path) -> str | None:
    """Fully decode ``path``; return why it is unusable (missing, empty, truncated...) or None.

    Examples::

        check_image(Path("ok.png"))        # None
    """
    try:
        read_rgb(path)
    except DataError as err:
        return str(err).removeprefix(f"{Path(path)}: ")
    return None


def find_invalid_images(paths: Sequence[Path], workers: int = 1, progress: str | None = None) -> dict[Path, str]:
    """Decode every image (OpenCV releases the GIL, so threads run in parallel).

    Returns ``{path: reason}`` for the unusable ones, in the order of ``paths``. With
    ``progress``, a progress bar of that title counts the decoded crops.

    Examples::

        find_invalid_images(sorted(Path("crops").glob("*.png")), workers=2)
    """
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        decoded = pool.map(check_image, paths, chunksize=64)
        reasons = list(
            tqdm(decoded, total=len(paths), desc=progress, unit="crop", mininterval=2.0, disable=progress is None)
        )
    return {path: reason for path, reason in zip(paths, reasons) if reason is not None}
