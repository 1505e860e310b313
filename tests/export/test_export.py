"""ONNX and TorchScript exports of every family: round trip against torch, the check, the card, the stage."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import soccerreid
from soccerreid.config.models import ExtractConfig
from soccerreid.data.index import read_index
from soccerreid.errors import ExportError
from soccerreid.export import (
    check_export,
    export_fingerprint,
    export_model,
    load_runner,
    pick_check_crops,
)
from soccerreid.features import extract_split, make_loader
from soccerreid.models import create_model, save_model
from soccerreid.schema import write_features

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = ("osnet_ain", "resnet50_ibn", "dinov2_lora")


def _raw_batches(embedder, crops):
    """Preprocessed (B, 3, H, W) batches of sizes 1 and the rest, and torch's raw (B, D) outputs."""
    x = next(iter(make_loader(crops, embedder.config, embedder.info.mean, embedder.info.std)))
    with torch.inference_mode():
        reference = embedder.network.cpu().eval()(x.contiguous()).numpy()
    return [(x[:1].numpy(), reference[:1]), (x[1:].numpy(), reference[1:])]


@pytest.mark.parametrize("family", FAMILIES)
def test_onnx_round_trip_of_every_family(family, model_files, crops, exported):
    import onnx
    import onnxruntime as ort

    embedder = soccerreid.load_model(model_files[family])
    path, diff = exported(family, "onnx")
    assert diff <= 1e-4
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (batch,) = session.get_inputs()
    assert (
        batch.name == "images"
        and isinstance(batch.shape[0], str)
        and batch.shape[1:] == [3, embedder.config.height, embedder.config.width]
    )
    for x, reference in _raw_batches(embedder, crops):  # batch sizes 1 and 4: the batch is dynamic
        np.testing.assert_allclose(session.run(["features"], {"images": x})[0], reference, atol=1e-4)
    proto = onnx.load(str(path))
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["soccerreid.arch"] == family and props["soccerreid.weights_id"] == embedder.info.weights_id
    assert (
        json.loads(props["soccerreid.flip"]) is True
        and json.loads(props["soccerreid.height"]) == embedder.config.height
    )
    assert not [i.name for i in proto.graph.initializer if "lora" in i.name.lower()]  # LoRA merged into the weights


@pytest.mark.parametrize("family", FAMILIES)
def test_torchscript_round_trip_of_every_family(family, model_files, crops, exported):
    embedder = soccerreid.load_model(model_files[family])
    path, diff = exported(family, "torchscript")
    assert diff <= 1e-4
    extra = {"soccerreid.json": ""}
    module = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["soccerreid.json"])["weights_id"] == embedder.info.weights_id
    run = load_runner("torchscript", path)
    for x, reference in _raw_batches(embedder, crops):
        np.testing.assert_allclose(run(x), reference, atol=1e-4)
    assert isinstance(module, torch.jit.ScriptModule)


def test_an_export_that_differs_from_torch_fails_naming_the_model_and_the_diff(model_files, crops, exported, tmp_path):
    path, _ = exported("osnet_ain", "onnx")
    torch.manual_seed(1)  # other weights, same network
    other_cfg = soccerreid.load_model(model_files["osnet_ain"]).info.model_config()
    save_model(create_model(other_cfg, num_classes=0).eval(), tmp_path / "other.pt", other_cfg, input_size=(64, 32))
    with pytest.raises(ExportError) as info:
        check_export("onnx", path, soccerreid.load_model(tmp_path / "other.pt"), crops, name="osnet_ain")
    assert re.fullmatch(
        r"osnet_ain: onnx features differ from the torch model's by \S+ \(max abs, on 5 crops; "
        r"at most 0.002 allowed\)",
        str(info.value),
    )
    assert float(str(info.value).split(" by ")[1].split()[0]) > 1e-2


def test_the_model_cards_onnxruntime_lines_give_the_features(model_files, crops, tmp_path):
    embedder = soccerreid.load_model(model_files["dinov2_lora"])
    diffs = export_model(embedder, tmp_path, crops, "dinov2_lora", "5 crops of valid")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model_card.md",
        "tracker.onnx",
        "tracker.onnx.metadata.json",
        "tracker.torchscript",
        "tracker.torchscript.metadata.json",
    ]
    card = (tmp_path / "model_card.md").read_text()
    assert "feature dimension **384**" in card and "LoRA r=4 alpha=16 on qkv+mlp (merged)" in card
    assert "Validation mAP while training: **0.2500** at best epoch 1" in card
    assert "| `tracker.onnx` | tracker-ready ONNX" in card and f"{diffs['tracker.onnx']:.2e}" in card
    assert (
        "| `tracker.torchscript` | tracker-ready TorchScript" in card and f"{diffs['tracker.torchscript']:.2e}" in card
    )
    assert "boxmot track --source video.mp4 --tracker botsort --reid tracker.onnx" in card
    assert 'BotSort(reid_weights=Path("tracker.onnx"), device="cpu", half=False)' in card
    code = re.search(r"## Load it with onnxruntime.*?```python\n(.*?)```", card, re.S).group(1)
    assert len(code.strip().splitlines()) <= 8
    for crop in crops:
        scope = {}
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            exec(code.replace('"crop.png"', repr(crop)), scope)
        finally:
            os.chdir(cwd)
        np.testing.assert_allclose(scope["f"][0], embedder.embed([crop], device="cpu")[0], atol=1e-4)


