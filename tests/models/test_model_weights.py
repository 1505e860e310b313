"""Pretrained weights: local files, mismatch summaries, offline failure."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import pytest
import timm
import torch

from soccerreid.config.models import LoraConfig, ModelConfig
from soccerreid.errors import ConfigError, WeightsError
from soccerreid.models import create_model, read_state_dict


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


def _partial_osnet_file(tmp_path, cfg) -> tuple:
    state = create_model(cfg, num_classes=0).backbone.state_dict()
    dropped = list(state)[:2]
    for name in dropped:
        del state[name]
    state["classifier.weight"] = torch.zeros(1000, 512)
    state["fc.0.weight"] = torch.zeros(7, 7)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    return path, state, dropped


def test_file_leaving_tensors_at_init_is_an_error_naming_them(tmp_path, tiny):
    cfg, _, _ = tiny["osnet_ain"]
    path, state, dropped = _partial_osnet_file(tmp_path, cfg)
    with pytest.raises(WeightsError) as info:
        create_model(dataclasses.replace(cfg, pretrained=str(path)), num_classes=0)
    assert _one_line(info) == (
        f"{path}: loaded {len(state) - 2} tensors; 2 missing ({dropped[0]}, {dropped[1]}); "
        "1 unexpected (classifier.weight); 1 shape-mismatched (fc.0.weight): 3 backbone tensors would keep "
        f"their random init ({dropped[0]}, {dropped[1]}, fc.0.weight); "
        "set allow_random_init: [<name patterns>] to accept that"
    )


def test_allowed_random_init_loads_and_prints_the_report(tmp_path, tiny, capsys):
    cfg, _, _ = tiny["osnet_ain"]
    path, state, dropped = _partial_osnet_file(tmp_path, cfg)
    with pytest.raises(WeightsError, match=r"1 backbone tensors would keep their random init \(fc.0.weight\)"):
        create_model(dataclasses.replace(cfg, pretrained=str(path), allow_random_init=tuple(dropped)), num_classes=0)
    allowed = dataclasses.replace(cfg, pretrained=str(path), allow_random_init=("conv1.*", "fc.0.*"))
    model = create_model(allowed, num_classes=0)
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"{path}: loaded {len(state) - 2} tensors; 2 missing ({dropped[0]}, {dropped[1]}); "
        "1 unexpected (classifier.weight); 1 shape-mismatched (fc.0.weight)"
    )
    loaded = model.backbone.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items() if k in loaded and k != "fc.0.weight")


def test_torchvision_resnet50_leaves_the_ibn_layers_at_init(tmp_path):
    """torchreid's own imagenet init for resnet50_ibn_a (torchvision's ResNet-50) has no IBN layers:
    that file is now refused, naming them, unless they are allowed explicitly."""
    import torchvision

    path = tmp_path / "resnet50.pth"
    torch.save(torchvision.models.resnet50().state_dict(), path)
    cfg = ModelConfig(arch="resnet50_ibn", pretrained=str(path))
    with pytest.raises(WeightsError) as info:
        create_model(cfg, num_classes=0)
    message = _one_line(info)
    assert message.startswith(f"{path}: loaded 253 tensors; 91 missing (layer1.0.bn1.IN.weight, ")
    # 13 IBN blocks x (IN weight, bias + BN weight, bias, running mean, var); their BN counters do not count
    assert (
        ": 78 backbone tensors would keep their random init (layer1.0.bn1.IN.weight, layer1.0.bn1.IN.bias, " in message
    )
    create_model(dataclasses.replace(cfg, allow_random_init=("*.bn1.IN.*", "*.bn1.BN.*")), num_classes=0)


def test_last_stride_one_doubles_layer4_and_keeps_the_weights(tiny):
    cfg, height, width = tiny["resnet50_ibn"]
    x = torch.randn(2, 3, height, width)
    maps = {}
    for stride in (2, 1):
        torch.manual_seed(0)
        net = create_model(dataclasses.replace(cfg, last_stride=stride), num_classes=0).backbone.eval()
        maps[stride] = net.featuremaps(x).shape
        assert net.layer4[0].conv2.stride == (stride, stride) == net.layer4[0].downsample[0].stride
        assert all(m.stride == (1, 1) for m in net.layer4[1:].modules() if isinstance(m, torch.nn.Conv2d))
    assert maps[2] == (2, 2048, height // 32, width // 32)
    assert maps[1] == (2, 2048, height // 16, width // 16)
    with pytest.raises(ConfigError, match="last_stride: only resnet50_ibn has a last stride to set, osnet_ain keeps 2"):
        ModelConfig(arch="osnet_ain", last_stride=1)


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
    assert (
        _one_line(info)
        == f"{tmp_path / 'nope.pth'}: weights file not found (pretrained expects none, imagenet or a local file)"
    )
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


SEEDED_SCRIPT = textwrap.dedent(
    """
    import json, sys, torch
    from safetensors.torch import load_file
    from soccerreid.config.models import LoraConfig, ModelConfig
    from soccerreid.models import create_model
    files = json.loads(sys.argv[1])
    result = {}
    for arch, variant in [("osnet_ain", "x0_25"), ("resnet50_ibn", "a"), ("dinov2_lora", "small")]:
        cfg = ModelConfig(arch=arch, variant=variant, pretrained="imagenet", lora=LoraConfig(r=2))
        backbone = create_model(cfg, num_classes=0).backbone
        own = (backbone.get_base_model() if arch == "dinov2_lora" else backbone).state_dict()
        own = {k.replace(".base_layer.", "."): v for k, v in own.items() if "lora_" not in k}
        path = files[arch]
        seeded = load_file(path) if path.endswith(".safetensors") else torch.load(path, weights_only=True)
        seeded = {k.removeprefix("module."): v for k, v in seeded.items()}
        equal = sum(k in seeded and torch.equal(v, seeded[k]) for k, v in own.items())
        result[arch] = {"tensors": len(own), "equal": equal}
    print(json.dumps(result))
    """
)


def _distinct(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same names and shapes with values no initialiser produces (so a skipped tensor shows)."""
    gen = torch.Generator().manual_seed(1)
    return {k: (torch.rand(v.shape, generator=gen) + 0.5 if v.is_floating_point() else v + 7) for k, v in state.items()}


