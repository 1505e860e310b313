"""The training input pipeline: crop dataset, PK batches, worker DataLoader, batched augmentation.

Workers decode crops with cv2 and augment them on uint8 (:func:`soccerreid.training.augment.augment_sample`);
batches travel as (B, 3, H, W) uint8 (4x smaller than float) and are normalised batched on the
training device (:func:`soccerreid.training.augment.to_float`). The loader has its own torch
generator, so iterating it never draws from the global RNG (resume stays bit-identical).

Examples::

    loader = make_train_loader(paths, labels, actions, 128, 64, cfg.augment, cfg.train, seed=0)
    loader.batch_sampler.set_epoch(epoch)
    for images, labels in loader:        # (B, 3, 128, 64) uint8, (B,) int64
        ...
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from soccerreid.config.models import IMAGENET_MEAN, AugmentConfig, TrainConfig
from soccerreid.images import read_rgb
from soccerreid.training.augment import augment_sample
from soccerreid.training.sampler import ActionPKSampler


class TrainCrops(Dataset):
    """Augmented training crops addressed by ``(row, seed)``: ``dataset[(i, s)]`` -> ((3, H, W) uint8 tensor, label).

    ``paths`` (N,) image files; ``labels`` (N,) int; ``height``/``width`` the output size. The
    per-sample augmentation is a pure function of ``s``. It differs from evaluation's
    :class:`soccerreid.features.extract.EvalCrops` on purpose: it augments, stays uint8 (the
    batch is normalised on the device) and resizes with :func:`soccerreid.training.augment.resize`,
    torchvision's uint8 kernel, within one grey level of evaluation's PIL resize at a third of
    its cost (docs/training.md, ``benchmarks/resize.py``).
    """

    def __init__(self, paths, labels, height: int, width: int, augment: AugmentConfig, mean=IMAGENET_MEAN) -> None:
        self.paths = [str(p) for p in paths]
        self.labels = np.asarray(labels, dtype=np.int64)
        self.height, self.width, self.augment, self.mean = height, width, augment, tuple(mean)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int]:
        row, seed = key
        img = augment_sample(read_rgb(self.paths[row]), self.height, self.width, self.augment, seed, self.mean)
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))), int(self.labels[row])


def make_train_loader(
    paths,
    labels: np.ndarray,
    actions: np.ndarray,
    height: int,
    width: int,
    augment: AugmentConfig,
    train: TrainConfig,
    *,
    seed: int,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
    games: np.ndarray | None = None,
    competitions: np.ndarray | None = None,
) -> DataLoader:
    """A DataLoader over this rank's shard of hierarchical PK batches (see :class:`ActionPKSampler`).

    ``labels`` (N,) contiguous identity ids; ``actions``, ``games``, ``competitions`` (N,) codes
    of each row's action, game and competition. Workers persist across epochs; call
    ``loader.batch_sampler.set_epoch(e)`` before iterating epoch ``e``.
    """
    sampler = ActionPKSampler(
        labels,
        actions,
        ids_per_batch=train.ids_per_batch,
        images_per_id=train.images_per_id,
        ids_per_action=train.ids_per_action,
        seed=seed,
        rank=rank,
        world_size=world_size,
        games=games,
        competitions=competitions,
        actions_per_game=train.actions_per_game,
        games_per_competition=train.games_per_competition,
    )
    dataset = TrainCrops(paths, labels, height, width, augment, mean)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=train.workers,
        pin_memory=pin_memory,
        persistent_workers=train.workers > 0,
        prefetch_factor=4 if train.workers > 0 else None,
        worker_init_fn=_single_thread_cv2,
        generator=torch.Generator().manual_seed(seed),
    )


def _single_thread_cv2(worker_id: int) -> None:
    """One cv2 thread per worker: the workers themselves are the parallelism."""
    cv2.setNumThreads(1)
