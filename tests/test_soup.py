"""Uniform soups: the weight average, and the soup stage (average, extract, distance blocks)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml
from helpers import ROOT, load_stage
from tinyset import make_split

from soccerreid.config import load_params
from soccerreid.config.models import ModelConfig
from soccerreid.data.index import write_index
from soccerreid.errors import WeightsError
from soccerreid.models import create_model, load_network, save_model
from soccerreid.schema import read_blocks, read_features
from soccerreid.soup import soup_model_files, uniform_soup


def test_uniform_soup_averages_floats_and_keeps_integer_counters():
    states = [
        {"w": torch.tensor([0.0, 3.0]), "n": torch.tensor(5)},
        {"w": torch.tensor([1.0, 6.0]), "n": torch.tensor(9)},
        {"w": torch.tensor([2.0, 0.0]), "n": torch.tensor(1)},
    ]
    soup = uniform_soup(states)
    assert torch.equal(soup["w"], torch.tensor([1.0, 3.0])) and soup["n"].item() == 5
    with pytest.raises(
        ValueError, match="^state 1 has other names or shapes than state 0; a soup needs one architecture$"
    ):
        uniform_soup([{"w": torch.zeros(2)}, {"w": torch.zeros(3)}])


def test_a_member_of_another_last_stride_is_refused(tmp_path):
    cfg = ModelConfig(arch="resnet50_ibn", pretrained="none")
    files = [tmp_path / "stride2" / "model.pt", tmp_path / "stride1" / "model.pt"]
    for path, stride in zip(files, (2, 1)):
        member = dataclasses.replace(cfg, last_stride=stride)
        save_model(create_model(member, num_classes=0), path, member, input_size=(64, 32))
    network, info = soup_model_files(files[:1], cfg, ["models.a"])
    assert info.last_stride == 2
    with pytest.raises(
        WeightsError, match=f"^{files[1]}: holds resnet50_ibn/a/bnneck with last_stride 1, but models.b asks for 2$"
    ):
        soup_model_files(files, cfg, ["models.a", "models.b"])


def test_soup_stage_writes_the_averaged_model_its_features_and_blocks(tmp_path):
    params = yaml.safe_load((ROOT / "presets" / "smoke.yaml").read_text())
    params["extract"]["osnet_ain_soup"]["splits"] = ["valid"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    cfg = load_params(tmp_path / "params.yaml").models["osnet_ain"]
    members = {}
    for seed, name in enumerate(("osnet_ain", "osnet_ain_seed1")):
        torch.manual_seed(seed)
        model = create_model(cfg, num_classes=4)
        model.train()(torch.randn(8, 3, 64, 32))  # BN statistics of its own
        save_model(model, tmp_path / "models" / name / "model.pt", cfg, input_size=(64, 32))
        members[name] = load_network(tmp_path / "models" / name / "model.pt")[0].state_dict()
    valid = make_split(tmp_path, "valid", range(3), 4, (2, 3), seed=2)
    write_index(valid, tmp_path / "index", "valid")
    out = {k: tmp_path / k / "osnet_ain_soup" for k in ("soups", "features", "distances")}
    argv = [
        "--params",
        str(tmp_path / "params.yaml"),
        "--soup",
        "osnet_ain_soup",
        "--models",
        str(tmp_path / "models"),
        "--index",
        str(tmp_path / "index"),
        "--out",
        str(out["soups"]),
        "--features",
        str(out["features"]),
        "--distances",
        str(out["distances"]),
        "--device",
        "cpu",
    ]
    load_stage("soup")(argv)
    soup, info = load_network(out["soups"] / "model.pt")
    assert info.training == {"soup": "uniform", "members": ["osnet_ain", "osnet_ain_seed1"]} and (
        info.height,
        info.width,
    ) == (64, 32)
    a, b = members["osnet_ain"], members["osnet_ain_seed1"]
    for name, value in soup.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(value, (a[name].double() + b[name].double()).div(2).float()), name
    features = read_features(out["features"] / "valid.h5")
    assert features.model == "osnet_ain_soup" and features.features.shape == (len(valid), 512)
    blocks = read_blocks(out["distances"] / "valid.h5")
    assert blocks.source == "osnet_ain_soup" and blocks.metric == "cosine"
    assert sorted(p.name for p in out["distances"].iterdir()) == ["fingerprint.json", "valid.h5"]
    written = {path: path.stat().st_mtime_ns for folder in out.values() for path in folder.iterdir()}
    load_stage("soup")(argv)  # nothing that shapes the soup changed: its outputs stay as they are
    assert {path: path.stat().st_mtime_ns for folder in out.values() for path in folder.iterdir()} == written
    save_model(
        create_model(cfg, num_classes=4), tmp_path / "models" / "osnet_ain_seed1" / "model.pt", cfg, input_size=(64, 32)
    )
    load_stage("soup")(argv)  # a member retrained: a new soup
    again = load_network(out["soups"] / "model.pt")[0].state_dict()
    assert any(not torch.equal(again[k], v) for k, v in soup.state_dict().items())
