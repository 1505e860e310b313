"""Re-identification losses: label-smoothed CE, batch-hard triplet, centroid triplet, InfoNCE, center loss.

:class:`ReidLoss` combines them as ``ce_weight * ce + triplet_weight * triplet + centroid_weight *
centroid + contrastive_weight * contrastive + center_weight * center``. The metric terms act on
the pre-BN features (BNNeck recipe), the cross-entropy on the classifier logits. Under DDP the
triplet, centroid and contrastive terms see the features of the whole global batch (all ranks),
so their values and gradients match a single-process run of that batch.

Examples::

    loss_fn = ReidLoss(num_classes=751, feat_dim=512, label_smoothing=0.1, margin=0.3, centroid_weight=1.0)
    parts = loss_fn(logits, features, labels)     # {"loss", "ce", "triplet", "centroid", "contrastive", "center"}
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


def centroid_triplet(features: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """sportsreid's centroid triplet loss (``torchreid/losses/hard_mine_triplet_loss.py``).

    For each anchor the targets are centroids of the batch: its identity's centroid (the mean of
    the identity's features, the anchor included) is the positive, the mean of every feature of
    the other identities the negative. ``features`` (B, D) float, ``labels`` (B,) int64. Returns
    the mean over anchors of ``relu(||f - c_pos|| - ||f - c_neg|| + margin)`` (Euclidean);
    a batch of one identity gives 0.

    Examples::

        loss = centroid_triplet(torch.randn(8, 16), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), 0.5)
    """
    x = features.float()
    onehot = (labels[:, None] == labels.unique()[None, :]).to(x.dtype)  # (B, C)
    sums, counts = onehot.t() @ x, onehot.sum(0)  # (C, D), (C,)
    own_sum, own_count = onehot @ sums, onehot @ counts  # (B, D), (B,)
    other_count = len(labels) - own_count
    valid = other_count > 0
    if not valid.any():
        return features.sum() * 0.0
    positive = own_sum / own_count[:, None]
    negative = (sums.sum(0)[None, :] - own_sum)[valid] / other_count[valid, None]
    d_pos = _distance(x, positive)[valid]
    d_neg = _distance(x[valid], negative)
    return F.relu(d_pos - d_neg + margin).mean()


def _distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Euclidean distance of (B, D) ``a`` and ``b``, with a finite gradient at 0."""
    return ((a - b) ** 2).sum(1).clamp_min(1e-12).sqrt()


def info_nce(
    features: torch.Tensor, labels: torch.Tensor, temperature: float, label_smoothing: float = 0.0
) -> torch.Tensor:
    """In-batch contrastive InfoNCE over identities, as MIG's ``myHybridMemory`` (``loss/hm.py``).

    Features are L2-normalised; anchor i's logit for identity p is the mean over p's samples j of
    ``cos(f_i, f_j) / temperature`` (i itself included, as in MIG), and the loss is the
    cross-entropy of those (B, P) logits against i's own identity, with ``label_smoothing``
    (CLIP-ReIdent smooths its InfoNCE by 0.1). ``features`` (B, D), ``labels`` (B,) int64.

    Examples::

        loss = info_nce(torch.randn(8, 16), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), temperature=0.15)
    """
    x = F.normalize(features.float(), dim=1)
    identities, target = labels.unique(return_inverse=True)
    onehot = (target[:, None] == torch.arange(len(identities), device=labels.device)[None, :]).to(x.dtype)
    logits = (x @ x.t() / temperature) @ (onehot / onehot.sum(0))  # (B, P) mean logit per identity
    return F.cross_entropy(logits, target, label_smoothing=label_smoothing)


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
    """Weighted CE (label smoothing), batch-hard triplet, centroid triplet, InfoNCE and center loss.

    Weights of 0 skip a term (its value is reported as 0); the center loss exists only when
    ``center_weight`` > 0 (its centers are parameters).
    """

    def __init__(
        self,
        num_classes: int,
        feat_dim: int,
        *,
        label_smoothing: float = 0.1,
        margin: float = 0.3,
        ce_weight: float = 1.0,
        triplet_weight: float = 1.0,
        centroid_weight: float = 0.0,
        contrastive_weight: float = 0.0,
        temperature: float = 0.15,
        contrastive_smoothing: float = 0.0,
        center_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.label_smoothing, self.margin = label_smoothing, margin
        self.temperature, self.contrastive_smoothing = temperature, contrastive_smoothing
        self.weights = {
            "ce": ce_weight,
            "triplet": triplet_weight,
            "centroid": centroid_weight,
            "contrastive": contrastive_weight,
            "center": center_weight,
        }
        self.center = CenterLoss(num_classes, feat_dim) if center_weight > 0 else None

    def forward(
        self, logits: torch.Tensor, features: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """``logits`` (B, C), ``features`` (B, D) pre-BN, ``labels`` (B,) -> dict of scalar losses.

        ``targets`` (B,): the CE's class of each image among the logits' columns when they are a
        sample of the classes (Partial FC), ``labels`` otherwise."""
        zero = logits.float().sum() * 0.0
        terms = dict.fromkeys(self.weights, zero)
        if self.weights["ce"] > 0:
            target = labels if targets is None else targets
            terms["ce"] = F.cross_entropy(logits.float(), target, label_smoothing=self.label_smoothing)
        if self.weights["triplet"] or self.weights["centroid"] or self.weights["contrastive"]:
            every, every_label = gather_with_grad(features), gather_with_grad(labels)
            if self.weights["triplet"] > 0:
                terms["triplet"] = batch_hard_triplet(every, every_label, self.margin)
            if self.weights["centroid"] > 0:
                terms["centroid"] = centroid_triplet(every, every_label, self.margin)
            if self.weights["contrastive"] > 0:
                terms["contrastive"] = info_nce(every, every_label, self.temperature, self.contrastive_smoothing)
        if self.center is not None:
            terms["center"] = self.center(features, labels)
        total = sum(self.weights[name] * value for name, value in terms.items())
        return {"loss": total, **{name: value.detach() for name, value in terms.items()}}
