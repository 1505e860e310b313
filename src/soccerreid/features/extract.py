"""Batched feature extraction: decode in DataLoader workers, embed under ``inference_mode``.

Preprocessing is torchreid's ``FeatureExtractor`` exactly: PIL image -> ``Resize((H, W))``
(bilinear, antialiased) -> ``ToTensor`` -> ``Normalize(mean, std)``; decoding uses
:func:`soccerreid.images.read_rgb` (lossless PNG, so the same pixels as PIL). An image is a
file path, a PIL image or an (H, W, 3) uint8 RGB array.

This is the network-level path; :class:`soccerreid.features.Embedder` (a loaded model file)
runs every embedding of the package through it: the extract stage, ``soccerreid embed``,
``soccerreid evaluate`` and the export check.

Examples::

    network, info = load_network("artifacts/models/osnet_ain/model.pt")
    emb = extract_embeddings(network, paths, ExtractConfig(height=256, width=128), info.mean, info.std)
    emb.shape, emb.dtype        # (len(paths), 512) float32, unit rows when normalize is on
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from soccerreid.config.models import ExtractConfig
from soccerreid.device import select_device
from soccerreid.errors import DataError
from soccerreid.images import read_rgb

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def eval_transform(height: int, width: int, mean: Sequence[float], std: Sequence[float]) -> T.Compose:
    """PIL RGB image -> (3, height, width) float32 tensor, exactly as torchreid's FeatureExtractor."""
    return T.Compose([T.Resize((height, width)), T.ToTensor(), T.Normalize(mean=list(mean), std=list(std))])


class EvalCrops(Dataset):
    """Images -> (3, H, W) float32 tensors in evaluation preprocessing; item i is ``images[i]``.

    Each image is a file path (decoded with :func:`read_rgb`), a PIL image (converted to RGB) or
    an (H, W, 3) uint8 RGB array. Unlike training's :class:`soccerreid.training.data.TrainCrops`
    it never augments and resizes with PIL (:func:`eval_transform`), torchreid's exact recipe, so
    features match torchreid's ``FeatureExtractor`` bit for bit.
    """

    def __init__(self, images: Sequence, transform: T.Compose):
        self.images = [os.fspath(p) if isinstance(p, os.PathLike) else p for p in images]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(to_pil(self.images[i]))


def to_pil(image: str | Image.Image | np.ndarray) -> Image.Image:
    """An RGB PIL image of a path, PIL image or (H, W, 3) uint8 RGB array."""
    if isinstance(image, str):
        return Image.fromarray(read_rgb(image))
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    return Image.fromarray(image)


def check_images(images: Sequence, source: str = "images", hint: str = "") -> None:
    """Raise a one-line :class:`DataError` naming ``source`` and the first bad image, before any work.

    Accepted: a path of an existing file (decoding errors come later, naming the file), a PIL
    image, an (H, W, 3) uint8 array. ``images`` must be a sequence (or an (N, H, W, 3) array).

    Examples::

        check_images(frame["path"], source="data/index/valid.csv", hint=" (re-run the prepare stage?)")
    """
    if isinstance(images, (str, os.PathLike, Image.Image)) or (isinstance(images, np.ndarray) and images.ndim != 4):
        what = (
            f"an array of shape {images.shape}"
            if isinstance(images, np.ndarray)
            else f"a single {type(images).__name__}"
        )
        raise DataError(f"{source}: expected a sequence of images (or an (N, H, W, 3) uint8 array), got {what}")
    for i, image in enumerate(images):
        problem = _image_problem(image, i)
        if problem:
            raise DataError(f"{source}: {problem}{hint}")


def _image_problem(image: object, i: int) -> str | None:
    if isinstance(image, (str, os.PathLike)):
        return None if os.path.isfile(image) else f"crop file {os.fspath(image)} not found"
    if isinstance(image, Image.Image):
        return None
    if isinstance(image, np.ndarray):
        if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) > 0:
            return None
        return f"image {i}: expected an (H, W, 3) uint8 RGB array, got shape {image.shape} dtype {image.dtype}"
    return f"image {i}: expected a file path, a PIL image or an (H, W, 3) uint8 array, got {type(image).__name__}"


