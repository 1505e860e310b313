"""Session fixtures shared by the tests of the model-file API, the command and the export:
a tiny SoccerNet-format valid split (our generator: SoccerNet's folders, file names and
bbox_info.json) with its index, and tiny model files of every family. The suite's one DAG run
(``smoke_run`` and the fixtures built on it) is in tests/dagruns.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers import TINY

from soccerreid.config.data import SplitActions
from soccerreid.config.models import LoraConfig, ModelConfig
from soccerreid.data.index import decode_splits, scan_split, write_index
from soccerreid.data.synthetic import generate_synthetic
from soccerreid.models import create_model, save_model

pytest_plugins = ["dagruns"]
SOCCERNET = replace(TINY, seed=11, actions=SplitActions(train=1, valid=4, test=1, challenge=1))
# family -> (config, input height, input width): the smallest variant of each
FAMILIES = {
    "osnet_ain": (ModelConfig(arch="osnet_ain", variant="x0_25"), 64, 32),
    "resnet50_ibn": (ModelConfig(arch="resnet50_ibn", variant="a"), 64, 32),
    "dinov2_lora": (
        ModelConfig(arch="dinov2_lora", variant="small", lora=LoraConfig(r=4, targets=("qkv", "mlp"))),
        56,
        28,
    ),
}


@pytest.fixture(scope="session")
def soccernet_valid(tmp_path_factory) -> Path:
    """Index folder holding ``valid.csv`` of a tiny synthetic SoccerNet; the raw tree is ``<it>/../raw/reid``."""
    root = tmp_path_factory.mktemp("soccernet")
    generate_synthetic(SOCCERNET, root / "raw")
    index = root / "index"
    write_index(decode_splits([scan_split(root / "raw" / "reid" / "valid", "valid")])[0].frame, index, "valid")
    return index


@pytest.fixture(scope="session")
def model_files(tmp_path_factory) -> dict[str, Path]:
    """family -> a model file of that family: random init with BatchNorm statistics and LoRA B moved off init."""
    folder = tmp_path_factory.mktemp("models")
    files = {}
    for family, (cfg, height, width) in FAMILIES.items():
        torch.manual_seed(0)
        model = create_model(cfg, num_classes=6)
        model.train()(torch.randn(8, 3, height, width))
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.data.normal_(0, 0.05)
        files[family] = folder / f"{family}.pt"
        save_model(
            model.eval(), files[family], cfg, input_size=(height, width), training={"val_mAP": 0.25, "best_epoch": 1}
        )
    return files
