"""ReidModel: a registry backbone plus the BoT head (optional BNNeck, bias-free classifier)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class ReidOutput(NamedTuple):
    """Train-mode output: ``logits`` (B, num_classes) and ``features`` (B, embed_dim), pre-BNNeck."""

    logits: torch.Tensor
    features: torch.Tensor


class ReidModel(nn.Module):
    """Re-identification network with one interface for every arch.

    - eval mode: ``forward(x)`` with x (B, 3, H, W) float32 returns the embedding (B, embed_dim)
      float32, taken after the BNNeck batch norm when ``neck == "bnneck"`` (as in BoT);
    - train mode: returns :class:`ReidOutput`; the classifier sees the post-neck feature, the
      triplet loss should use ``features`` (pre-neck).

    ``num_classes == 0`` builds an embedder without classifier (for extraction).

    Examples::

        model = create_model(cfg, num_classes=751)
        out = model.train()(images)             # out.logits (B, 751), out.features (B, 512)
        emb = model.eval()(images)              # (B, 512) float32
        model.reset_classifier(1200)            # a new identity set (progressive data)
    """

    def __init__(self, backbone: nn.Module, embed_dim: int, num_classes: int, neck: str, arch: str, variant: str):
        super().__init__()
        self.backbone = backbone
        self.embed_dim = embed_dim
        self.arch = arch
        self.variant = variant
        self.neck = _make_neck(neck, embed_dim)
        self.classifier: nn.Linear | None = None
        self.reset_classifier(num_classes)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a fresh bias-free (embed_dim -> num_classes) layer, std 0.001."""
        if num_classes < 0:
            raise ValueError(f"num_classes: expected >= 0, got {num_classes}")
        if num_classes == 0:
            self.classifier = None
            return
        device = next(self.backbone.parameters()).device
        self.classifier = nn.Linear(self.embed_dim, num_classes, bias=False, device=device)
        nn.init.normal_(self.classifier.weight, std=0.001)

    @property
    def num_classes(self) -> int:
        """Number of identities of the classifier (0 without one)."""
        return 0 if self.classifier is None else self.classifier.out_features

    def features_and_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> the backbone's features (B, D) and the neck's embedding (B, D)."""
        features = self.backbone(x)
        return features, self.neck(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor | ReidOutput:
        """(B, 3, H, W) -> embedding (B, D) float32 in eval mode, :class:`ReidOutput` in train mode."""
        features, embedding = self.features_and_embedding(x)
        if not self.training:
            return embedding.float()
        if self.classifier is None:
            raise RuntimeError("ReidModel has no classifier (num_classes=0): call reset_classifier(n) to train it")
        return ReidOutput(logits=self.classifier(embedding), features=features)


def _make_neck(neck: str, dim: int) -> nn.Module:
    """BNNeck (BatchNorm1d with a frozen zero bias, as in BoT) or identity."""
    if neck == "none":
        return nn.Identity()
    if neck != "bnneck":
        raise ValueError(f"neck: expected 'bnneck' or 'none', got {neck!r}")
    bn = nn.BatchNorm1d(dim)
    bn.bias.requires_grad_(False)
    return bn
