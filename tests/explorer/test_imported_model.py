"""A torchreid checkpoint joins the DAG as a model not trained here: import@, extract@ and distances@ for
``imported.<name>``, then fuse, rerank, score and report take it like a trained model (Table 1 row, fusion member)."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from helpers import load_stage, tiny_params

from soccerreid import load_model
from soccerreid.config import parse_params
from soccerreid.errors import ConfigError, WeightsError
from soccerreid.explorer.run import Run, RunPaths, query_table

with warnings.catch_warnings():
    warnings.filterwarnings("ignore")
    from torchreid.reid.models import build_model
    from torchreid.reid.utils import save_checkpoint

IMPORTED = {"checkpoint": "ckpt/model.pth.tar-3", "arch": "osnet_ain", "variant": "x0_25", "height": 64, "width": 32}


def _write_checkpoint(folder) -> None:
    """torchreid's OSNet-AIN x0.25 (BN statistics off init), saved by torchreid's ``save_checkpoint``."""
    torch.manual_seed(5)
    theirs = build_model("osnet_ain_x0_25", num_classes=10, loss="softmax", pretrained=False)
    theirs.train()(torch.randn(4, 3, 64, 32))
    save_checkpoint({"state_dict": theirs.state_dict(), "epoch": 3, "rank1": 0.4, "optimizer": None}, str(folder))


def _params(root, model_files, imported: dict) -> str:
    path = tiny_params(root / "params.yaml", {"osnet_ain": (64, 32), "dinov2_lora": (56, 28)})
    params = yaml.safe_load(path.read_text())
    del params["models"]["dinov2_lora"], params["extract"]["dinov2_lora"]  # one trained model beside the imported
    params["imported"] = {"osnet_sn": imported}
    params["extract"]["osnet_sn"] = {"height": 64, "width": 32, "batch_size": 64, "workers": 0}
    params["fusion"].update(models=["osnet_ain", "osnet_sn"], weights=[0.5, 0.5])
    path.write_text(yaml.safe_dump(params))
    return str(path)


def _embed(p: str, model: str) -> None:
    args = ["--params", p, "--model", model, "--weights", f"artifacts/models/{model}/model.pt", "--index", "data/index"]
    load_stage("extract")([*args, "--out", f"artifacts/features/{model}", "--device", "cpu"])
    load_stage("distances")(
        ["--params", p, "--features", f"artifacts/features/{model}", "--out", f"artifacts/distances/{model}"]
    )


@pytest.fixture
def in_tmp(tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(cwd)


def test_an_imported_checkpoint_is_fused_scored_and_a_table_1_row(in_tmp, model_files):
    _write_checkpoint(in_tmp / "ckpt")
    p = _params(in_tmp, model_files, IMPORTED)
    load_stage("prepare")(["--params", p, "--raw", "data/raw", "--index", "data/index"])
    (in_tmp / "artifacts/models/osnet_ain").mkdir(parents=True)
    shutil.copy(model_files["osnet_ain"], in_tmp / "artifacts/models/osnet_ain/model.pt")  # stands in for train@
    load_stage("import")(["--params", p, "--model", "osnet_sn", "--out", "artifacts/models/osnet_sn"])
    assert load_model("artifacts/models/osnet_sn/model.pt").info.height == 64
    for model in ("osnet_ain", "osnet_sn"):
        _embed(p, model)
    load_stage("fuse")(
        [
            "--params",
            p,
            "--distances",
            "artifacts/distances",
            "--features",
            "artifacts/features",
            "--out",
            "artifacts/fused",
        ]
    )
    load_stage("rerank")(["--params", p, "--fused", "artifacts/fused", "--out", "artifacts/reranked"])
    outputs = ["--scores", "metrics/scores.json", "--cmc", "metrics/cmc.csv", "--rankings", "artifacts/rankings"]
    runs = ["--distances", "artifacts/distances", "--fused", "artifacts/fused", "--reranked", "artifacts/reranked"]
    load_stage("score")(["--params", p, *runs, "--challenge-groundtruth", "data/index/none.json", *outputs])
    scores = json.loads((in_tmp / "metrics/scores.json").read_text())
    assert set(scores["models"]) == {"osnet_ain", "osnet_sn"}
    assert scores["models"]["osnet_sn"]["mAP"] != scores["models"]["osnet_ain"]["mAP"]
    report = ["--params", p, "--scores", "metrics/scores.json", *runs, "--cmc", "metrics/cmc.csv"]
    load_stage("report")(
        [*report, "--rankings", "artifacts/rankings", "--index", "data/index", "--live", "dvclive", "--out", "reports"]
    )
    methods = pd.read_csv(in_tmp / "reports/methods.csv")
    assert methods["method"].str.startswith("osnet_sn").any()
    run = Run(RunPaths.under(in_tmp))  # the explorer compares it query by query like a trained model
    table = query_table(run, "valid", "models/osnet_sn", "models/osnet_ain")
    assert len(table) > 0 and "models/osnet_sn" in [m.key for m in run.methods("valid")]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"arch": "resnet50_ibn", "variant": "a"}, WeightsError, "model.pth.tar-3: loaded 0 tensors; "),
        ({"variant": "x1_0"}, WeightsError, "model.pth.tar-3: "),
        ({"checkpoint": "ckpt/missing.pth.tar"}, WeightsError, "ckpt/missing.pth.tar: checkpoint not found"),
        ({"variant": "x9"}, ConfigError, "imported.osnet_sn.variant"),
    ],
)
def test_a_checkpoint_that_does_not_fit_is_one_line_and_writes_nothing(in_tmp, model_files, change, error, message):
    _write_checkpoint(in_tmp / "ckpt")
    p = _params(in_tmp, model_files, {**IMPORTED, **change})
    with pytest.raises(error) as raised:
        load_stage("import")(["--params", p, "--model", "osnet_sn", "--out", "artifacts/models/osnet_sn"])
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert not (in_tmp / "artifacts/models/osnet_sn").exists()


def test_imported_entries_are_validated_names_keys_arch_and_size(in_tmp, model_files):
    p = _params(in_tmp, model_files, IMPORTED)
    params = yaml.safe_load(Path(p).read_text())
    params["imported"]["osnet_ain"] = IMPORTED
    with pytest.raises(ConfigError, match="imported.osnet_ain: also a key of models or soups"):
        parse_params(params)
    params = yaml.safe_load(Path(p).read_text())
    params["imported"]["osnet_sn"] = {**IMPORTED, "arch": "osnet"}
    with pytest.raises(ConfigError, match=r"imported.osnet_sn.arch: expected one of \['osnet_ain', "):
        parse_params(params)
    params["imported"]["osnet_sn"] = {**IMPORTED, "epoch": 3}
    with pytest.raises(ConfigError, match="imported.osnet_sn.epoch: unknown key"):
        parse_params(params)
    params["imported"]["osnet_sn"] = {**IMPORTED, "height": 128}
    with pytest.raises(
        ConfigError, match=r"extract.osnet_sn: extracts at 64x32, but imported.osnet_sn was trained at 128x32"
    ):
        parse_params(params)
