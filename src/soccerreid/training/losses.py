"""Re-identification losses: label-smoothed cross-entropy, batch-hard triplet, center loss.

:class:`ReidLoss` combines them as ``ce + triplet_weight * triplet + center_weight * center``.
The triplet and center terms act on the pre-BN features (BNNeck recipe), the cross-entropy on
the classifier logits. Under DDP the triplet term mines over the features of the whole global
batch (all ranks), so its value and gradients match a single-process run of that batch.

Examples::

    loss_fn = ReidLoss(num_classes=751, feat_dim=512, label_smoothing=0.1, margin=0.3)
    parts = loss_fn(logits, features, labels)     # {"loss", "ce", "triplet", "center"}
    parts["loss"].backward()
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from soccerreid.training.distributed import gather_with_grad


def batch_hard_triplet(features: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al.) with Euclidean distances.

    ``features`` (B, D) float, ``labels`` (B,) int64. For each anchor the farthest positive and
    the nearest negative are mined; anchors with no positive or no negative are skipped. Returns
    a scalar: the mean of ``relu(d_ap - d_an + margin)`` (``softplus`` when ``margin == 0``).

    Examples::

        loss = batch_hard_triplet(torch.randn(8, 16), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), 0.3)
    """
    dist = _pairwise_euclidean(features)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive = same & ~eye
    negative = ~same
    valid = positive.any(1) & negative.any(1)
    if not valid.any():
        return features.sum() * 0.0
    d_ap = dist.masked_fill(~positive, float("-inf")).amax(1)
    d_an = dist.masked_fill(~negative, float("inf")).amin(1)
    gap = (d_ap - d_an)[valid]
    per_anchor = F.softplus(gap) if margin == 0 else F.relu(gap + margin)
    return per_anchor.mean()


def _pairwise_euclidean(x: torch.Tensor) -> torch.Tensor:
    """(B, D) -> (B, B) Euclidean distances, with a stable gradient at zero distance."""
    x = x.float()
    sq = (x * x).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * x @ x.t()).clamp_min(1e-12)
    return d2.sqrt()


class CenterLoss(nn.Module):
    """Center loss (Wen et al.): mean squared distance of each feature to its class center.

    Centers (C, D) are learnable parameters optimised with the rest of the model.
    """

    def __init__(self, num_classes: int, feat_dim: int) -> None:
        super().__init__()
        self.centers = nn.Parameter(torch.randn(num_classes, feat_dim) * 0.01)

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``features`` (B, D), ``labels`` (B,) -> scalar mean of ``||f - c_y||^2 / 2``."""
        diff = features.float() - self.centers[labels]
        return 0.5 * (diff * diff).sum(1).mean()


class ReidLoss(nn.Module):
    """CE (label smoothing) + weighted batch-hard triplet + optional weighted center loss."""

    def __init__(
        self,
        num_classes: int,
        feat_dim: int,
        *,
        label_smoothing: float = 0.1,
        margin: float = 0.3,
        triplet_weight: float = 1.0,
        center_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing
        self.margin = margin
        self.triplet_weight = triplet_weight
        self.center_weight = center_weight
        self.center = CenterLoss(num_classes, feat_dim) if center_weight > 0 else None

    def forward(self, logits: torch.Tensor, features: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """``logits`` (B, C), ``features`` (B, D) pre-BN, ``labels`` (B,) -> dict of scalar losses."""
        ce = F.cross_entropy(logits.float(), labels, label_smoothing=self.label_smoothing)
        zero = ce.new_zeros(())
        triplet = zero
        if self.triplet_weight > 0:
            triplet = batch_hard_triplet(gather_with_grad(features), gather_with_grad(labels), self.margin)
        center = self.center(features, labels) if self.center is not None else zero
        total = ce + self.triplet_weight * triplet + self.center_weight * center
        return {"loss": total, "ce": ce.detach(), "triplet": triplet.detach(), "center": center.detach()}
