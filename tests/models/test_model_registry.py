"""Every registered model: forward, backward, shapes, no NaN; the ReidModel contract; bad params."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from soccerreid.config.models import ModelConfig
from soccerreid.errors import ConfigError
from soccerreid.models import ReidOutput, check_model_config, create_model, list_models, validate_input_size


def test_every_registered_model_has_a_tiny_config(tiny):
    assert sorted(tiny) == list_models()


@pytest.mark.parametrize("arch", list_models())
def test_forward_backward_shapes_and_no_nan(arch, tiny):
    cfg, height, width = tiny[arch]
    model = create_model(cfg, num_classes=5)
    x = torch.randn(4, 3, height, width)
    out = model.train()(x)
    assert isinstance(out, ReidOutput)
    assert out.logits.shape == (4, 5)
    assert out.features.shape == (4, model.embed_dim)
    (torch.nn.functional.cross_entropy(out.logits, torch.arange(4) % 5) + out.features.pow(2).mean()).backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None and torch.isfinite(p.grad).all() for p in trainable)
    embedding = model.eval()(x)
    assert embedding.shape == (4, model.embed_dim) and embedding.dtype == torch.float32
    assert torch.isfinite(embedding).all()


def test_dinov2_trains_only_lora_neck_and_classifier(tiny):
    cfg, _, _ = tiny["dinov2_lora"]
    model = create_model(cfg, num_classes=3)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert all("lora_" in n or n.startswith(("neck.", "classifier.")) for n in names)
    assert any(".qkv.lora_A" in n for n in names) and any(".fc1.lora_A" in n for n in names)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    assert frozen > 20 * sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_dinov2_accepts_every_phase_size(tiny):
    cfg, _, _ = tiny["dinov2_lora"]
    model = create_model(cfg, num_classes=0).eval()
    for height, width in [(56, 28), (112, 56), (70, 42)]:
        assert model(torch.randn(1, 3, height, width)).shape == (1, 384)


def test_bnneck_embedding_is_post_bn_and_features_pre_bn(tiny):
    cfg, height, width = tiny["osnet_ain"]
    model = create_model(cfg, num_classes=2)
    x = torch.randn(4, 3, height, width)
    model.eval()
    expected = model.neck(model.backbone(x))
    assert torch.equal(model(x), expected)
    assert not model.neck.bias.requires_grad
    plain = create_model(dataclasses.replace(cfg, neck="none"), num_classes=2).eval()
    assert torch.equal(plain(x), plain.backbone(x))


def test_reset_classifier_changes_the_identity_set(tiny):
    cfg, height, width = tiny["osnet_ain"]
    model = create_model(cfg, num_classes=3)
    model.reset_classifier(11)
    assert model.num_classes == 11
    assert model.train()(torch.randn(2, 3, height, width)).logits.shape == (2, 11)
    model.reset_classifier(0)
    with pytest.raises(RuntimeError, match="no classifier"):
        model(torch.randn(2, 3, height, width))


def test_unknown_model_is_one_line_config_error():
    with pytest.raises(ConfigError) as info:
        create_model(ModelConfig(arch="vit_huge"), num_classes=1)
    assert (
        str(info.value)
        == "arch: unknown model 'vit_huge' (registered: clip_vit, clip_vit_lora, dinov2_lora, osnet_ain, resnet50_ibn)"
    )


def test_unknown_variant_is_one_line_config_error():
    with pytest.raises(ConfigError) as info:
        create_model(ModelConfig(arch="osnet_ain", variant="x2_0"), num_classes=1)
    assert str(info.value) == "variant: expected one of ['x1_0', 'x0_75', 'x0_5', 'x0_25'] for osnet_ain, got 'x2_0'"
    with pytest.raises(ConfigError) as info:
        check_model_config(ModelConfig(arch="dinov2_lora", variant="giant"), key="params.yaml: models.vit")
    assert (
        str(info.value)
        == "params.yaml: models.vit.variant: expected one of ['small', 'base'] for dinov2_lora, got 'giant'"
    )
    check_model_config(ModelConfig(arch="resnet50_ibn"), key="models.r50")


def test_patch_incompatible_size_is_rejected():
    cfg = ModelConfig(arch="dinov2_lora", variant="small")
    validate_input_size(cfg, 112, 56, key="extract.dinov2_lora")
    with pytest.raises(ConfigError) as info:
        validate_input_size(cfg, 100, 50, key="extract.dinov2_lora")
    assert str(info.value) == (
        "extract.dinov2_lora: dinov2_lora needs height and width that are multiples of its patch size 14, "
        "got 100x50 (nearest: 98x56)"
    )
    validate_input_size(ModelConfig(arch="osnet_ain"), 100, 50)
