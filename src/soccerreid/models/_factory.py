"""Building models by name: a registry backbone, pretrained weights and the BoT head."""

from __future__ import annotations

import dataclasses

from soccerreid.config.models import ModelConfig
from soccerreid.models._registry import get_spec, resolve_variant
from soccerreid.models._reid import ReidModel


def create_model(cfg: ModelConfig, num_classes: int) -> ReidModel:
    """Build ``cfg.arch`` (size ``cfg.variant``) with ``cfg.pretrained`` weights and a ``cfg.neck`` head.

    Returns a :class:`ReidModel` in train mode on CPU; ``num_classes`` 0 means no classifier.

    Examples::

        cfg = ModelConfig(arch="osnet_ain", variant="x0_25")
        model = create_model(cfg, num_classes=100)
        model.embed_dim                     # 512
    """
    spec = get_spec(cfg.arch)
    variant = resolve_variant(cfg)
    backbone = spec.build(dataclasses.replace(cfg, variant=variant))
    return ReidModel(backbone.module, backbone.dim, num_classes, cfg.neck, cfg.arch, variant)
