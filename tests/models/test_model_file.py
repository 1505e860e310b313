"""The self-describing model file: round trip of every family, weights_only, one-line errors."""

from __future__ import annotations

import dataclasses
import zipfile

import pytest
import torch

from soccerreid import __version__
from soccerreid.config.models import LoraConfig
from soccerreid.errors import WeightsError
from soccerreid.models import (
    FORMAT_VERSION,
    check_matches,
    create_model,
    load_network,
    read_model_file,
    save_model,
    weights_sha256,
)

TRAINING = {"val_mAP": 0.41, "best_epoch": 3, "phases": [{"height": 64, "width": 32, "best_val_mAP": 0.41}]}


def _one_line(info: pytest.ExceptionInfo) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


def _trained(cfg, height, width):
    model = create_model(cfg, num_classes=6)
    model.train()(torch.randn(8, 3, height, width))  # move the BN running stats away from init
    for name, param in model.named_parameters():
        if "lora_B" in name:  # LoRA B starts at zero: make the adapters matter
            param.data.normal_(0, 0.05)
    return model.eval()


@pytest.mark.parametrize("arch", ["osnet_ain", "resnet50_ibn", "dinov2_lora", "clip_vit", "clip_vit_lora"])
def test_every_family_rebuilds_from_the_file_alone(tmp_path, tiny, arch):
    cfg, height, width = tiny[arch]
    cfg = dataclasses.replace(cfg, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    model = _trained(cfg, height, width)
    path = tmp_path / "model.pt"
    saved = save_model(model, path, cfg, input_size=(height, width), training=TRAINING, flip=False)
    network, info = load_network(path)  # no config passed: the file says everything
    assert info == saved
    assert (info.arch, info.variant, info.neck, info.embed_dim) == (cfg.arch, cfg.variant, "bnneck", model.embed_dim)
    assert (info.height, info.width, info.mean, info.std) == (height, width, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    assert (info.flip, info.normalize, info.soccerreid_version) == (False, True, __version__)
    assert info.lora == (cfg.lora if arch in ("dinov2_lora", "clip_vit_lora") else None)
    assert info.training == TRAINING
    assert not network.training and network.num_classes == 0
    x = torch.randn(3, 3, height, width)
    with torch.no_grad():
        assert torch.equal(network(x), model(x))


def test_the_file_is_plain_data_for_weights_only_loading(tmp_path, tiny):
    cfg, height, width = tiny["dinov2_lora"]
    path = tmp_path / "model.pt"
    save_model(_trained(cfg, height, width), path, cfg, input_size=(height, width), training=TRAINING)
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "soccerreid-model" and payload["format_version"] == FORMAT_VERSION
    assert payload["model"]["lora"] == {"r": 4, "alpha": 16.0, "dropout": 0.0, "targets": ["qkv", "mlp"]}
    assert payload["input"] == {
        "height": height,
        "width": width,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
    }
    assert payload["output"] == {"flip": True, "normalize": True, "dim": 384}
    assert not any(k.startswith("classifier.") for k in payload["state_dict"])
    assert payload["weights_sha256"] == weights_sha256(payload["state_dict"])


def test_training_record_must_be_plain_values(tmp_path, tiny):
    cfg, height, width = tiny["osnet_ain"]
    with pytest.raises(ValueError, match=r"training.history\[0\]: expected plain values"):
        save_model(
            _trained(cfg, height, width),
            tmp_path / "m.pt",
            cfg,
            input_size=(height, width),
            training={"history": [torch.zeros(1)]},
        )
    assert list(tmp_path.iterdir()) == []  # nothing half-written


@pytest.fixture()
def osnet_file(tmp_path, tiny):
    cfg, height, width = tiny["osnet_ain"]
    path = tmp_path / "model.pt"
    save_model(_trained(cfg, height, width), path, cfg, input_size=(height, width))
    return path


def _rewrite(path, **changes):
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)


def test_a_newer_format_version_is_a_one_line_error(osnet_file):
    _rewrite(osnet_file, format_version=FORMAT_VERSION + 1)
    with pytest.raises(WeightsError) as info:
        load_network(osnet_file)
    assert _one_line(info) == (
        f"{osnet_file}: model file format version {FORMAT_VERSION + 1} is newer than this "
        f"soccerreid reads ({FORMAT_VERSION}); upgrade soccerreid"
    )


def test_a_truncated_file_is_a_one_line_error(osnet_file):
    data = osnet_file.read_bytes()
    osnet_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError) as info:
        read_model_file(osnet_file)
    assert _one_line(info).startswith(f"{osnet_file}: cannot read model file, damaged or not a torch file (")


