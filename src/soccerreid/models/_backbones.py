"""The registered backbones, built by their own libraries (torchreid, timm + peft).

Libraries are imported inside the builders: torchreid takes seconds to import, and a stage that
builds one model should not pay for the others.
"""

from __future__ import annotations

import warnings

from torch import nn

from soccerreid.config.models import ModelConfig
from soccerreid.models._registry import Backbone, register_model
from soccerreid.models._weights import (
    fetch_timm_hub,
    fetch_torchreid_imagenet,
    fetch_url_state,
    load_pretrained,
    read_state_dict,
)

DINOV2_PATCH = 14
IBN_A_URL = "https://github.com/XingangPan/IBN-Net/releases/download/v1.0/resnet50_ibn_a-d9d0bb7b.pth"
# OpenAI's CLIP image towers in timm (QuickGELU, as OpenAI trained them); the hub file of each
# is timm/vit_base_patch16_clip_224.openai and timm/vit_large_patch14_clip_224.openai
CLIP_MODELS = {
    "b16": "vit_base_patch16_clip_quickgelu_224.openai",
    "l14": "vit_large_patch14_clip_quickgelu_224.openai",
}
CLIP_PATCH = {"b16": 16, "l14": 14}


@register_model("osnet_ain", variants=("x1_0", "x0_75", "x0_5", "x0_25"))
def build_osnet_ain(cfg: ModelConfig) -> Backbone:
    """torchreid ``osnet_ain_<variant>``: 512-d features (every width) after its fc + BN + ReLU.

    ``pretrained: imagenet`` is torchreid's ImageNet file, from torchreid's URL and cache folder.
    """
    name = f"osnet_ain_{cfg.variant}"
    net = _build_torchreid(name)
    if cfg.pretrained == "imagenet":
        from torchreid.reid.models import osnet_ain

        _load(net, *fetch_torchreid_imagenet(name, osnet_ain.pretrained_urls[name]), cfg)
    return _finish_torchreid(net, cfg)


@register_model("resnet50_ibn", variants=("a",))
def build_resnet50_ibn(cfg: ModelConfig) -> Backbone:
    """torchreid ``resnet50_ibn_a`` with layer 4 at stride ``cfg.last_stride``: 2048-d pooled features.

    ``pretrained: imagenet`` is IBN-Net's own ImageNet checkpoint (module names are torchreid's,
    its ``fc`` head is dropped), not torchreid's default of torchvision's ResNet-50, which has no
    IBN layers. Stride 1 (as in BoT) doubles layer 4's feature map; the weights are the same.
    """
    net = _build_torchreid("resnet50_ibn_a")
    set_last_stride(net, cfg.last_stride)
    if cfg.pretrained == "imagenet":
        _load(net, *fetch_url_state(IBN_A_URL, "resnet50_ibn_a"), cfg)
    return _finish_torchreid(net, cfg)


def set_last_stride(net: nn.Module, stride: int) -> None:
    """Set the stride of ResNet layer 4 (its first block's 3x3 conv and shortcut conv)."""
    block = net.layer4[0]
    block.conv2.stride = (stride, stride)
    block.downsample[0].stride = (stride, stride)


def _build_torchreid(name: str) -> nn.Module:
    """A randomly initialised torchreid model whose classifier is removed (it returns features)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Cython evaluation")
        from torchreid.reid.models import build_model

    net = build_model(name, num_classes=1, loss="softmax", pretrained=False)
    net.classifier = nn.Identity()
    return net


def _finish_torchreid(net: nn.Module, cfg: ModelConfig) -> Backbone:
    if cfg.pretrained not in ("none", "imagenet"):
        _load(net, read_state_dict(cfg.pretrained), cfg.pretrained, cfg)
    return Backbone(module=net, dim=net.feature_dim)


def _load(net: nn.Module, state: dict, source: str, cfg: ModelConfig) -> None:
    load_pretrained(net, state, source, allow_random_init=cfg.allow_random_init)


@register_model("dinov2_lora", variants=("small", "base"), patch=DINOV2_PATCH)
def build_dinov2_lora(cfg: ModelConfig) -> Backbone:
    """timm ``vit_<variant>_patch14_dinov2`` (CLS token, any multiple-of-14 size) with peft LoRA.

    Only the LoRA adapters train: on ``qkv``, plus ``fc1``/``fc2`` of every MLP when
    ``cfg.lora.targets`` has ``mlp``.
    """
    vit = _build_vit(f"vit_{cfg.variant}_patch14_dinov2", cfg, num_classes=0)
    return Backbone(module=_add_lora(vit, cfg), dim=vit.num_features)


@register_model("clip_vit", variants=("b16", "l14"), patch=CLIP_PATCH)
def build_clip_vit(cfg: ModelConfig) -> Backbone:
    """timm's OpenAI CLIP image tower, ViT-B/16 or ViT-L/14, fully fine-tuned (``train.layer_decay``
    for layer-wise lr decay): the CLIP image embedding (512-d / 768-d, after CLIP's projection).

    Any size whose sides are multiples of the patch (256x128 on B/16, 252x126 on L/14): timm's
    dynamic image size resamples the 224x224 position embedding on the fly. ``pretrained:
    imagenet`` is OpenAI's CLIP weights, from timm's hub repo.
    """
    vit = _build_vit(CLIP_MODELS[cfg.variant], cfg, num_classes=_clip_dim(cfg.variant))
    return Backbone(module=vit, dim=vit.num_classes)


@register_model("clip_vit_lora", variants=("b16", "l14"), patch=CLIP_PATCH)
def build_clip_vit_lora(cfg: ModelConfig) -> Backbone:
    """The ``clip_vit`` tower with frozen weights and peft LoRA adapters, as ``dinov2_lora``."""
    vit = _build_vit(CLIP_MODELS[cfg.variant], cfg, num_classes=_clip_dim(cfg.variant))
    return Backbone(module=_add_lora(vit, cfg), dim=vit.num_classes)


def _clip_dim(variant: str) -> int:
    """CLIP's embedding size (the out features of its image projection) of ``variant``."""
    import timm

    return timm.models.get_pretrained_cfg(CLIP_MODELS[variant]).num_classes


def _build_vit(name: str, cfg: ModelConfig, num_classes: int) -> nn.Module:
    """timm ViT ``name`` at its pretrained grid (resampled on the fly), weights as ``cfg.pretrained`` asks.

    ``imagenet`` is the checkpoint of the model's timm pretrained config (DINOv2's LVD-142M,
    OpenAI's CLIP), through timm's own hub loader; timm-, Meta- (DINOv2) and OpenCLIP-format
    (CLIP) files go through timm's ``checkpoint_filter_fn``.
    """
    import timm
    from timm.models.vision_transformer import checkpoint_filter_fn

    vit = timm.create_model(name, pretrained=False, num_classes=num_classes, dynamic_img_size=True)
    if cfg.pretrained == "none":
        return vit
    if cfg.pretrained == "imagenet":
        state, source = fetch_timm_hub(vit.pretrained_cfg["hf_hub_id"], name)
    else:
        state, source = read_state_dict(cfg.pretrained), cfg.pretrained
    load_pretrained(vit, checkpoint_filter_fn(state, vit), source, allow_random_init=cfg.allow_random_init)
    return vit


def _add_lora(vit: nn.Module, cfg: ModelConfig) -> nn.Module:
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    targets = ["qkv"] if "qkv" in cfg.lora.targets else []
    targets += ["fc1", "fc2"] if "mlp" in cfg.lora.targets else []
    lora = PeftLoraConfig(
        r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout, target_modules=targets
    )
    return get_peft_model(vit, lora)
