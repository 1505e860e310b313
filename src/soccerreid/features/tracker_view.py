"""The tracker's view of a crop (``extract.<model>.resize: tracker``): what BoxMOT feeds an export, embedded.

A tracker resizes the crop with ``cv2.resize`` (bilinear, no antialiasing) to the export's input,
k*H x k*W (``supersample`` k), and the tracker graph downsizes that to the network's H x W with
antialiased bilinear in float (:func:`downsize`, the same function in :class:`soccerreid.export.TrackerGraph`).
:func:`embed_tracker_view` computes exactly that, so the DAG scores the feature a tracker deploys.

It runs the shared extraction loop (:func:`~soccerreid.features.extract.extract_embeddings`) unchanged,
at k*H x k*W, where its PIL resize is the identity, with :func:`downsize` in front of the network.
The crops are decoded (``cv2.imread``, as a tracker) and cv2-resized by threads, a chunk of at most
:data:`CHUNK_BYTES` at a time; chunks are whole batches, so the batches are those of one pass.

Examples::

    feats = embed_tracker_view(network, paths, ExtractConfig(height=96, width=48, supersample=3), mean, std)
    feats.shape     # (len(paths), D) float32
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from soccerreid.config.models import ExtractConfig
from soccerreid.features.extract import extract_embeddings
from soccerreid.images import read_rgb

CHUNK_BYTES = 256 * 2**20  # resized uint8 crops held at once


def downsize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, C, h, w) float -> (B, C, *size): antialiased bilinear (PIL's filter, in float); ``x`` itself at that size."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


class Downsized(nn.Module):
    """``network`` behind :func:`downsize` to its input ``size`` (H, W): (B, 3, h, w) -> (B, D)."""

    def __init__(self, network: nn.Module, size: tuple[int, int]):
        super().__init__()
        self.network, self.size = network, size
        self.embed_dim = getattr(network, "embed_dim", 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(downsize(x, self.size))


def tracker_resize(image: str | os.PathLike | Image.Image | np.ndarray, height: int, width: int) -> np.ndarray:
    """(height, width, 3) uint8 RGB of a path, PIL image or (h, w, 3) uint8 RGB array: ``cv2.resize`` bilinear.

    A path is decoded by ``cv2.imread`` (:func:`~soccerreid.images.read_rgb`), as a tracker reads it;
    cv2's resize treats the channels alike, so the RGB result is the tracker's BGR one reordered.
    """
    if isinstance(image, (str, os.PathLike)):
        rgb = read_rgb(image)
    elif isinstance(image, Image.Image):
        rgb = np.asarray(image.convert("RGB"))
    else:
        rgb = image
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)


def embed_tracker_view(
    network: nn.Module,
    images: Sequence,
    cfg: ExtractConfig,
    mean: Sequence[float],
    std: Sequence[float],
    device: str = "auto",
) -> np.ndarray:
    """(N, D) float32 features of ``images`` as a tracker computes them from the export (module docstring):
    cv2 bilinear to ``cfg.supersample`` times ``cfg.height`` x ``cfg.width``, then :func:`downsize` to
    the network's input, with ``cfg``'s flip, normalisation, batch size, amp and compile.

    ``cfg.workers`` threads (at least one) decode and resize; the extraction loop runs in-process.
    """
    k = cfg.supersample
    size = (cfg.height * k, cfg.width * k)
    settings = replace(cfg, height=size[0], width=size[1], workers=0)
    view = Downsized(network, (cfg.height, cfg.width))
    step = cfg.batch_size * max(1, CHUNK_BYTES // (3 * size[0] * size[1] * cfg.batch_size))
    chunks = []
    with ThreadPoolExecutor(max(1, cfg.workers)) as pool:
        for start in range(0, len(images), step):
            crops = list(pool.map(lambda image: tracker_resize(image, *size), images[start : start + step]))
            chunks.append(extract_embeddings(view, crops, settings, mean, std, device))
    if not chunks:
        return np.zeros((0, view.embed_dim), np.float32)
    return np.concatenate(chunks)
