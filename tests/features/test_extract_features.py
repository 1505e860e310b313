"""Extraction: torchreid-identical preprocessing, flip TTA, normalisation, the extract stage."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD, ExtractConfig, ModelConfig
from soccerreid.data.index import COLUMNS, write_index
from soccerreid.errors import DataError
from soccerreid.features import EvalCrops, eval_transform, extract_embeddings, extract_split, load_model
from soccerreid.models import create_model, save_model
from soccerreid.schema import read_features

ROOT = Path(__file__).resolve().parents[2]
CFG = ModelConfig(arch="osnet_ain", variant="x0_25")
EXTRACT = ExtractConfig(height=64, width=32, batch_size=3, workers=0, flip=False, normalize=False)


def _write_crop(path: Path, seed: int, height: int, width: int) -> str:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = rng.integers(0, 256, size=3)
    image = (base + 60 * np.sin(xx[..., None] / (2 + seed % 5)) + yy[..., None] * 0.5) % 256
    Image.fromarray(image.astype(np.uint8)).save(path)
    return str(path)


@pytest.fixture()
def crops(tmp_path) -> list[str]:
    return [_write_crop(tmp_path / f"{i}.png", i, 40 + 7 * i, 20 + 3 * i) for i in range(7)]


@pytest.fixture()
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    net = create_model(CFG, num_classes=4)
    net.train()(torch.randn(8, 3, 64, 32))  # BNNeck running stats away from identity
    return net.eval()


def test_preprocessing_matches_torchreid_feature_extractor(crops):
    import torchvision.transforms as T

    theirs = T.Compose([T.Resize((64, 32)), T.ToTensor(), T.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD)])
    ours = EvalCrops(crops, eval_transform(64, 32, IMAGENET_MEAN, IMAGENET_STD))
    for i, path in enumerate(crops):
        assert torch.equal(ours[i], theirs(Image.open(path).convert("RGB")))


def test_embeddings_equal_a_plain_forward_and_ignore_batching(crops, model):
    emb = extract_embeddings(model, crops, EXTRACT, IMAGENET_MEAN, IMAGENET_STD, device="cpu")
    assert emb.shape == (7, model.embed_dim) and emb.dtype == np.float32
    batch = torch.stack([EvalCrops(crops, eval_transform(64, 32, IMAGENET_MEAN, IMAGENET_STD))[i] for i in range(7)])
    with torch.no_grad():
        np.testing.assert_allclose(emb, model(batch).numpy(), atol=1e-5)
    workers = dataclasses.replace(EXTRACT, batch_size=4, workers=2)
    np.testing.assert_allclose(extract_embeddings(model, crops, workers, IMAGENET_MEAN, IMAGENET_STD), emb, atol=1e-5)


def test_normalised_rows_have_unit_norm(crops, model):
    cfg = dataclasses.replace(EXTRACT, normalize=True)
    emb = extract_embeddings(model, crops, cfg, IMAGENET_MEAN, IMAGENET_STD)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    raw = extract_embeddings(model, crops, EXTRACT, IMAGENET_MEAN, IMAGENET_STD)
    np.testing.assert_allclose(emb, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-5)


def test_flip_tta_is_the_mean_with_the_mirror(tmp_path, crops, model):
    mirrored = []
    for i, path in enumerate(crops):
        mirrored.append(str(tmp_path / f"m{i}.png"))
        Image.open(path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored[-1])
    flip = dataclasses.replace(EXTRACT, flip=True)
    tta = extract_embeddings(model, crops, flip, IMAGENET_MEAN, IMAGENET_STD)
    plain = extract_embeddings(model, crops, EXTRACT, IMAGENET_MEAN, IMAGENET_STD)
    mirror = extract_embeddings(model, mirrored, EXTRACT, IMAGENET_MEAN, IMAGENET_STD)
    np.testing.assert_allclose(tta, (plain + mirror) / 2, atol=1e-5)
    assert np.abs(tta - plain).max() > 1e-3  # the mirror changes something


def test_flip_tta_of_a_symmetric_image_equals_no_tta(tmp_path, model):
    half = np.random.default_rng(1).integers(0, 256, size=(64, 16, 3), dtype=np.uint8)
    Image.fromarray(np.concatenate([half, half[:, ::-1]], axis=1)).save(tmp_path / "sym.png")
    paths = [str(tmp_path / "sym.png")]
    tta = extract_embeddings(model, paths, dataclasses.replace(EXTRACT, flip=True), IMAGENET_MEAN, IMAGENET_STD)
    np.testing.assert_allclose(tta, extract_embeddings(model, paths, EXTRACT, IMAGENET_MEAN, IMAGENET_STD), atol=1e-5)


def test_a_corrupt_crop_is_a_one_line_error_from_the_workers(tmp_path, crops, model):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG truncated")
    cfg = dataclasses.replace(EXTRACT, workers=1)
    with pytest.raises(DataError) as info:
        extract_embeddings(model, [*crops, str(bad)], cfg, IMAGENET_MEAN, IMAGENET_STD)
    assert str(info.value) == f"{bad}: cannot decode image (truncated or not an image file)"


def _index(tmp_path: Path, split: str, crops: list[str], labelled: bool) -> None:
    n = len(crops)
    rows = {
        "path": crops,
        "split": split,
        "role": ["query", "gallery"] * (n // 2) + ["gallery"] * (n % 2),
        "bbox_idx": np.arange(n) + 100,
        "action_idx": np.arange(n) // 4,
        "person_uid": np.arange(n) % 3 if labelled else -1,
        "frame_idx": 0 if labelled else -1,
        "clazz": "Player_team_left" if labelled else "",
        "jersey": "",
        "uai": "",
        "height": 1,
        "width": 1,
        "game": "",
        "label": -1,
    }
    write_index(pd.DataFrame(rows)[list(COLUMNS)], tmp_path / "index", split)


def test_extract_split_builds_a_valid_feature_set(tmp_path, crops, model):
    _index(tmp_path, "challenge", crops, labelled=False)
    frame = pd.read_csv(tmp_path / "index" / "challenge.csv", keep_default_na=False)
    info = save_model(model, tmp_path / "model.pt", CFG, input_size=(64, 32))
    embedder = load_model(tmp_path / "model.pt").configure(batch_size=3)
    fs = extract_split(embedder, frame, "osnet_ain", "challenge")
    assert fs.person_uid is None and fs.normalized and fs.features.shape == (7, model.embed_dim)
    assert fs.embedder == info.weights_id == f"osnet_ain/x0_25@{info.weights_sha256[:12]}"
    expected = extract_embeddings(
        model, crops, dataclasses.replace(EXTRACT, flip=True, normalize=True), IMAGENET_MEAN, IMAGENET_STD
    )
    np.testing.assert_allclose(fs.features, expected, atol=1e-6)
    with pytest.raises(DataError, match="challenge: the index has no crops to extract"):
        extract_split(embedder, frame.iloc[:0], "osnet_ain", "challenge")


def _params(tmp_path: Path, **extract) -> Path:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["models"]["osnet_ain"].update(variant="x0_25", pretrained="none", neck="bnneck")
    raw["extract"]["osnet_ain"] = {
        "height": 64,
        "width": 32,
        "batch_size": 4,
        "workers": 0,
        "splits": ["valid", "challenge"],
        "differs_from_validation": "tiny test crops",
        **extract,
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _run_stage(tmp_path: Path, params: Path, weights: Path) -> subprocess.CompletedProcess:
    args = [
        "--params",
        str(params),
        "--model",
        "osnet_ain",
        "--weights",
        str(weights),
        "--index",
        str(tmp_path / "index"),
        "--out",
        str(tmp_path / "features"),
    ]
    return subprocess.run(
        [sys.executable, str(ROOT / "stages" / "extract.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


@pytest.mark.slow
def test_extract_stage_writes_valid_feature_files(tmp_path, crops, model):
    _index(tmp_path, "valid", crops, labelled=True)
    _index(tmp_path, "challenge", crops[:5], labelled=False)
    info = save_model(model, tmp_path / "model.pt", CFG, input_size=(48, 24))  # extract.osnet_ain says 64 x 32
    result = _run_stage(tmp_path, _params(tmp_path), tmp_path / "model.pt")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "features").iterdir()) == ["challenge.h5", "fingerprint.json", "valid.h5"]
    valid = read_features(tmp_path / "features" / "valid.h5")
    assert valid.model == "osnet_ain" and valid.split == "valid" and valid.normalized and valid.labelled
    assert valid.embedder == info.weights_id
    expected = extract_embeddings(
        model, crops, dataclasses.replace(EXTRACT, flip=True, normalize=True), IMAGENET_MEAN, IMAGENET_STD
    )
    by_bbox = dict(zip(valid.bbox_idx.tolist(), valid.features))
    np.testing.assert_allclose(np.stack([by_bbox[100 + i] for i in range(7)]), expected, atol=1e-5)
    assert not read_features(tmp_path / "features" / "challenge.h5").labelled


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.mark.slow
def test_extract_stage_re_extracts_only_when_model_file_config_or_crops_change(tmp_path, crops, model):
    _index(tmp_path, "valid", crops, labelled=True)
    _index(tmp_path, "challenge", crops[:5], labelled=False)
    weights = tmp_path / "model.pt"
    save_model(model, weights, CFG, input_size=(64, 32))
    assert _run_stage(tmp_path, _params(tmp_path), weights).returncode == 0
    written = _files(tmp_path / "features")
    (tmp_path / ".features.a1b2c3d4.tmp").mkdir()  # what a SIGKILLed extraction leaves

    kept = _run_stage(tmp_path, _params(tmp_path, workers=1), weights)  # DVC re-runs it: workers or a dep changed
    assert "kept: model file, extraction config and crops unchanged" in kept.stdout, kept.stderr
    assert _files(tmp_path / "features") == written
    assert not list(tmp_path.glob(".*.tmp"))

    def re_extracted(params: Path) -> bool:
        nonlocal written
        result = _run_stage(tmp_path, params, weights)
        assert result.returncode == 0, result.stderr
        before, written = written, _files(tmp_path / "features")
        return "kept" not in result.stdout and written["valid.h5"] != before["valid.h5"]

    assert re_extracted(_params(tmp_path, flip=False))
    _write_crop(Path(crops[0]), seed=99, height=40, width=20)
    assert re_extracted(_params(tmp_path, flip=False))
    save_model(create_model(CFG, num_classes=0).eval(), weights, CFG, input_size=(64, 32))
    assert re_extracted(_params(tmp_path, flip=False))


@pytest.mark.slow
def test_extract_stage_rejects_bad_input_before_work(tmp_path, crops, model):
    _index(tmp_path, "valid", crops, labelled=True)
    _index(tmp_path, "challenge", crops, labelled=False)
    result = _run_stage(tmp_path, _params(tmp_path), tmp_path / "absent.pt")
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"error: {tmp_path / 'absent.pt'}: model file not found "
        "(the train stage writes artifacts/models/<name>/model.pt)"
    )
    Path(crops[2]).unlink()
    result = _run_stage(tmp_path, _params(tmp_path), tmp_path / "absent.pt")
    assert (
        result.stderr.strip()
        == f"error: {tmp_path / 'index'}/valid.csv: crop file {crops[2]} not found (re-run the prepare stage?)"
    )
    assert not (tmp_path / "features").exists()


@pytest.mark.slow
def test_compiled_extraction_equals_eager_with_a_padded_last_batch(crops, model):
    eager_cfg = dataclasses.replace(EXTRACT, batch_size=4, flip=True, normalize=True)
    eager = extract_embeddings(model, crops, eager_cfg, IMAGENET_MEAN, IMAGENET_STD, device="cpu")
    compiled = extract_embeddings(
        model, crops, dataclasses.replace(eager_cfg, compile=True), IMAGENET_MEAN, IMAGENET_STD, device="cpu"
    )
    assert compiled.shape == eager.shape == (7, model.embed_dim)  # 7 crops: the last batch of 3 was padded to 4
    np.testing.assert_allclose(compiled, eager, atol=1e-5)
