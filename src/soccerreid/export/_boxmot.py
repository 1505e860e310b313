"""Tracker-ready exports: files BoxMOT 25 loads by path alone and that give the DAG's features.

BoxMOT picks the runtime by suffix (``.onnx``, ``.torchscript``), reads the input size from a
sidecar ``<file>.metadata.json``, resizes crops with cv2 bilinear (no antialiasing) and feeds them
normalised with ImageNet's mean/std, without flip averaging. The tracker graph
(:class:`TrackerGraph`) therefore takes ImageNet-normalised (B, 3, k*H, k*W) float32 and returns the
DAG's (B, D) feature: for k > 1 (``supersample``) it first downsizes to the model's H x W with
antialiased bilinear, as the DAG's resize does; the model's own normalisation is folded in as a
per-channel affine map, the mirrored crop averaged inside the graph when the DAG flips, and each row
L2-normalised when the DAG normalises.

Examples::

    diff = export_tracker_file(model, "onnx", "tracker.onnx", crops, name="osnet_ain")   # checked
    write_sidecar("tracker.onnx", model, "osnet_ain")                                  # tracker.onnx.metadata.json
    run = load_runner("onnx", "tracker.onnx")         # ImageNet-normalised input -> the DAG's features
    export_tracker_file(model, "onnx", "x3.onnx", crops, name="osnet_ain", supersample=3)  # input 3H x 3W
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD, MAX_SUPERSAMPLE
from soccerreid.errors import ExportError
from soccerreid.export._formats import (
    FORMATS,
    checked_diff,
    export_onnx,
    export_torchscript,
    inference_network,
    load_runner,
)
from soccerreid.features import Embedder, check_images, downsize, make_loader
from soccerreid.io import write_json

SIDECAR_SCHEMA = 1  # BoxMOT's artifact metadata and model_kwargs schema versions (boxmot.reid.core.artifacts)


class TrackerGraph(nn.Module):
    """ImageNet-normalised (B, 3, h, w) float32 -> the DAG's (B, D) float32 feature of ``network``.

    ``size`` (H, W), when given, is the network's input: a batch of another size is first resized to
    it with antialiased bilinear (the supersampled input of a tracker, h x w = k*H x k*W).
    ``mean``/``std`` are the model's own input normalisation; ``flip`` averages the output of the
    horizontally mirrored batch (one forward of 2B crops); ``normalize`` L2-normalises each row.
    """

    def __init__(
        self,
        network: nn.Module,
        mean: Sequence[float],
        std: Sequence[float],
        flags: tuple[bool, bool],
        size: tuple[int, int] | None = None,
    ):
        super().__init__()
        self.network, (self.flip, self.normalize), self.size = network, flags, size
        ours_mean, ours_std = torch.tensor(mean), torch.tensor(std)
        imagenet_mean, imagenet_std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        self.refold = not (torch.equal(ours_mean, imagenet_mean) and torch.equal(ours_std, imagenet_std))
        self.register_buffer("scale", (imagenet_std / ours_std).view(1, 3, 1, 1))
        self.register_buffer("shift", ((imagenet_mean - ours_mean) / ours_std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size is not None:  # linear: commutes with the normalisation
            x = downsize(x, self.size)
        if self.refold:  # (x * std_in + mean_in - mean) / std, with x normalised by ImageNet's mean/std
            x = x * self.scale + self.shift
        if self.flip:
            both = self.network(torch.cat([x, x.flip(3)]))
            features = (both[: x.shape[0]] + both[x.shape[0] :]) / 2
        else:
            features = self.network(x)
        return F.normalize(features, dim=1, eps=1e-12) if self.normalize else features


def tracker_graph(embedder: Embedder) -> TrackerGraph:
    """The CPU float32 :class:`TrackerGraph` of an embedder, with its input size, flip and normalize settings."""
    cfg, info = embedder.config, embedder.info
    size = (cfg.height, cfg.width)
    return TrackerGraph(inference_network(embedder), info.mean, info.std, (cfg.flip, cfg.normalize), size)


def tracker_size(embedder: Embedder, supersample: int = 1) -> tuple[int, int]:
    """(height, width) a tracker is asked for: ``supersample`` times the model's input size."""
    if not (isinstance(supersample, int) and 1 <= supersample <= MAX_SUPERSAMPLE):
        raise ExportError(f"supersample: expected an integer from 1 to {MAX_SUPERSAMPLE}, got {supersample!r}")
    return embedder.config.height * supersample, embedder.config.width * supersample


