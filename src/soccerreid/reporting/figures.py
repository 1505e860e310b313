"""Figures of the report, drawn with matplotlib (Agg) and written atomically as PNG.

- figure 2: :func:`plot_method_bars`, mAP and Rank-1 per method;
- figure 3: :func:`plot_cmc`, CMC curves per model and for the final method;
- figures 4 and 5: :func:`plot_retrievals`, a query and its top-k with green (same identity)
  or red (other identity) borders, one row per query;
- training curves: :func:`plot_training_curves`, loss and validation mAP per epoch.

Examples::

    plot_method_bars(["OSNet-AIN", "weighted"], [0.57, 0.55], [0.44, 0.43], "reports/figures/methods.png")
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from soccerreid.images import read_rgb  # noqa: E402
from soccerreid.io import atomic_path  # noqa: E402
from soccerreid.reporting.qualitative import MATCH_COLOR, MISS_COLOR  # noqa: E402

TILE_SIZE = (128, 64)


def _save(fig: plt.Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_method_bars(methods: Sequence[str], maps: Sequence[float], rank1s: Sequence[float], path) -> None:
    """Grouped bars of mAP and Rank-1 (fractions, shown in percent) for each method."""
    x = np.arange(len(methods))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(methods)), 4.0))
    ax.bar(x - 0.2, 100 * np.asarray(maps), width=0.4, label="mAP")
    ax.bar(x + 0.2, 100 * np.asarray(rank1s), width=0.4, label="Rank-1")
    ax.set_xticks(x, methods, rotation=30, ha="right")
    ax.set_ylabel("%")
    ax.set_title("Method comparison")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def plot_cmc(curves: dict[str, np.ndarray], path) -> None:
    """CMC curves: ``curves`` maps a name to accuracies (R,) at ranks 1..R (fractions)."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for name, accuracy in curves.items():
        ranks = np.arange(1, len(accuracy) + 1)
        ax.plot(ranks, 100 * np.asarray(accuracy), marker="o", markersize=2, label=name)
    ax.set_xlabel("rank")
    ax.set_ylabel("matching accuracy (%)")
    ax.set_title("CMC")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def _tile(path: str, color: tuple[int, int, int] | None, border: int = 4) -> np.ndarray:
    """A crop resized to TILE_SIZE with a coloured border; (H, W, 3) uint8."""
    import cv2

    image = cv2.resize(read_rgb(path), (TILE_SIZE[1], TILE_SIZE[0]), interpolation=cv2.INTER_AREA)
    if color is not None:
        image[:border], image[-border:] = color, color
        image[:, :border], image[:, -border:] = color, color
    return image


def plot_retrievals(
    query_paths: Sequence[str],
    ranked_paths: Sequence[Sequence[str]],
    matches: Sequence[Sequence[bool]],
    title: str,
    path,
) -> None:
    """One row per query: the query, then its ranked gallery crops bordered green (match) or red."""
    rows, cols = len(query_paths), 1 + max(len(r) for r in ranked_paths)
    fig, axes = plt.subplots(rows, cols, figsize=(1.0 * cols, 2.0 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for r, (query, ranked, hits) in enumerate(zip(query_paths, ranked_paths, matches)):
        axes[r, 0].imshow(_tile(query, None))
        axes[r, 0].set_title("query", fontsize=7)
        for c, (gallery, hit) in enumerate(zip(ranked, hits), start=1):
            axes[r, c].imshow(_tile(gallery, MATCH_COLOR if hit else MISS_COLOR))
            axes[r, c].set_title(str(c), fontsize=7)
    fig.suptitle(title)
    _save(fig, path)


def plot_training_curves(histories: dict[str, dict[str, np.ndarray]], path) -> None:
    """Loss and validation mAP per epoch; ``histories[model][metric]`` is (E,) over epochs."""
    fig, (ax_loss, ax_map) = plt.subplots(1, 2, figsize=(10.0, 3.8))
    for model, history in histories.items():
        if "loss" in history:
            ax_loss.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], marker="o", label=model)
        if "val_mAP" in history:
            ax_map.plot(np.arange(1, len(history["val_mAP"]) + 1), 100 * history["val_mAP"], marker="o", label=model)
    for axis, label in ((ax_loss, "training loss"), (ax_map, "validation mAP (%)")):
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    _save(fig, path)