def _seed_caches(root) -> tuple[dict[str, str], dict[str, str]]:
    """Write each source's file into its library's cache under ``root``, in that source's key layout."""
    from safetensors.torch import save_file
    from torchreid.reid.models import build_model

    torch_home, hub_cache = root / "torch", root / "hf" / "hub"
    osnet = _distinct(build_model("osnet_ain_x0_25", num_classes=1000, pretrained=False).state_dict())
    ibn = _distinct(build_model("resnet50_ibn_a", num_classes=1000, pretrained=False).state_dict())
    vit = _distinct(timm.create_model("vit_small_patch14_dinov2", pretrained=False, num_classes=0).state_dict())
    files = {  # torchreid's cache; torch.hub's cache; the Hugging Face cache of timm's hub repo
        "osnet_ain": torch_home / "checkpoints" / "osnet_ain_x0_25_imagenet.pth",
        "resnet50_ibn": torch_home / "hub" / "checkpoints" / "resnet50_ibn_a-d9d0bb7b.pth",
        "dinov2_lora": hub_cache
        / "models--timm--vit_small_patch14_dinov2.lvd142m"
        / "snapshots"
        / ("ab" * 20)
        / "model.safetensors",
    }
    for file in files.values():
        file.parent.mkdir(parents=True, exist_ok=True)
    torch.save({f"module.{k}": v for k, v in osnet.items()}, files["osnet_ain"])  # DataParallel names, 1000-way head
    torch.save(
        {k.replace("classifier.", "fc."): v for k, v in ibn.items()}, files["resnet50_ibn"]
    )  # IBN-Net's ResNet_IBN names
    save_file(vit, str(files["dinov2_lora"]))
    (files["dinov2_lora"].parents[2] / "refs").mkdir()
    (files["dinov2_lora"].parents[2] / "refs" / "main").write_text("ab" * 20)
    env = {
        "TORCH_HOME": str(torch_home),
        "HF_HOME": str(root / "hf"),
        "HF_HUB_CACHE": str(hub_cache),
        "HF_HUB_OFFLINE": "1",
    }
    return {k: str(v) for k, v in files.items()}, env


def _no_network_env(tmp_path, **extra) -> dict[str, str]:
    dead = "http://127.0.0.1:9"
    return dict(
        os.environ,
        HTTPS_PROXY=dead,
        HTTP_PROXY=dead,
        https_proxy=dead,
        http_proxy=dead,
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        **extra,
    )


@pytest.mark.slow
def test_imagenet_loads_every_backbone_tensor_from_seeded_caches(tmp_path):
    """With each library's cache seeded (no network), pretrained: imagenet sets every backbone tensor
    of the three models to the file's values, IBN layers included, and prints each load's report."""
    files, cache_env = _seed_caches(tmp_path)
    env = _no_network_env(tmp_path, **cache_env)
    result = subprocess.run(
        [sys.executable, "-c", SEEDED_SCRIPT, json.dumps(files)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert {arch: counts["equal"] for arch, counts in loaded.items()} == {
        arch: counts["tensors"] for arch, counts in loaded.items()
    }
    assert (
        loaded["resnet50_ibn"]["tensors"] == 344
        and loaded["osnet_ain"]["tensors"] > 200
        and loaded["dinov2_lora"]["tensors"] == 174
    )
    reports = [line for line in result.stderr.splitlines() if " tensors" in line and ": loaded " in line]
    assert reports == [
        f"{files['osnet_ain']}: loaded {loaded['osnet_ain']['tensors']} tensors; "
        "2 unexpected (classifier.weight, classifier.bias)",
        f"{files['resnet50_ibn']}: loaded 344 tensors; 2 unexpected (fc.weight, fc.bias)",
        "hf-hub:timm/vit_small_patch14_dinov2.lvd142m: loaded 174 tensors",
    ]


OFFLINE_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from soccerreid.config.models import ModelConfig
    from soccerreid.errors import ConfigError, WeightsError
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
    env = _no_network_env(
        tmp_path, HF_HUB_OFFLINE="1", TORCH_HOME=str(tmp_path / "torch"), HF_HOME=str(tmp_path / "hf")
    )
    result = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    lines = [line for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert len(lines) == 3, result.stdout + result.stderr
    for line, name in zip(lines, ["osnet_ain_x0_25", "resnet50_ibn_a", "vit_small_patch14_dinov2"]):
        seconds, message = line.split(" ", 1)
        assert float(seconds) < 10.0, line
        assert message.startswith(f"pretrained: imagenet weights of {name} could not be fetched from "), line
        assert message.endswith("set pretrained: /path/to/weights.pth (a local file, loaded with weights_only=True)"), (
            line
        )


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