def test_changed_weight_bytes_fail_the_recorded_checksum(osnet_file, tmp_path):
    damaged = tmp_path / "damaged.pt"
    with zipfile.ZipFile(osnet_file) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if "/data/" in item.filename and len(data) >= 64:  # a tensor's storage: flip one byte
                data = data[:10] + bytes([data[10] ^ 0xFF]) + data[11:]
            target.writestr(item, data)
    with pytest.raises(WeightsError) as info:
        read_model_file(damaged)
    assert _one_line(info) == f"{damaged}: weights do not match their recorded SHA-256 (damaged file)"


def test_foreign_old_and_incomplete_files_are_one_line_errors(osnet_file, tmp_path):
    cases = {
        "absent.pt": None,
        "plain.pt": {"weights": torch.zeros(1)},
        "v1.pt": {"format": "soccerreid-embedder/1", "arch": "osnet_ain", "state_dict": {}},
    }
    expected = {
        "absent.pt": "model file not found (the train stage writes artifacts/models/<name>/model.pt)",
        "plain.pt": "not a soccerreid model file (expected format 'soccerreid-model')",
        "v1.pt": "model file of format version 1 (soccerreid-embedder/1) lacks its input contract and LoRA config; "
        "re-run the train stage to write version 2",
    }
    for name, payload in cases.items():
        if payload is not None:
            torch.save(payload, tmp_path / name)
        with pytest.raises(WeightsError) as info:
            read_model_file(tmp_path / name)
        assert _one_line(info) == f"{tmp_path / name}: {expected[name]}"
    payload = torch.load(osnet_file, weights_only=True)
    del payload["input"]["height"]
    torch.save(payload, osnet_file)
    with pytest.raises(WeightsError) as info:
        read_model_file(osnet_file)
    assert _one_line(info) == f"{osnet_file}: model file key 'input.height' is missing or not int (got None)"


def test_weights_of_another_network_are_named(osnet_file, tiny):
    payload = torch.load(osnet_file, weights_only=True)
    payload["model"]["variant"] = "x0_5"
    torch.save(payload, osnet_file)
    with pytest.raises(WeightsError) as info:
        load_network(osnet_file)
    message = _one_line(info)
    assert message.startswith(f"{osnet_file}: loaded ") and "shape-mismatched" in message
    assert message.endswith("does not match the osnet_ain/x0_5 network it describes")


def test_check_matches_names_the_first_difference(osnet_file, tiny):
    _, info = load_network(osnet_file)
    cfg = tiny["osnet_ain"][0]
    check_matches(info, cfg, osnet_file, "params.yaml: models.osnet_ain")
    with pytest.raises(WeightsError) as err:
        check_matches(info, dataclasses.replace(cfg, neck="none"), osnet_file, "params.yaml: models.osnet_ain")
    assert _one_line(err) == (
        f"{osnet_file}: holds osnet_ain/x0_25/bnneck with neck 'bnneck', "
        "but params.yaml: models.osnet_ain asks for 'none'"
    )
    dino = tiny["dinov2_lora"][0]
    with pytest.raises(WeightsError, match="with arch 'osnet_ain', but m asks for 'dinov2_lora'"):
        check_matches(info, dataclasses.replace(dino, lora=LoraConfig(r=8)), osnet_file, "m")
