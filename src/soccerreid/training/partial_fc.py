"""Partial FC (An et al., CVPR 2022): the identity classifier trained on a sample of its classes.

A full softmax costs O(C x D) per step (the logits' matmul, its gradient, the optimiser's update
and gradient clipping over the (C, D) weight), and C grows with the data: SoccerNet has one
class per (action, person), about 69,000 at full scale. So training cost grows faster than its
images. :class:`PartialClassifier` scores each step's images against ``classes`` rows only: the
classes of the batch on every rank, plus others drawn uniformly at random (the same rows on
every rank). Only those rows of the weight and of their optimiser moments are read and written,
so a step costs O(classes x D + C), whatever C.

A sampled row's update is exactly the phase optimiser's rule (AdamW, or SGD with Nesterov
momentum, with its lr, weight decay and betas) applied to the gradients of the steps it was
sampled in; its Adam bias correction counts its own steps. An unsampled row is left as is, weight
decay included, as Partial FC does. The draw is a pure function of (seed, step), so a resumed run
draws what an uninterrupted one would.

Examples::

    classifier = PartialClassifier(model.classifier.weight.requires_grad_(False), classes=8192, seed=7)
    logits, targets = classifier.logits(embedding, labels)   # (B, 8192), (B,)
    F.cross_entropy(logits, targets).backward()
    classifier.sync_grad()
    classifier.step(optimizer.param_groups[0])               # lr, weight decay, betas of the phase
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from soccerreid.training.distributed import gather_with_grad, is_distributed
from soccerreid.training.sampler import derive_seed


def sample_rows(labels: torch.Tensor, num_classes: int, classes: int, generator: torch.Generator) -> torch.Tensor:
    """Sorted distinct class rows (K,): every class of ``labels`` (N,) plus random others, K =
    max(``classes``, the distinct labels), at most ``num_classes``."""
    if classes >= num_classes:
        return torch.arange(num_classes, device=labels.device)
    positives = torch.unique(labels.cpu())
    taken = torch.zeros(num_classes, dtype=torch.bool)
    taken[positives] = True
    order = torch.randperm(num_classes, generator=generator)
    negatives = order[~taken[order]][: max(classes - len(positives), 0)]
    return torch.sort(torch.cat([positives, negatives])).values.to(labels.device)


class PartialClassifier:
    """Sampled-softmax training of a bias-free classifier ``weight`` (C, D), updated in place.

    ``weight`` must not require grad (the phase optimiser and DDP leave it alone); this object
    holds its optimiser moments (C, D) and per-row step counts (C,). It is not an ``nn.Module``,
    so DDP neither broadcasts nor all-reduces its (C, D) state: :meth:`sync_grad` averages the
    (K, D) gradient of the sampled rows over the ranks instead.
    """

    def __init__(self, weight: torch.Tensor, classes: int, seed: int, optimizer: str = "adamw") -> None:
        if weight.requires_grad:
            raise ValueError("weight: expected a tensor that does not require grad (PartialClassifier updates it)")
        if optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer: expected 'adamw' or 'sgd', got {optimizer!r}")
        self.weight, self.classes, self.seed, self.optimizer = weight, classes, seed, optimizer
        self.moments = [torch.zeros_like(weight) for _ in range(2 if optimizer == "adamw" else 1)]
        self.row_steps = torch.zeros(weight.shape[0], dtype=torch.long, device=weight.device)
        self.steps = 0
        self.rows: torch.Tensor | None = None
        self.sub: torch.Tensor | None = None

    def logits(self, embedding: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``embedding`` (B, D), ``labels`` (B,) -> logits (B, K) over this step's rows and the
        targets (B,): each label's position among the rows."""
        generator = torch.Generator().manual_seed(derive_seed(self.seed, self.steps))
        self.rows = sample_rows(gather_with_grad(labels), self.weight.shape[0], self.classes, generator)
        self.sub = self.weight[self.rows].detach().requires_grad_()
        return F.linear(embedding, self.sub.to(embedding.dtype)), torch.searchsorted(self.rows, labels)

    def sync_grad(self) -> None:
        """Average the sampled rows' gradient (K, D) over the ranks, as DDP does for parameters."""
        if is_distributed():
            dist.all_reduce(self.sub.grad)
            self.sub.grad /= dist.get_world_size()

    @torch.no_grad()
    def step(self, group: dict) -> None:
        """Update the sampled rows with ``group``'s hyperparameters (an optimiser param group:
        ``lr``, ``weight_decay`` and ``betas``/``eps`` for AdamW, ``momentum`` for SGD)."""
        rows, grad, w = self.rows, self.sub.grad.float(), self.sub.detach().float()
        self.row_steps[rows] += 1
        moments = [m[rows] for m in self.moments]
        if self.optimizer == "adamw":
            w = _adamw(w, grad, *moments, self.row_steps[rows], group)
        else:
            w = _nesterov(w, grad, *moments, group)
        self.weight[rows] = w.to(self.weight.dtype)
        for full, rows_moment in zip(self.moments, moments):
            full[rows] = rows_moment
        self.steps += 1
        self.rows = self.sub = None

    def state_dict(self) -> dict:
        """Moments, per-row step counts and the step counter (the weight is the model's)."""
        return {"moments": [m.clone() for m in self.moments], "row_steps": self.row_steps.clone(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        for mine, saved in zip(self.moments, state["moments"]):
            mine.copy_(saved)
        self.row_steps.copy_(state["row_steps"])
        self.steps = int(state["steps"])


def _adamw(w, grad, exp_avg, exp_avg_sq, steps, group) -> torch.Tensor:
    """torch's AdamW update of rows ``w`` (K, D); ``steps`` (K,) each row's count, this step included."""
    beta1, beta2 = group["betas"]
    w.mul_(1 - group["lr"] * group["weight_decay"])
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    t = steps.to(w.dtype)[:, None]
    step_size = group["lr"] / (1 - beta1**t)
    denom = (exp_avg_sq.sqrt() / (1 - beta2**t).sqrt()).add_(group["eps"])
    return w.sub_(step_size * exp_avg / denom)


def _nesterov(w, grad, buffer, group) -> torch.Tensor:
    """torch's SGD update with Nesterov momentum (no dampening) of rows ``w`` (K, D)."""
    grad = grad.add(w, alpha=group["weight_decay"])
    buffer.mul_(group["momentum"]).add_(grad)
    return w.sub_(grad.add(buffer, alpha=group["momentum"]), alpha=group["lr"])
