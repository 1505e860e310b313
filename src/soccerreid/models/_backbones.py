"""The three registered backbones, built by their own libraries (torchreid, timm + peft).

Libraries are imported inside the builders: torchreid takes seconds to import, and a stage that
builds one model should not pay for the others.
"""

from __future__ import annotations

import warnings

from torch import nn

from soccerreid.config.models import ModelConfig
from soccerreid.models._registry import Backbone, register_model
from soccerreid.models._weights import fetch_pretrained, load_matching, read_state_dict, require_hub

DINOV2_PATCH = 14


@register_model("osnet_ain", variants=("x1_0", "x0_75", "x0_5", "x0_25"))
def build_osnet_ain(cfg: ModelConfig) -> Backbone:
    """torchreid ``osnet_ain_<variant>``: 512-d features (every width) after its fc + BN + ReLU."""
    name = f"osnet_ain_{cfg.variant}"
    net = _build_torchreid(name)
    if cfg.pretrained == "imagenet":
        from torchreid.reid.models import osnet_ain

        fetch_pretrained(lambda: osnet_ain.init_pretrained_weights(net, key=name), name, "drive.google.com")
    return _finish_torchreid(net, cfg.pretrained)


@register_model("resnet50_ibn", variants=("a",))
def build_resnet50_ibn(cfg: ModelConfig) -> Backbone:
    """torchreid ``resnet50_ibn_a``: 2048-d pooled features (its imagenet init is torchvision's ResNet-50)."""
    net = _build_torchreid("resnet50_ibn_a")
    if cfg.pretrained == "imagenet":
        from torchreid.reid.models import resnet_ibn_a

        url = resnet_ibn_a.model_urls["resnet50"]
        fetch_pretrained(lambda: resnet_ibn_a.init_pretrained_weights(net, url), "resnet50_ibn_a", "download.pytorch.org")
    return _finish_torchreid(net, cfg.pretrained)


def _build_torchreid(name: str) -> nn.Module:
    """A randomly initialised torchreid model whose classifier is removed (it returns features)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Cython evaluation")
        from torchreid.reid.models import build_model

    net = build_model(name, num_classes=1, loss="softmax", pretrained=False)
    net.classifier = nn.Identity()
    return net


def _finish_torchreid(net: nn.Module, pretrained: str) -> Backbone:
    if pretrained not in ("none", "imagenet"):
        load_matching(net, read_state_dict(pretrained), source=pretrained)
    return Backbone(module=net, dim=net.feature_dim)


@register_model("dinov2_lora", variants=("small", "base"), patch=DINOV2_PATCH)
def build_dinov2_lora(cfg: ModelConfig) -> Backbone:
    """timm ``vit_<variant>_patch14_dinov2`` (CLS token, any multiple-of-14 size) with peft LoRA.

    Only the LoRA adapters train: on ``qkv``, plus ``fc1``/``fc2`` of every MLP when
    ``cfg.lora.targets`` has ``mlp``.
    """
    vit = _build_vit(cfg)
    return Backbone(module=_add_lora(vit, cfg), dim=vit.num_features)


def _build_vit(cfg: ModelConfig) -> nn.Module:
    import timm

    name = f"vit_{cfg.variant}_patch14_dinov2"
    kwargs = {"num_classes": 0, "dynamic_img_size": True}
    if cfg.pretrained == "imagenet":
        require_hub(name)
        return fetch_pretrained(lambda: timm.create_model(name, pretrained=True, **kwargs), name, "huggingface.co")
    vit = timm.create_model(name, pretrained=False, **kwargs)
    if cfg.pretrained != "none":
        _load_vit_file(vit, cfg.pretrained)
    return vit


def _load_vit_file(vit: nn.Module, path: str) -> None:
    """Load timm- or Meta-format DINOv2 weights, resampling the position embedding to the model's grid."""
    from timm.models.vision_transformer import checkpoint_filter_fn

    state = checkpoint_filter_fn(read_state_dict(path), vit)
    load_matching(vit, state, source=path)


def _add_lora(vit: nn.Module, cfg: ModelConfig) -> nn.Module:
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    targets = ["qkv"] if "qkv" in cfg.lora.targets else []
    targets += ["fc1", "fc2"] if "mlp" in cfg.lora.targets else []
    lora = PeftLoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout, target_modules=targets)
    return get_peft_model(vit, lora)
