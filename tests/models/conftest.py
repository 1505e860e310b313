"""Tiny CPU configurations of every registered model."""

from __future__ import annotations

import pytest
import torch

from soccerreid.config.models import LoraConfig, ModelConfig

# arch -> (config, input height, input width): the smallest variant of each, at a tiny size
TINY = {
    "osnet_ain": (ModelConfig(arch="osnet_ain", variant="x0_25"), 64, 32),
    "resnet50_ibn": (ModelConfig(arch="resnet50_ibn", variant="a"), 64, 32),
    "dinov2_lora": (
        ModelConfig(arch="dinov2_lora", variant="small", lora=LoraConfig(r=4, targets=("qkv", "mlp"))),
        56,
        28,
    ),
    "clip_vit": (ModelConfig(arch="clip_vit", variant="b16"), 32, 16),
    "clip_vit_lora": (ModelConfig(arch="clip_vit_lora", variant="b16", lora=LoraConfig(r=2, targets=("qkv",))), 48, 32),
}


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture()
def tiny() -> dict[str, tuple[ModelConfig, int, int]]:
    """arch -> (config, input height, input width) for every registered model."""
    return TINY