def _stage(tmp_path, index, weights, features):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["extract"]["osnet_ain"] = {
        "height": 64,
        "width": 32,
        "workers": 0,
        "splits": ["valid"],
        "differs_from_validation": "the tiny test model is not trained by params",
        "resize": "tracker",
        "supersample": 2,
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    args = [
        "--params",
        tmp_path / "params.yaml",
        "--model",
        "osnet_ain",
        "--weights",
        weights,
        "--index",
        index,
        "--features",
        features,
        "--out",
        tmp_path / "export",
    ]
    return subprocess.run(
        [sys.executable, str(ROOT / "stages" / "export.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )


@pytest.mark.slow
def test_export_stage_writes_checked_files_or_nothing(model_files, soccernet_valid, tmp_path):
    model = soccerreid.load_model(model_files["osnet_ain"]).configure(
        height=64, width=32, resize="tracker", supersample=2
    )
    dag = extract_split(model, read_index(soccernet_valid, "valid"), "osnet_ain", "valid", device="cpu")
    write_features(tmp_path / "features" / "valid.h5", dag)
    done = _stage(tmp_path, soccernet_valid, model_files["osnet_ain"], tmp_path / "features")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"export osnet_ain: tracker.onnx max abs diff \S+, tracker.torchscript max abs diff \S+\n",
        done.stdout,
    )
    card = (tmp_path / "export" / "model_card.md").read_text()
    for file in ("tracker.onnx", "tracker.torchscript"):  # supersample 2: twice the input size
        sidecar = json.loads((tmp_path / "export" / f"{file}.metadata.json").read_text())
        assert sidecar["model_kwargs"]["img_size"] == [128, 64]
    assert "float32 (B, 3, 128, 64)" in card and "downsizes it to the network's 64 x 32" in card
    assert "with `cv2.resize` bilinear (`INTER_LINEAR`, no antialiasing: what the DAG scored)" in card
    count = len(pick_check_crops(read_index(soccernet_valid, "valid")))
    assert f"on {count} crops of {soccernet_valid}/valid.csv" in card
    deployed = json.loads((tmp_path / "export" / "deployed.json").read_text())
    assert deployed["dag"]["mAP"] == pytest.approx(soccerreid.evaluate(model, soccernet_valid, device="cpu")["mAP"])
    assert f"| DAG (extract@, single-model row) | {deployed['dag']['mAP']:.4f} |" in card
    assert f"| tracker (`tracker.onnx`, BoxMOT preprocessing) | {deployed['deployed']['mAP']:.4f} |" in card
    spread = f"two different crops have a mean cosine of {deployed['cosine_between_crops']:.4f}"
    assert spread in card and deployed["cosine_between_crops"] < deployed["cosine_mean"]
    # resize: tracker, the DAG embedded the crops as the tracker feeds tracker.onnx: deployed = scored
    assert deployed["cosine_min"] > 0.9999
    assert deployed["deployed"]["mAP"] == pytest.approx(deployed["dag"]["mAP"], abs=1e-4)
    code = re.search(r"## Load it with onnxruntime.*?```python\n(.*?)```", card, re.S).group(1)
    assert "cv2.resize" in code and "as the DAG computed it" in card
    crop, scope, cwd = pick_check_crops(read_index(soccernet_valid, "valid"))[0], {}, os.getcwd()
    os.chdir(tmp_path / "export")
    try:
        exec(code.replace('"crop.png"', repr(crop)), scope)
    finally:
        os.chdir(cwd)
    np.testing.assert_allclose(scope["f"][0], model.embed([crop], device="cpu")[0], atol=1e-5)
    written = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "export").iterdir()}
    again = _stage(tmp_path, soccernet_valid, model_files["osnet_ain"], tmp_path / "features")
    assert again.stdout == (
        f"export osnet_ain: {tmp_path / 'export'} kept: model file, extraction config, crops and features unchanged\n"
    )
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "export").iterdir()} == written
    failed = _stage(tmp_path / "export", soccernet_valid, tmp_path / "absent.pt", tmp_path / "features")
    assert failed.returncode == 2
    assert failed.stderr.strip() == (
        f"error: {tmp_path / 'absent.pt'}: model file not found "
        "(the train stage writes artifacts/models/<name>/model.pt)"
    )
    assert not (tmp_path / "export" / "export").exists()


def test_the_export_fingerprint_holds_what_shapes_the_folder(tmp_path):
    """The deployed score reads valid's rows, crops and features and the metric: each is a part."""
    files = {}
    for name in ("model.pt", "a.png", "b.png", "valid.h5"):
        files[name] = tmp_path / name
        files[name].write_bytes(name.encode())
    frame = pd.DataFrame({"path": [str(files["a.png"]), str(files["b.png"])], "bbox_idx": [0, 1]})
    cfg = ExtractConfig(height=64, width=32)
    script = ROOT / "stages" / "export.py"

    def value(**change) -> str:
        args = {"cfg": cfg, "valid": (frame, files["valid.h5"], "cosine")} | change
        crops = [str(files["a.png"])]
        return export_fingerprint(files["model.pt"], args["cfg"], crops, script, args["valid"]).value

    base = value()
    assert value() == base
    assert value(cfg=ExtractConfig(height=64, width=32, supersample=1, resize="pil")) == base, "the defaults"
    assert value(cfg=ExtractConfig(height=64, width=32, supersample=3)) != base
    assert value(cfg=ExtractConfig(height=64, width=32, resize="tracker")) != base
    assert value(cfg=ExtractConfig(height=64, width=32, workers=3)) == base, "workers shape nothing"
    assert value(cfg=ExtractConfig(height=64, width=32, flip=False)) != base
    assert value(valid=(frame, files["valid.h5"], "euclidean")) != base
    assert value(valid=(frame.assign(bbox_idx=[1, 0]), files["valid.h5"], "cosine")) != base
    assert value(valid=None) != base
    files["valid.h5"].write_bytes(b"other features")
    assert value() != base
    files["valid.h5"].write_bytes(b"valid.h5")
    files["b.png"].write_bytes(b"another crop")
    assert value() != base