def boxmot_sidecar(embedder: Embedder, name: str, supersample: int = 1) -> dict:
    """BoxMOT's ``<file>.metadata.json`` content: model name and the input size (height, width) it feeds."""
    return {
        "schema_version": SIDECAR_SCHEMA,
        "model_name": f"soccerreid_{name}",
        "model_kwargs_schema_version": SIDECAR_SCHEMA,
        "model_kwargs": {"img_size": list(tracker_size(embedder, supersample))},
    }


def sidecar_path(path: str | os.PathLike) -> Path:
    """``<file>.metadata.json`` beside an exported file, where BoxMOT looks for it."""
    path = Path(path)
    return path.with_name(f"{path.name}.metadata.json")


def write_sidecar(path: str | os.PathLike, embedder: Embedder, name: str, supersample: int = 1) -> Path:
    """Write :func:`boxmot_sidecar` beside the exported file ``path``; returns the sidecar's path."""
    write_json(sidecar_path(path), boxmot_sidecar(embedder, name, supersample))
    return sidecar_path(path)


def check_tracker_export(
    fmt: str, path: str | os.PathLike, embedder: Embedder, images: Sequence, name: str, supersample: int = 1
) -> float:
    """Max abs difference between the tracker file's features of ``images`` (PIL-resized to
    :func:`tracker_size`, normalised with ImageNet's mean/std) and the reference; above
    :data:`TOLERANCE` an ExportError. The reference is the DAG's features of ``images`` at k = 1 (the
    graph is the DAG's feature) and the torch graph's of the same input for k > 1 (its downsizing is
    not the DAG's resize of the original crop)."""
    height, width = tracker_size(embedder, supersample)
    loader = make_loader(images, replace(embedder.config, height=height, width=width), IMAGENET_MEAN, IMAGENET_STD)
    batches = [batch.numpy() for batch in loader]
    exported = np.concatenate([load_runner(fmt, path)(x) for x in batches])
    if supersample == 1:
        reference, what = embedder.embed(images, device="cpu"), "the DAG's"
    else:
        with torch.inference_mode():
            graph = tracker_graph(embedder)
            reference, what = np.concatenate([graph(torch.from_numpy(x)).numpy() for x in batches]), "torch's"
    return checked_diff(exported, reference, f"{name}: tracker {fmt} features differ from {what}")


def export_tracker_file(
    embedder: Embedder, fmt: str, path: str | os.PathLike, images: Sequence, name: str, supersample: int = 1
) -> float:
    """Export the :class:`TrackerGraph` as ``fmt`` to ``path`` for input :func:`tracker_size`, checked on
    ``images`` (:func:`check_tracker_export`); returns the max abs diff. :func:`write_sidecar` adds BoxMOT's
    sidecar (with the same ``supersample``)."""
    if fmt not in FORMATS:
        raise ExportError(f"{name}: unknown export format {fmt!r} (expected one of {', '.join(FORMATS)})")
    size = tracker_size(embedder, supersample)
    check_images(images, source=f"{name}: check crops")
    embedder = embedder.configure(compile=False, workers=0, resize="pil")  # the check feeds PIL-resized crops
    (export_onnx if fmt == "onnx" else export_torchscript)(embedder, Path(path), tracker_graph(embedder), size)
    return check_tracker_export(fmt, path, embedder, images, name, supersample)
