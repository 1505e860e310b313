"""One optimisation step: the net it runs (model + loss, wrapped by DDP as one module) and the step.

Examples::

    optim = Optimisation(optimizer, scheduler, torch.amp.GradScaler(enabled=False), grad_clip=5.0)
    parts = train_step(TrainNet(model, loss), x, labels, optim)     # {"loss": 1.9, "ce": ..., ...}
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from soccerreid.training.losses import ReidLoss
from soccerreid.training.partial_fc import PartialClassifier


class TrainNet(nn.Module):
    """Model plus loss (the center-loss centers are parameters), wrapped by DDP as one module.

    With a :class:`PartialClassifier` (``train.sampled_classes``) the CE scores its sampled rows
    of the model's classifier instead of all of them."""

    def __init__(self, model: nn.Module, loss: ReidLoss, classifier: PartialClassifier | None = None) -> None:
        super().__init__()
        self.model, self.loss, self.classifier = model, loss, classifier

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.classifier is None:
            out = self.model(x)
            return self.loss(out.logits, out.features, labels)
        features, embedding = self.model.features_and_embedding(x)
        logits, targets = self.classifier.logits(embedding, labels)
        return self.loss(logits, features, labels, targets)


@dataclass(frozen=True)
class Optimisation:
    """A phase's optimiser, its lr schedule (stepped every step) and grad scaler (fp16 only), with
    the step's gradient clipping (global norm, off at 0) and CUDA autocast dtype (None: fp32)."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    grad_clip: float = 0.0
    amp_dtype: torch.dtype | None = None


def train_step(
    net: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    optim: Optimisation,
    classifier: PartialClassifier | None = None,
) -> dict[str, float]:
    """One optimisation step of ``net(x, labels) -> {"loss", ...}``: autocast (CUDA), backward,
    fp16 loss scaling, gradient clipping (``optim.grad_clip > 0``), optimiser and scheduler step.

    ``x`` (B, 3, H, W) float32, ``labels`` (B,) int64. Returns the loss terms as floats.
    ``classifier``, the net's Partial FC, has its sampled rows' gradient averaged over the ranks,
    clipped with the rest and applied with the first param group's lr and weight decay.

    Examples::

        optim = Optimisation(opt, sched, torch.amp.GradScaler(enabled=False), grad_clip=5.0)
        parts = train_step(TrainNet(model, loss), x, y, optim)
    """
    optimizer, scaler = optim.optimizer, optim.scaler
    amp = optim.amp_dtype
    autocast = torch.autocast("cuda", dtype=amp) if amp is not None else contextlib.nullcontext()
    with autocast:
        parts = net(x, labels)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(parts["loss"]).backward()
    if classifier is not None:
        classifier.sync_grad()
    if optim.grad_clip > 0:
        scaler.unscale_(optimizer)
        sampled = [] if classifier is None else [classifier.sub]
        nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]] + sampled, optim.grad_clip)
    if classifier is not None:
        classifier.step(optimizer.param_groups[0])
    scaler.step(optimizer)
    scaler.update()
    optim.scheduler.step()
    return {key: float(value.detach()) for key, value in parts.items()}
