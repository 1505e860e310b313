"""Pretrained weights: local files, mismatch summaries, offline failure, embedder round trip."""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import textwrap

import pytest
import timm
import torch

from soccerreid.config.models import LoraConfig, ModelConfig
from soccerreid.errors import WeightsError
from soccerreid.models import create_model, load_embedder, read_state_dict, save_embedder


def _one_line(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


def test_local_torchreid_file_loads_with_container_and_module_prefix(tmp_path, tiny):
    cfg, _, _ = tiny["osnet_ain"]
    source = create_model(cfg, num_classes=0).backbone
    path = tmp_path / "osnet.pth.tar"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}, "epoch": 3}, path)
    model = create_model(dataclasses.replace(cfg, pretrained=str(path)), num_classes=4)
    for name, tensor in source.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[name], tensor), name


def test_mismatched_file_is_summarised_on_one_line(tmp_path, tiny, caplog):
    cfg, _, _ = tiny["osnet_ain"]
    state = create_model(cfg, num_classes=0).backbone.state_dict()
    dropped = list(state)[:2]
    for name in dropped:
        del state[name]
    state["classifier.weight"] = torch.zeros(1000, 512)
    state["fc.0.weight"] = torch.zeros(7, 7)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with caplog.at_level("WARNING", logger="soccerreid.models"):
        create_model(dataclasses.replace(cfg, pretrained=str(path)), num_classes=0)
    (record,) = caplog.records
    assert record.getMessage() == (
        f"{path}: loaded {len(state) - 2} tensors; 2 missing ({dropped[0]}, {dropped[1]}); "
        "1 unexpected (classifier.weight); 1 shape-mismatched (fc.0.weight)"
    )


def test_file_of_another_architecture_is_an_error(tmp_path, tiny):
    cfg, _, _ = tiny["osnet_ain"]
    path = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3)}, path)
    with pytest.raises(WeightsError) as info:
        create_model(dataclasses.replace(cfg, pretrained=str(path)), num_classes=0)
    assert _one_line(info).endswith("no tensor matches this model, is it the right architecture?")


def test_missing_and_unsafe_files_are_one_line_errors(tmp_path):
    with pytest.raises(WeightsError) as info:
        read_state_dict(tmp_path / "nope.pth")
    assert _one_line(info) == f"{tmp_path / 'nope.pth'}: weights file not found (pretrained expects none, imagenet or a local file)"
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"w": torch.zeros(1), "args": argparse.Namespace(lr=0.1)}, unsafe)
    with pytest.raises(WeightsError) as info:
        read_state_dict(unsafe)
    assert _one_line(info).startswith(f"{unsafe}: cannot read weights (UnpicklingError: ")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read weights"):
        read_state_dict(garbage)


@pytest.mark.parametrize("meta_format", [False, True])
def test_local_dinov2_file_loads_in_timm_and_meta_formats(tmp_path, meta_format):
    source = timm.create_model("vit_small_patch14_dinov2", pretrained=False, num_classes=0)
    state = dict(source.state_dict())
    if meta_format:  # the facebookresearch/dinov2 release also stores its mask token
        state["mask_token"] = torch.zeros(1, 384)
    path = tmp_path / "dinov2.pth"
    torch.save(state, path)
    cfg = ModelConfig(arch="dinov2_lora", variant="small", pretrained=str(path), lora=LoraConfig(r=2))
    vit = create_model(cfg, num_classes=0).backbone.get_base_model()
    assert torch.equal(vit.blocks[3].attn.qkv.base_layer.weight, source.blocks[3].attn.qkv.weight)
    assert torch.equal(vit.pos_embed, source.pos_embed)


