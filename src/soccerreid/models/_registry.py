"""The model registry: one entry per ``arch``, timm-style.

A registered builder takes a :class:`ModelConfig` (variant already resolved) and returns a
:class:`Backbone`: a module mapping images (B, 3, H, W) float32 to features (B, D) float32,
with pretrained weights already loaded as ``cfg.pretrained`` asks.

Examples::

    @register_model("osnet_ain", variants=("x1_0", "x0_25"))
    def build_osnet_ain(cfg):
        return Backbone(module=..., dim=512)

    list_models()       # ['clip_vit', 'clip_vit_lora', 'dinov2_lora', 'osnet_ain', 'resnet50_ibn']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from soccerreid.config.models import ModelConfig
from soccerreid.errors import ConfigError


@dataclass(frozen=True)
class Backbone:
    """A feature network: ``module(x)`` maps (B, 3, H, W) float32 to (B, ``dim``) float32."""

    module: nn.Module
    dim: int


@dataclass(frozen=True)
class ModelSpec:
    """The input contract of one arch: its variants (first is the default) and patch size (one
    for every variant, or ``{variant: patch}``)."""

    name: str
    variants: tuple[str, ...]
    patch: int | dict[str, int]
    build: Callable[[ModelConfig], Backbone]

    def patch_of(self, variant: str) -> int:
        """The patch size of ``variant`` (1: any input size)."""
        return self.patch[variant] if isinstance(self.patch, dict) else self.patch


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, variants: tuple[str, ...], patch: int | dict[str, int] = 1) -> Callable:
    """Decorator registering ``build(cfg) -> Backbone`` as arch ``name``.

    ``patch`` > 1 means input height and width must be multiples of it (ViTs); a mapping gives
    each variant its own.
    """

    def decorate(build: Callable[[ModelConfig], Backbone]) -> Callable[[ModelConfig], Backbone]:
        _REGISTRY[name] = ModelSpec(name=name, variants=variants, patch=patch, build=build)
        return build

    return decorate


def list_models() -> list[str]:
    """Sorted names of every registered arch."""
    return sorted(_REGISTRY)


def get_spec(arch: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``arch``; an unknown name is a one-line :class:`ConfigError`."""
    if arch not in _REGISTRY:
        raise ConfigError(f"arch: unknown model {arch!r} (registered: {', '.join(list_models())})")
    return _REGISTRY[arch]


def resolve_variant(cfg: ModelConfig) -> str:
    """``cfg.variant``, or the arch's default when empty; an unknown variant is a :class:`ConfigError`."""
    spec = get_spec(cfg.arch)
    variant = cfg.variant or spec.variants[0]
    if variant not in spec.variants:
        raise ConfigError(f"variant: expected one of {list(spec.variants)} for {cfg.arch}, got {variant!r}")
    return variant


def check_model_config(cfg: ModelConfig, key: str) -> None:
    """Check ``cfg.arch`` and ``cfg.variant`` against the registry; a :class:`ConfigError` names ``key``.

    Examples::

        check_model_config(params.models["osnet_ain"], key="params.yaml: models.osnet_ain")
    """
    try:
        resolve_variant(cfg)
    except ConfigError as err:
        raise ConfigError(f"{key}.{err}") from None


def validate_input_size(cfg: ModelConfig, height: int, width: int, key: str = "input size") -> None:
    """Raise a one-line :class:`ConfigError` naming ``key`` if ``cfg.arch`` cannot take (height, width).

    ViTs (DINOv2 and CLIP ViT-L/14: patch 14; CLIP ViT-B/16: 16) need both sides to be multiples
    of the patch: timm would otherwise silently crop the border. We reject rather than pad, so every pixel of a crop
    is seen.

    Examples::

        validate_input_size(cfg, 112, 56, key="extract.dinov2_lora")     # ok: 8 x 4 patches
        validate_input_size(cfg, 100, 50, key="extract.dinov2_lora")     # ConfigError
    """
    patch = get_spec(cfg.arch).patch_of(resolve_variant(cfg))
    if height % patch or width % patch:
        raise ConfigError(
            f"{key}: {cfg.arch} needs height and width that are multiples of its patch size {patch}, "
            f"got {height}x{width} (nearest: {_nearest(height, patch)}x{_nearest(width, patch)})"
        )


def _nearest(size: int, patch: int) -> int:
    return max(patch, round(size / patch) * patch)
