"""The three registered backbones, built by their own libraries (torchreid, timm + peft).

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
    vit = _build_vit(cfg)
    return Backbone(module=_add_lora(vit, cfg), dim=vit.num_features)


def _build_vit(cfg: ModelConfig) -> nn.Module:
    """timm's ViT at its pretrained grid (518 px, resampled on the fly), weights as ``cfg.pretrained`` asks.

    ``imagenet`` is the LVD-142M checkpoint of the model's timm pretrained config, through timm's
    own hub loader; timm- and Meta-format files go through timm's ``checkpoint_filter_fn``.
    """
    import timm
    from timm.models.vision_transformer import checkpoint_filter_fn

    name = f"vit_{cfg.variant}_patch14_dinov2"
    vit = timm.create_model(name, pretrained=False, num_classes=0, dynamic_img_size=True)
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
    lora = PeftLoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout, target_modules=targets)
    return get_peft_model(vit, lora)
