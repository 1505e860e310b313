"""Tracker-ready exports: ImageNet-normalised input gives the DAG's feature; the deployed score on valid."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import soccerreid
from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD, ModelConfig
from soccerreid.data.index import read_index
from soccerreid.errors import ExportError
from soccerreid.export import (
    check_export,
    deployed_scores,
    export_file,
    export_tracker_file,
    load_runner,
    mean_pair_cosine,
    read_bgr,
    tracker_batch,
    tracker_features,
    write_sidecar,
)
from soccerreid.features import extract_split, make_loader
from soccerreid.models import create_model, save_model

CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


@pytest.fixture(scope="module")
def clip_model(tmp_path_factory):
    """A tiny OSNet-AIN model file normalised with CLIP's mean/std, BN statistics off init."""
    torch.manual_seed(2)
    cfg = ModelConfig(arch="osnet_ain", variant="x0_25", mean=CLIP_MEAN, std=CLIP_STD)
    model = create_model(cfg, num_classes=6)
    model.train()(torch.randn(8, 3, 64, 32))
    path = tmp_path_factory.mktemp("clip") / "clip.pt"
    save_model(model.eval(), path, cfg, input_size=(64, 32))
    return path


def _imagenet_batch(embedder, crops) -> np.ndarray:
    return next(iter(make_loader(crops, embedder.config, IMAGENET_MEAN, IMAGENET_STD))).numpy()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_imagenet_normalised_input_gives_the_dags_feature_with_clip_normalisation_folded_in(
    fmt, clip_model, crops, tmp_path
):
    embedder = soccerreid.load_model(clip_model)
    assert embedder.config.flip and embedder.config.normalize
    path = tmp_path / f"tracker.{fmt}"
    assert export_tracker_file(embedder, fmt, path, crops, name="clip") <= 1e-5
    x = _imagenet_batch(embedder, crops)
    features = load_runner(fmt, path)(x)
    np.testing.assert_allclose(features, embedder.embed(crops, device="cpu"), atol=1e-5)
    assert np.allclose(np.linalg.norm(features, axis=1), 1, atol=1e-5)  # L2 inside the graph
    no_flip = soccerreid.load_model(clip_model).configure(flip=False).embed(crops, device="cpu")
    assert np.abs(features - no_flip).max() > 1e-3  # the flip is inside the graph


def test_the_plain_export_fed_imagenet_input_is_not_the_dags_feature(clip_model, crops, tmp_path):
    """What BoxMOT would compute from the plain graph of a CLIP-normalised model: why the tracker graph exists."""
    embedder = soccerreid.load_model(clip_model)
    # TorchScript: the network of the plain ONNX graph (round trips in test_export.py), a quarter of the export time
    export_file(embedder, "torchscript", tmp_path / "model.torchscript", crops, name="clip")
    raw = load_runner("torchscript", tmp_path / "model.torchscript")(_imagenet_batch(embedder, crops))
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    assert np.abs(raw - embedder.embed(crops, device="cpu")).max() > 1e-3


def test_a_tracker_file_of_other_weights_fails_its_check(clip_model, crops, exported):
    path, _ = exported("osnet_ain", "onnx", tracker=True)
    with pytest.raises(ExportError, match=r"^clip: onnx features differ from the torch model's by "):
        check_export("onnx", path, soccerreid.load_model(clip_model), crops, name="clip")


def test_the_sidecar_gives_boxmot_the_input_size(model_files, tmp_path):
    embedder = soccerreid.load_model(model_files["dinov2_lora"])
    path = write_sidecar(tmp_path / "tracker.onnx", embedder, "dinov2_lora")
    assert path.name == "tracker.onnx.metadata.json"
    assert json.loads(path.read_text()) == {
        "schema_version": 1,
        "model_name": "soccerreid_dinov2_lora",
        "model_kwargs_schema_version": 1,
        "model_kwargs": {"img_size": [56, 28]},
    }