def extract_embeddings(
    model: nn.Module,
    images: Sequence,
    cfg: ExtractConfig,
    mean: Sequence[float],
    std: Sequence[float],
    device: str = "auto",
) -> np.ndarray:
    """Embed every image of ``images`` (paths, PIL images or uint8 arrays, in order): (N, D) float32.

    Flip TTA (``cfg.flip``) averages the embedding of each image and of its mirror; then rows
    are L2-normalised when ``cfg.normalize``. On CUDA the forward runs under ``cfg.amp``
    autocast; on CPU it is float32 and the model runs channels_last when that helps. With
    ``cfg.compile`` the forward is :func:`compile_embedder`'s and the last batch is padded to
    ``cfg.batch_size``, so one static shape is compiled (torch caches it across calls).

    Examples::

        emb = extract_embeddings(model, ["a.png", "b.png"], ExtractConfig(height=128, width=64),
                                 mean=IMAGENET_MEAN, std=IMAGENET_STD)      # (2, D)
    """
    target = select_device(device)
    layout = torch.channels_last if _is_convolutional(model) else torch.contiguous_format
    model = model.eval().to(target, memory_format=layout)
    loader = make_loader(images, cfg, mean, std, pin_memory=target.type == "cuda")
    forward = compile_embedder(model) if cfg.compile else model
    chunks = []
    with torch.inference_mode(), _autocast(target, cfg.amp):
        for images in _batches(loader):
            count = len(images)
            images = _pad_batch(images, cfg.batch_size) if cfg.compile else images
            images = images.to(target, non_blocking=True).contiguous(memory_format=layout)
            chunks.append(embed_batch(forward, images, flip=cfg.flip, normalize=cfg.normalize)[:count].cpu())
    dim = getattr(model, "embed_dim", 0)
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, dim), np.float32)


def compile_embedder(model: nn.Module) -> nn.Module:
    """``torch.compile`` for inference: inductor with frozen weights (BatchNorm folded into the
    convolutions, constants propagated) and static shapes. Same outputs to ~1e-6.

    On a CPU whose kernels are AVX2 (``torch.backends.cpu.get_cpu_capability()``) the weights are
    not frozen: there torch 2.14's frozen inductor graph of a channels_last OSNet-AIN with BNNeck
    returned NaN and values of 1e31 (measured under the AVX2 emulation of docs/benchmarks.md; the same graph is
    right with AVX-512 kernels, and unfrozen it is right on both).

    Examples::

        fast = compile_embedder(model.eval())
        fast(images)        # (B, D); the first call of each input shape compiles
    """
    on_cpu = next(model.parameters()).device.type == "cpu"
    freezing = not (on_cpu and torch.backends.cpu.get_cpu_capability() == "AVX2")
    return torch.compile(model, dynamic=False, options={"freezing": freezing})


def _pad_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """(b, 3, H, W) -> (size, 3, H, W): a short last batch repeats its last image."""
    missing = size - len(images)
    return torch.cat([images, images[-1:].expand(missing, *images.shape[1:])]) if missing > 0 else images


def _is_convolutional(model: nn.Module) -> bool:
    """CNNs run channels_last (faster oneDNN/cuDNN kernels); a ViT has only its patch-embedding conv."""
    return sum(isinstance(m, nn.Conv2d) for m in model.modules()) > 1


def make_loader(images, cfg: ExtractConfig, mean, std, pin_memory: bool = False) -> DataLoader:
    """An ordered DataLoader of (B, 3, H, W) float32 batches, decoding in ``cfg.workers`` processes."""
    dataset = EvalCrops(images, eval_transform(cfg.height, cfg.width, mean, std))
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        shuffle=False,
        num_workers=cfg.workers,
        pin_memory=pin_memory,
        prefetch_factor=4 if cfg.workers else None,
    )


def embed_batch(model: nn.Module, images: torch.Tensor, flip: bool, normalize: bool) -> torch.Tensor:
    """(B, 3, H, W) -> (B, D) float32: mean with the mirrored image's embedding if ``flip``, then L2."""
    embedding = model(images).float()
    if flip:
        layout = (
            torch.channels_last if images.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        )
        mirrored = torch.flip(images, dims=[3]).contiguous(memory_format=layout)
        embedding = (embedding + model(mirrored).float()) / 2
    if normalize:
        embedding = nn.functional.normalize(embedding, dim=1)
    return embedding


def _batches(loader: DataLoader):
    """Iterate ``loader``; a worker's DataError comes back as its own one-line message."""
    try:
        yield from loader
    except DataError as err:
        raise DataError(str(err).strip().splitlines()[-1].split("DataError: ", 1)[-1]) from None


def _autocast(device: torch.device, amp: str):
    if device.type != "cuda" or amp == "none":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=AMP_DTYPES[amp])
