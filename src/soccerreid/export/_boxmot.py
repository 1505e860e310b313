"""Tracker-ready exports: files BoxMOT 25 loads by path alone and that give the DAG's features.

BoxMOT picks the runtime by suffix (``.onnx``, ``.torchscript``), reads the input size from a
sidecar ``<file>.metadata.json`` and feeds crops normalised with ImageNet's mean/std, without
flip averaging. The tracker graph (:class:`TrackerGraph`) therefore takes ImageNet-normalised
(B, 3, H, W) float32 and returns the DAG's (B, D) feature: the model's own normalisation folded in
as a per-channel affine map, the mirrored crop averaged inside the graph when the DAG flips, and
each row L2-normalised when the DAG normalises.

Examples::

    diff = export_tracker_file(model, "onnx", "tracker.onnx", crops, name="osnet_ain")   # checked
    write_sidecar("tracker.onnx", model, "osnet_ain")                                  # tracker.onnx.metadata.json
    run = load_runner("onnx", "tracker.onnx")         # ImageNet-normalised input -> the DAG's features
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD
from soccerreid.errors import ExportError
from soccerreid.export._formats import (
    FORMATS,
    checked_diff,
    export_onnx,
    export_torchscript,
    inference_network,
    load_runner,
)
from soccerreid.features import Embedder, check_images, make_loader
from soccerreid.io import write_json

SIDECAR_SCHEMA = 1  # BoxMOT's artifact metadata and model_kwargs schema versions (boxmot.reid.core.artifacts)


class TrackerGraph(nn.Module):
    """ImageNet-normalised (B, 3, H, W) float32 -> the DAG's (B, D) float32 feature of ``network``.

    ``mean``/``std`` are the model's own input normalisation; ``flip`` averages the output of the
    horizontally mirrored batch (one forward of 2B crops); ``normalize`` L2-normalises each row.
    """

    def __init__(self, network: nn.Module, mean: Sequence[float], std: Sequence[float], flip: bool, normalize: bool):
        super().__init__()
        self.network, self.flip, self.normalize = network, flip, normalize
        ours_mean, ours_std = torch.tensor(mean), torch.tensor(std)
        imagenet_mean, imagenet_std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        self.refold = not (torch.equal(ours_mean, imagenet_mean) and torch.equal(ours_std, imagenet_std))
        self.register_buffer("scale", (imagenet_std / ours_std).view(1, 3, 1, 1))
        self.register_buffer("shift", ((imagenet_mean - ours_mean) / ours_std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.refold:  # (x * std_in + mean_in - mean) / std, with x normalised by ImageNet's mean/std
            x = x * self.scale + self.shift
        if self.flip:
            both = self.network(torch.cat([x, x.flip(3)]))
            features = (both[: x.shape[0]] + both[x.shape[0] :]) / 2
        else:
            features = self.network(x)
        return F.normalize(features, dim=1, eps=1e-12) if self.normalize else features


def tracker_graph(embedder: Embedder) -> TrackerGraph:
    """The CPU float32 :class:`TrackerGraph` of an embedder, with its flip and normalize settings."""
    cfg = embedder.config
    return TrackerGraph(inference_network(embedder), embedder.info.mean, embedder.info.std, cfg.flip, cfg.normalize)


def boxmot_sidecar(embedder: Embedder, name: str) -> dict:
    """BoxMOT's ``<file>.metadata.json`` content: model name and the input size (height, width)."""
    cfg = embedder.config
    return {
        "schema_version": SIDECAR_SCHEMA,
        "model_name": f"soccerreid_{name}",
        "model_kwargs_schema_version": SIDECAR_SCHEMA,
        "model_kwargs": {"img_size": [cfg.height, cfg.width]},
    }


def sidecar_path(path: str | os.PathLike) -> Path:
    """``<file>.metadata.json`` beside an exported file, where BoxMOT looks for it."""
    path = Path(path)
    return path.with_name(f"{path.name}.metadata.json")


def write_sidecar(path: str | os.PathLike, embedder: Embedder, name: str) -> Path:
    """Write :func:`boxmot_sidecar` beside the exported file ``path``; returns the sidecar's path."""
    write_json(sidecar_path(path), boxmot_sidecar(embedder, name))
    return sidecar_path(path)


def check_tracker_export(fmt: str, path: str | os.PathLike, embedder: Embedder, images: Sequence, name: str) -> float:
    """Max abs difference between the DAG's features of ``images`` and the tracker file's, fed the same
    PIL-resized crops normalised with ImageNet's mean/std; above :data:`TOLERANCE` an ExportError."""
    reference = embedder.embed(images, device="cpu")
    run = load_runner(fmt, path)
    batches = make_loader(images, embedder.config, IMAGENET_MEAN, IMAGENET_STD)
    exported = np.concatenate([run(batch.numpy()) for batch in batches])
    return checked_diff(exported, reference, f"{name}: tracker {fmt} features differ from the DAG's")


def export_tracker_file(embedder: Embedder, fmt: str, path: str | os.PathLike, images: Sequence, name: str) -> float:
    """Export the :class:`TrackerGraph` as ``fmt`` to ``path``, checked on ``images``
    (:func:`check_tracker_export`); returns the max abs diff. :func:`write_sidecar` adds BoxMOT's sidecar."""
    if fmt not in FORMATS:
        raise ExportError(f"{name}: unknown export format {fmt!r} (expected one of {', '.join(FORMATS)})")
    check_images(images, source=f"{name}: check crops")
    embedder = embedder.configure(compile=False, workers=0)
    (export_onnx if fmt == "onnx" else export_torchscript)(embedder, Path(path), tracker_graph(embedder))
    return check_tracker_export(fmt, path, embedder, images, name)