def test_a_supersampled_tracker_file_downsizes_in_the_graph_and_aliases_less(model_files, soccernet_valid, tmp_path):
    """At k = 2 the file takes (and the sidecar asks for) twice the input size and the graph downsizes
    it antialiased, as the DAG's resize does: on crops larger than the input, which cv2 aliases at
    k = 1, the tracker's features come closer to the DAG's. (The ONNX file at k = 2: test_boxmot.py.)"""
    embedder = soccerreid.load_model(model_files["osnet_ain"]).configure(height=32, width=16)
    frame = read_index(soccernet_valid, "valid")
    paths = frame.loc[frame["height"] >= 48, "path"].tolist()[:32]  # shrunk 1.5x or more at k = 1
    assert len(paths) >= 8, "the tiny valid split has too few large crops for this test"
    crops, dag = [read_bgr(p) for p in paths], embedder.embed(paths, device="cpu")
    cosine = {}
    for k in (1, 2):
        file = tmp_path / f"x{k}.torchscript"
        assert export_tracker_file(embedder, "torchscript", file, paths[:4], "osnet_ain", supersample=k) <= 1e-5
        size = json.loads(write_sidecar(file, embedder, "osnet_ain", k).read_text())["model_kwargs"]["img_size"]
        assert size == [32 * k, 16 * k]
        cosine[k] = float((tracker_features(load_runner("torchscript", file), crops, *size) * dag).sum(axis=1).mean())
    assert cosine[2] > cosine[1], cosine
    with pytest.raises(ExportError, match=r"^supersample: expected an integer from 1 to 8, got 9$"):
        write_sidecar(tmp_path / "x9.onnx", embedder, "osnet_ain", 9)


def test_tracker_preprocessing_is_cv2_bilinear_on_bgr_then_imagenet(crops):
    bgr = read_bgr(crops[0])
    x = tracker_batch([bgr], 64, 32)
    assert x.shape == (1, 3, 64, 32) and x.dtype == np.float32
    import cv2

    rgb = cv2.resize(bgr, (32, 64), interpolation=cv2.INTER_LINEAR)[..., ::-1].astype(np.float32) / 255
    expected = ((rgb - np.float32(IMAGENET_MEAN)) / np.float32(IMAGENET_STD)).transpose(2, 0, 1)
    np.testing.assert_array_equal(x[0], expected)
    features = tracker_features(lambda b: np.ones((len(b), 4), np.float32) * [np.nan, 3, 4, 0], [bgr, bgr], 64, 32)
    np.testing.assert_allclose(features, [[0, 0.6, 0.8, 0], [0, 0.6, 0.8, 0]])  # non-finite -> 0, then L2


def test_the_deployed_score_sits_beside_the_dags(model_files, soccernet_valid, exported):
    embedder = soccerreid.load_model(model_files["osnet_ain"])
    frame = read_index(soccernet_valid, "valid")
    dag = extract_split(embedder, frame, "osnet_ain", "valid", device="cpu")
    run = load_runner("onnx", exported("osnet_ain", "onnx", tracker=True)[0])
    shuffled = frame.sample(frac=1.0, random_state=0)  # rows are matched by (role, bbox_idx), not by order
    scores = deployed_scores(run, shuffled, dag, embedder.config.height, embedder.config.width)
    assert scores["dag"]["mAP"] == pytest.approx(soccerreid.evaluate(embedder, soccernet_valid, device="cpu")["mAP"])
    assert scores["crops"] == len(frame) and scores["dag"]["num_queries"] == scores["deployed"]["num_queries"]
    assert 0.9 < scores["cosine_mean"] <= 1.0 + 1e-6 and scores["cosine_min"] <= scores["cosine_mean"]
    assert scores["cosine_between_crops"] == pytest.approx(mean_pair_cosine(dag.features))
    assert -1.0 <= scores["cosine_between_crops"] < scores["cosine_min"]  # two crops lie further apart
    assert scores["deployed"]["mAP"] != scores["dag"]["mAP"]  # cv2's resize is not PIL's: measured, not assumed


def test_mean_pair_cosine_averages_every_pair_of_different_rows():
    assert mean_pair_cosine(np.eye(3)) == pytest.approx(0.0)
    assert mean_pair_cosine(np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])) == pytest.approx(1 / 3)  # lengths ignored
    assert mean_pair_cosine(np.array([[1.0, 0.0], [-3.0, 0.0]])) == pytest.approx(-1.0)
    assert mean_pair_cosine(np.ones((1, 4))) is None
    alternating = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert mean_pair_cosine(alternating) == pytest.approx(0.4)  # 4 of the 10 pairs point the same way
    assert mean_pair_cosine(alternating, rows=3) == pytest.approx(1.0)  # rows 0, 2 and 4, evenly spaced


def test_the_card_reads_the_tracker_cosine_against_the_spread_when_there_is_one():
    from soccerreid.export._card import _deployed

    section = {"mAP": 0.5, "rank1": 0.4, "num_queries": 3}
    deployed = {"dag": section, "deployed": section, "cosine_mean": 0.9, "cosine_min": 0.8, "crops": 5}
    assert "a mean cosine of 0.0523" in _deployed({**deployed, "cosine_between_crops": 0.05234})[-1]
    assert _deployed({**deployed, "cosine_between_crops": None})[-1].endswith("over 5 crops.")  # one crop: no pair
