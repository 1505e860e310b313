"""Session fixtures shared by the tests of the model-file API, the command and the export:
a tiny SoccerNet-format valid split (our generator: SoccerNet's folders, file names and
bbox_info.json) with its index, and tiny model files of every family. The suite's one DAG run
(``smoke_run`` and the fixtures built on it) is in tests/dagruns.py."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from dagruns import DAG_FIXTURES
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
# pytest-xdist's workers share the cores: each worker's torch, and the subprocesses it starts, get their share
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // WORKERS))
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
# session fixtures that cost tens of seconds and more: their users share a pytest-xdist worker
SHARED_FIXTURES = {"smoke_run": DAG_FIXTURES - {"smoke_prepared"}, "exports": {"exported"}}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark slow every user of the DAG run, and group the tests for pytest-xdist.

    Under ``-n`` (pyproject's addopts, ``--dist loadgroup``) every worker builds its own session and
    module fixtures, so a test runs on the worker of its group: the users of one shared expensive
    fixture together (:data:`SHARED_FIXTURES`), every other test with its module. Groups that hold
    slow tests go first, the smoke run's first of all, so no worker starts a long group last.
    """
    rank = {}
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if DAG_FIXTURES & names:
            item.add_marker(pytest.mark.slow)
        group = next((g for g, fixtures in SHARED_FIXTURES.items() if fixtures & names), item.nodeid.split("::")[0])
        item.add_marker(pytest.mark.xdist_group(group))
        slow = item.get_closest_marker("slow") is not None
        rank[group] = min(rank.get(group, 2), 0 if group == "smoke_run" else 1 if slow else 2)
    items.sort(key=lambda item: rank[_group(item)])


def _group(item: pytest.Item) -> str:
    return item.get_closest_marker("xdist_group").args[0]


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
