"""Batched feature extraction: decode in DataLoader workers, embed under ``inference_mode``.

Preprocessing is torchreid's ``FeatureExtractor`` exactly: PIL image -> ``Resize((H, W))``
(bilinear, antialiased) -> ``ToTensor`` -> ``Normalize(mean, std)``; decoding uses
:func:`soccerreid.images.read_rgb` (lossless PNG, so the same pixels as PIL).

Examples::

    model = load_embedder(params.models["osnet_ain"], "artifacts/models/osnet_ain/model.pt")
    emb = extract_embeddings(model, paths, params.extract["osnet_ain"], mean=cfg.mean, std=cfg.std)
    emb.shape, emb.dtype        # (len(paths), 512) float32, unit rows when normalize is on
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torchvision.transforms as T
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from soccerreid.config.models import ExtractConfig
from soccerreid.cpu import thread_budget, use_cpu_threads
from soccerreid.errors import DataError
from soccerreid.images import read_rgb
from soccerreid.schema import FeatureSet

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def eval_transform(height: int, width: int, mean: Sequence[float], std: Sequence[float]) -> T.Compose:
    """PIL RGB image -> (3, height, width) float32 tensor, exactly as torchreid's FeatureExtractor."""
    return T.Compose([T.Resize((height, width)), T.ToTensor(), T.Normalize(mean=list(mean), std=list(std))])


class CropDataset(Dataset):
    """Crops on disk -> (3, H, W) float32 tensors in eval preprocessing; item i is ``paths[i]``."""

    def __init__(self, paths: Sequence[str | os.PathLike], transform: T.Compose):
        self.paths = [str(p) for p in paths]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(Image.fromarray(read_rgb(self.paths[i])))


def check_images_exist(paths: Sequence[str | os.PathLike], source: str) -> None:
    """Raise a one-line :class:`DataError` naming ``source`` and the first missing crop file."""
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(f"{source}: crop file {path} not found (re-run the prepare stage?)")


def select_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def extract_embeddings(
    model: nn.Module,
    paths: Sequence[str | os.PathLike],
    cfg: ExtractConfig,
    mean: Sequence[float],
    std: Sequence[float],
    device: str = "auto",
) -> np.ndarray:
    """Embed every crop of ``paths`` (in order): (N, D) float32.

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
    loader = make_loader(paths, cfg, mean, std, pin_memory=target.type == "cuda")
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

    Examples::

        fast = compile_embedder(model.eval())
        fast(images)        # (B, D); the first call of each input shape compiles
    """
    return torch.compile(model, dynamic=False, options={"freezing": True})


def _pad_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """(b, 3, H, W) -> (size, 3, H, W): a short last batch repeats its last image."""
    missing = size - len(images)
    return torch.cat([images, images[-1:].expand(missing, *images.shape[1:])]) if missing > 0 else images


def _is_convolutional(model: nn.Module) -> bool:
    """CNNs run channels_last (faster oneDNN/cuDNN kernels); a ViT has only its patch-embedding conv."""
    return sum(isinstance(m, nn.Conv2d) for m in model.modules()) > 1


def make_loader(paths, cfg: ExtractConfig, mean, std, pin_memory: bool = False) -> DataLoader:
    """An ordered DataLoader of (B, 3, H, W) float32 batches, decoding in ``cfg.workers`` processes."""
    dataset = CropDataset(paths, eval_transform(cfg.height, cfg.width, mean, std))
    return DataLoader(dataset, batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.workers,
                      pin_memory=pin_memory, prefetch_factor=4 if cfg.workers else None)


def embed_batch(model: nn.Module, images: torch.Tensor, flip: bool, normalize: bool) -> torch.Tensor:
    """(B, 3, H, W) -> (B, D) float32: mean with the mirrored image's embedding if ``flip``, then L2."""
    embedding = model(images).float()
    if flip:
        layout = torch.channels_last if images.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
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


def extract_split(
    model: nn.Module,
    frame: pd.DataFrame,
    cfg: ExtractConfig,
    mean: Sequence[float],
    std: Sequence[float],
    model_name: str,
    split: str,
    device: str = "auto",
) -> FeatureSet:
    """Embed every crop of an index table (``read_index`` columns) into a :class:`FeatureSet`.

    ``person_uid`` is ``None`` when the split is unlabelled (every uid is -1, as in challenge).

    Examples::

        fs = extract_split(model, read_index("data/index", "valid"), cfg, mean, std, "osnet_ain", "valid")
        write_features("artifacts/features/osnet_ain/valid.h5", fs)
    """
    if frame.empty:
        raise DataError(f"{split}: the index has no crops to extract")
    if select_device(device).type == "cpu":
        use_cpu_threads(thread_budget(cfg.threads, cfg.workers))
    features = extract_embeddings(model, frame["path"].tolist(), cfg, mean, std, device)
    uid = frame["person_uid"].to_numpy(np.int64)
    return FeatureSet(
        features=features,
        bbox_idx=frame["bbox_idx"].to_numpy(np.int64),
        action_idx=frame["action_idx"].to_numpy(np.int64),
        role=frame["role"].to_numpy(str),
        person_uid=None if (uid < 0).all() else uid,
        clazz=frame["clazz"].to_numpy(str),
        model=model_name,
        split=split,
        normalized=cfg.normalize,
    )
