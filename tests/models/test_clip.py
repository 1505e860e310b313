"""The CLIP ViT family: sizes per patch, the CLIP embedding, LoRA, and OpenAI's weights from a local
OpenCLIP file, from a seeded Hugging Face cache offline, and failing fast with no cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import timm
import torch

from soccerreid.config.models import ModelConfig
from soccerreid.errors import ConfigError
from soccerreid.models import create_model, validate_input_size
from soccerreid.models._backbones import CLIP_MODELS

B16 = CLIP_MODELS["b16"]


def test_each_variant_has_its_own_patch_and_non_square_sizes_work():
    validate_input_size(ModelConfig(arch="clip_vit", variant="b16"), 256, 128)
    validate_input_size(ModelConfig(arch="clip_vit_lora", variant="l14"), 252, 126)
    with pytest.raises(ConfigError) as info:
        validate_input_size(ModelConfig(arch="clip_vit", variant="b16"), 252, 126, key="extract.clip_vit")
    assert str(info.value) == (
        "extract.clip_vit: clip_vit needs height and width that are multiples of its patch size 16, "
        "got 252x126 (nearest: 256x128)"
    )
    model = create_model(ModelConfig(arch="clip_vit", variant="b16"), num_classes=0).eval()
    for height, width in [(64, 32), (32, 48)]:
        assert model(torch.randn(2, 3, height, width)).shape == (2, 512), "the CLIP embedding, after its projection"


def test_clip_lora_trains_only_adapters_neck_and_classifier(tiny):
    cfg, _, _ = tiny["clip_vit_lora"]
    model = create_model(cfg, num_classes=3)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or n.startswith(("neck.", "classifier.")) for n in names)
    full = create_model(ModelConfig(arch="clip_vit", variant="b16"), num_classes=3)
    assert all(p.requires_grad for p in full.parameters() if p is not full.neck.bias)


def _openclip_state(vit: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A timm CLIP tower's weights under OpenCLIP's names (``open_clip_pytorch_model.bin``), plus a text tower key."""
    swaps = [
        ("patch_embed.proj", "conv1"),
        ("norm_pre", "ln_pre"),
        ("blocks.", "transformer.resblocks."),
        (".norm1", ".ln_1"),
        (".norm2", ".ln_2"),
        ("attn.qkv.", "attn.in_proj_"),
        ("attn.proj", "attn.out_proj"),
        ("mlp.fc1", "mlp.c_fc"),
        ("mlp.fc2", "mlp.c_proj"),
    ]
    out = {"logit_scale": torch.tensor(4.6), "token_embedding.weight": torch.zeros(10, 4)}
    for name, value in vit.state_dict().items():
        if name in ("cls_token", "pos_embed", "head.weight", "head.bias", "norm.weight", "norm.bias"):
            continue
        for timm_name, clip_name in swaps:
            name = name.replace(timm_name, clip_name)
        out[f"visual.{name}"] = value
    out.update(
        {
            "visual.class_embedding": vit.cls_token[0, 0],
            "visual.positional_embedding": vit.pos_embed[0],
            "visual.proj": vit.head.weight.t(),
            "visual.ln_post.weight": vit.norm.weight,
            "visual.ln_post.bias": vit.norm.bias,
        }
    )
    return out


def test_local_openclip_file_loads_every_tensor(tmp_path):
    source = timm.create_model(B16, pretrained=False, num_classes=512)
    path = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(_openclip_state(source), path)
    vit = create_model(ModelConfig(arch="clip_vit", variant="b16", pretrained=str(path)), num_classes=0).backbone
    for name, tensor in source.state_dict().items():
        if name != "head.bias":  # OpenAI's projection has no bias: timm's conversion sets it to 0
            assert torch.equal(vit.state_dict()[name], tensor), name
    assert not vit.head.bias.any()


SEEDED_SCRIPT = textwrap.dedent(
    """
    import json, sys, torch
    from safetensors.torch import load_file
    from soccerreid.config.models import ModelConfig
    from soccerreid.models import create_model
    vit = create_model(ModelConfig(arch="clip_vit", variant="b16", pretrained="imagenet"), num_classes=0).backbone
    seeded = load_file(sys.argv[1])
    own = vit.state_dict()
    equal = sum(k in seeded and torch.equal(v, seeded[k]) for k, v in own.items())
    print(json.dumps({"tensors": len(own), "equal": equal}))
    """
)


def _dead_network(tmp_path, **extra) -> dict[str, str]:
    dead = "http://127.0.0.1:9"
    return dict(
        os.environ,
        HTTPS_PROXY=dead,
        HTTP_PROXY=dead,
        https_proxy=dead,
        http_proxy=dead,
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        TORCH_HOME=str(tmp_path / "torch"),
        **extra,
    )


@pytest.mark.slow
def test_imagenet_means_openais_clip_weights_from_the_hub_cache_offline(tmp_path):
    """timm's hub file, seeded in the Hugging Face cache layout (no network, HF_HUB_OFFLINE=1), is
    what ``pretrained: imagenet`` loads, every tensor of it."""
    from safetensors.torch import save_file

    hub_id = timm.models.get_pretrained_cfg(B16).hf_hub_id  # timm/vit_base_patch16_clip_224.openai
    generator = torch.Generator().manual_seed(3)
    state = {
        k: torch.rand(v.shape, generator=generator) + 0.5
        for k, v in timm.create_model(B16, pretrained=False, num_classes=512).state_dict().items()
    }
    repo = tmp_path / "hf" / "hub" / f"models--{hub_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("cd" * 20)
    snapshot.mkdir(parents=True)
    save_file(state, str(snapshot / "model.safetensors"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("cd" * 20)
    env = _dead_network(tmp_path, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "-c", SEEDED_SCRIPT, str(snapshot / "model.safetensors")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout.splitlines()[-1])
    assert counts["equal"] == counts["tensors"] == len(state)


OFFLINE_SCRIPT = textwrap.dedent(
    """
    import time
    from soccerreid.config.models import ModelConfig
    from soccerreid.errors import WeightsError
    from soccerreid.models import create_model
    start = time.perf_counter()
    try:
        create_model(ModelConfig(arch="clip_vit_lora", variant="b16", pretrained="imagenet"), num_classes=0)
        print("LOADED")
    except WeightsError as err:
        print(f"{time.perf_counter() - start:.2f} {err}")
    """
)


@pytest.mark.slow
def test_offline_without_cache_fails_fast_with_how_to_fix(tmp_path):
    env = _dead_network(tmp_path, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    seconds, message = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert float(seconds) < 10.0, done.stdout
    assert message.startswith(f"pretrained: imagenet weights of {B16} could not be fetched from huggingface.co ")
    assert message.endswith("set pretrained: /path/to/weights.pth (a local file, loaded with weights_only=True)")
