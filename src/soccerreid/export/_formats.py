"""ONNX and TorchScript files of a model file's network, each checked against torch before it is kept.

The exported graph maps ``images`` (B, 3, H, W) float32, preprocessed as the model file says
(RGB, resized to H x W bilinear antialiased, scaled to [0, 1], normalised by mean/std), to
``features`` (B, D) float32: the network's raw embedding, after the BNNeck, with the batch size
dynamic and LoRA merged into the ViT's weights. Flip averaging and L2 normalisation are left to
the caller (:func:`postprocess`), so a tracker can skip the mirrored pass.

Examples::

    model = load_model("artifacts/models/osnet_ain/model.pt")
    diff = export_file(model, "onnx", "osnet_ain.onnx", crops, name="osnet_ain")   # checked, <= 2e-3
    run = load_runner("onnx", "osnet_ain.onnx")
    postprocess(run(x), run(x[..., ::-1].copy()), normalize=True)                 # the DAG's features
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from soccerreid.errors import ExportError
from soccerreid.features import Embedder, check_images, make_loader

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript"}  # the suffixes trackers (BoxMOT) recognise
INPUT_NAME, OUTPUT_NAME = "images", "features"
# Max abs difference allowed between an exported file's features (L2-normalised) and torch's. The
# tiny test models agree to about 1e-7. A DINOv2 trained briefly from random init (the e2e and
# challenge smoke tests) differed by 4e-4 to 7e-4 in ONNX (TorchScript 3e-8, LoRA merged or not):
# that network amplifies float32 rounding (torch's own fused and math attention kernels give
# features 2e-4 apart, relative, on it). Other weights or a wrong input contract differ by > 1e-2.
TOLERANCE = 2e-3


def inference_network(embedder: Embedder) -> nn.Module:
    """A CPU float32 copy of the embedder's network in eval mode, contiguous, with LoRA merged."""
    network = copy.deepcopy(embedder.network).cpu().float().eval().to(memory_format=torch.contiguous_format)
    if hasattr(network.backbone, "merge_and_unload"):  # a peft LoRA model
        network.backbone = network.backbone.merge_and_unload()
    return network


def metadata(embedder: Embedder, size: tuple[int, int] | None = None) -> dict[str, str]:
    """The input contract and identity, as strings, for the exported file's metadata; ``size``: the
    file's input (height, width) when it is not the model's (a supersampled tracker graph)."""
    info, cfg = embedder.info, embedder.config
    height, width = size or (cfg.height, cfg.width)
    contract = {
        "arch": info.arch,
        "variant": info.variant,
        "weights_id": info.weights_id,
        "embed_dim": info.embed_dim,
        "height": height,
        "width": width,
        "mean": list(info.mean),
        "std": list(info.std),
        "flip": cfg.flip,
        "normalize": cfg.normalize,
        "soccerreid_version": info.soccerreid_version,
    }
    return {key: json.dumps(value) if not isinstance(value, str) else value for key, value in contract.items()}


def export_onnx(
    embedder: Embedder, path: str | os.PathLike, module: nn.Module | None = None, size: tuple[int, int] | None = None
) -> None:
    """Write ``module`` (default: the plain :func:`inference_network`) as ONNX (dynamo exporter, dynamic
    batch, weights inline) for input ``size`` (height, width; default the model's) with :func:`metadata`."""
    import onnx

    cfg = embedder.config
    example = torch.zeros(2, 3, *(size or (cfg.height, cfg.width)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module or inference_network(embedder),
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            external_data=False,
            verbose=False,
        )
    proto = program.model_proto
    onnx.helper.set_model_props(proto, {f"soccerreid.{k}": v for k, v in metadata(embedder, size).items()})
    onnx.save(proto, os.fspath(path))


def export_torchscript(
    embedder: Embedder, path: str | os.PathLike, module: nn.Module | None = None, size: tuple[int, int] | None = None
) -> None:
    """Write ``module`` (default: the plain :func:`inference_network`) as TorchScript traced at input
    ``size`` (height, width; default the model's) with :func:`metadata` in ``soccerreid.json``."""
    cfg = embedder.config
    example = torch.zeros(2, 3, *(size or (cfg.height, cfg.width)))
    extra = {"soccerreid.json": json.dumps(metadata(embedder, size))}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit is deprecated in favour of torch.export, trackers still load it
        torch.jit.save(
            torch.jit.trace(module or inference_network(embedder), example), os.fspath(path), _extra_files=extra
        )


def load_runner(fmt: str, path: str | os.PathLike) -> Callable[[np.ndarray], np.ndarray]:
    """``run(x)``: (B, 3, H, W) float32 -> (B, D) float32 through onnxruntime (CPU) or TorchScript, on
    torch's CPU threads (``torch.set_num_threads``; onnxruntime would take every core)."""
    if fmt == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
        return lambda x: session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(os.fspath(path), map_location="cpu").eval()

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    return run


def postprocess(raw: np.ndarray, mirrored: np.ndarray | None, normalize: bool) -> np.ndarray:
    """(B, D) float32 features from raw outputs: mean with the mirrored crop's if given, then L2 if ``normalize``."""
    features = raw if mirrored is None else (raw + mirrored) / 2
    if normalize:
        features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    return features.astype(np.float32)


def run_features(run: Callable[[np.ndarray], np.ndarray], embedder: Embedder, images: Sequence) -> np.ndarray:
    """(N, D) float32 features of ``images`` through ``run``, pre- and post-processed as the model card says."""
    cfg = embedder.config
    chunks = []
    for batch in make_loader(images, cfg, embedder.info.mean, embedder.info.std):
        x = batch.numpy()
        chunks.append(postprocess(run(x), run(np.ascontiguousarray(x[..., ::-1])) if cfg.flip else None, cfg.normalize))
    return np.concatenate(chunks)


def check_export(fmt: str, path: str | os.PathLike, embedder: Embedder, images: Sequence, name: str) -> float:
    """Max abs difference between the exported file's features and the torch model's on ``images``.

    Above :data:`TOLERANCE` it is an :class:`ExportError` naming the model and the difference.
    """
    reference = embedder.embed(images, device="cpu")
    exported = run_features(load_runner(fmt, path), embedder, images)
    return checked_diff(exported, reference, f"{name}: {fmt} features differ from the torch model's")


def checked_diff(exported: np.ndarray, reference: np.ndarray, what: str) -> float:
    """Max abs difference of two (N, D) feature arrays; above :data:`TOLERANCE` an :class:`ExportError`
    saying ``what`` differs, by how much and on how many crops."""
    diff = float(np.abs(exported - reference).max())
    if not diff <= TOLERANCE:
        raise ExportError(f"{what} by {diff:.3g} (max abs, on {len(reference)} crops; at most {TOLERANCE:g} allowed)")
    return diff


def export_file(embedder: Embedder, fmt: str, path: str | os.PathLike, images: Sequence, name: str) -> float:
    """Export ``embedder`` as ``fmt`` to ``path`` and check it on ``images``; returns the max abs diff.

    The check runs on CPU in float32, in-process, uncompiled. On failure the file is left for the
    caller to discard (write into an :func:`~soccerreid.io.atomic_path` / ``atomic_dir``).
    """
    if fmt not in FORMATS:
        raise ExportError(f"{name}: unknown export format {fmt!r} (expected one of {', '.join(FORMATS)})")
    check_images(images, source=f"{name}: check crops")
    embedder = embedder.configure(compile=False, workers=0, resize="pil")  # the check feeds PIL-resized crops
    (export_onnx if fmt == "onnx" else export_torchscript)(embedder, Path(path))
    return check_export(fmt, path, embedder, images, name)