OFFLINE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from soccerreid.config.models import ModelConfig
    from soccerreid.errors import WeightsError
    from soccerreid.models import create_model
    for arch, variant in [("osnet_ain", "x0_25"), ("resnet50_ibn", "a"), ("dinov2_lora", "small")]:
        start = time.perf_counter()
        try:
            create_model(ModelConfig(arch=arch, variant=variant, pretrained="imagenet"), num_classes=0)
            print("LOADED", arch)
        except WeightsError as err:
            print(f"{time.perf_counter() - start:.2f} {err}")
    """
)


@pytest.mark.slow
def test_offline_imagenet_fails_fast_with_how_to_fix(tmp_path):
    """No network (a dead proxy) and no cache: each arch fails in well under 10 s, on one line."""
    dead = "http://127.0.0.1:9"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HTTPS_PROXY=dead, HTTP_PROXY=dead, https_proxy=dead, http_proxy=dead,
               TORCH_HOME=str(tmp_path / "torch"), HF_HOME=str(tmp_path / "hf"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert len(lines) == 3, result.stdout + result.stderr
    for line, name in zip(lines, ["osnet_ain_x0_25", "resnet50_ibn_a", "vit_small_patch14_dinov2"]):
        seconds, message = line.split(" ", 1)
        assert float(seconds) < 10.0, line
        assert message.startswith(f"pretrained: imagenet weights of {name} could not be fetched from "), line
        assert message.endswith("set pretrained: /path/to/weights.pth (a local file, loaded with weights_only=True)"), line


@pytest.mark.parametrize("arch", ["osnet_ain", "dinov2_lora"])
def test_embedder_round_trip_is_exact(tmp_path, tiny, arch):
    cfg, height, width = tiny[arch]
    model = create_model(cfg, num_classes=6)
    model.train()(torch.randn(8, 3, height, width))  # move the BN running stats away from init
    path = tmp_path / "model.pt"
    save_embedder(model, path)
    loaded = load_embedder(cfg, path)
    assert not loaded.training and loaded.num_classes == 0
    x = torch.randn(3, 3, height, width)
    assert torch.equal(loaded(x), model.eval()(x))


def test_embedder_mismatches_name_the_file(tmp_path, tiny):
    cfg, _, _ = tiny["dinov2_lora"]
    path = tmp_path / "model.pt"
    save_embedder(create_model(cfg, num_classes=2), path)
    with pytest.raises(WeightsError) as info:
        load_embedder(tiny["osnet_ain"][0], path)
    assert _one_line(info) == f"{path}: holds dinov2_lora/small/bnneck but params ask for osnet_ain/x0_25/bnneck"
    with pytest.raises(WeightsError) as info:
        load_embedder(dataclasses.replace(cfg, lora=LoraConfig(r=8, targets=("qkv", "mlp"))), path)
    message = _one_line(info)
    assert message.startswith(f"{path}: loaded ")
    assert "72 shape-mismatched (backbone.base_model.model.blocks.0.attn.qkv.lora_A.default.weight, " in message
    assert message.endswith(", ...): does not match the model built from params")
    with pytest.raises(WeightsError) as info:
        load_embedder(cfg, tmp_path / "absent.pt")
    assert _one_line(info) == f"{tmp_path / 'absent.pt'}: embedder file not found (written by the train stage with save_embedder)"
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(WeightsError) as info:
        load_embedder(cfg, tmp_path / "other.pt")
    assert _one_line(info) == f"{tmp_path / 'other.pt'}: not a soccerreid embedder file (expected format 'soccerreid-embedder/1')"


def test_hub_probe_fails_fast_unless_offline_mode_or_a_proxy(monkeypatch):
    from soccerreid.models import _weights

    probes = []

    def refuse(address, timeout):
        probes.append((address, timeout))
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(_weights.socket, "create_connection", refuse)
    for name in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(WeightsError) as info:
        _weights.require_hub("vit_small_patch14_dinov2")
    assert probes == [(("huggingface.co", 443), _weights.NETWORK_TIMEOUT_S)]
    assert str(info.value) == (
        "pretrained: imagenet weights of vit_small_patch14_dinov2 could not be fetched from huggingface.co "
        "(ConnectionRefusedError: [Errno 111] Connection refused); offline, download them elsewhere and set "
        "pretrained: /path/to/weights.pth (a local file, loaded with weights_only=True) "
        "(or set HF_HUB_OFFLINE=1 to use the local HF cache)"
    )
    for env in ({"HF_HUB_OFFLINE": "1"}, {"HTTPS_PROXY": "http://proxy:3128"}):
        with monkeypatch.context() as patched:
            for key, value in env.items():
                patched.setenv(key, value)
            _weights.require_hub("vit_small_patch14_dinov2")
    assert len(probes) == 1
