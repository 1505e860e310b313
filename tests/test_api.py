"""The Python API: load_model + embed on every kind of input, rank against the DAG's own chain,
evaluate against the official scorer."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import soccerreid
from soccerreid.config.models import ExtractConfig
from soccerreid.data.index import read_index
from soccerreid.errors import ConfigError, DataError
from soccerreid.evaluation import score_blocks
from soccerreid.evaluation.ranking import official_scores, ranking_from_blocks
from soccerreid.features import extract_embeddings, extract_split
from soccerreid.images import read_rgb
from soccerreid.retrieval import features_to_blocks, rerank_blocks
from soccerreid.retrieval.fusion import fuse_weighted


@pytest.fixture(scope="module")
def osnet(model_files):
    return soccerreid.load_model(model_files["osnet_ain"])


@pytest.fixture(scope="module")
def crops(soccernet_valid) -> list[str]:
    return read_index(soccernet_valid, "valid")["path"].tolist()[:6]


def test_load_model_reads_everything_from_the_file(osnet, model_files):
    assert (osnet.info.arch, osnet.info.variant, osnet.dim) == ("osnet_ain", "x0_25", 512)
    assert (osnet.config.height, osnet.config.width, osnet.config.flip, osnet.config.normalize) == (64, 32, True, True)
    assert osnet.info.training == {"val_mAP": 0.25, "best_epoch": 1}


def test_embed_takes_paths_pil_images_and_arrays_alike(osnet, crops):
    from_paths = osnet.embed(crops)
    assert from_paths.shape == (6, 512) and from_paths.dtype == np.float32
    np.testing.assert_allclose(osnet.embed(crops, batch_size=4), from_paths, atol=1e-6)  # batching changes nothing
    np.testing.assert_allclose(np.linalg.norm(from_paths, axis=1), 1.0, atol=1e-5)
    arrays = [read_rgb(p) for p in crops]
    assert np.array_equal(osnet.embed(arrays), from_paths)
    assert np.array_equal(osnet.embed([Image.open(p) for p in crops]), from_paths)
    np.testing.assert_allclose(
        osnet.embed([crops[0], arrays[1], Image.fromarray(arrays[2])]), from_paths[:3], atol=1e-6
    )
    same_size = np.stack([np.asarray(Image.fromarray(a).resize((20, 50))) for a in arrays])
    assert np.array_equal(osnet.embed(same_size), osnet.embed(list(same_size)))  # one (N, H, W, 3) array
    settings = ExtractConfig(height=64, width=32, batch_size=64, workers=0)
    expected = extract_embeddings(osnet.network, crops, settings, osnet.info.mean, osnet.info.std, device="cpu")
    assert np.array_equal(from_paths, expected)


def test_configure_changes_the_settings_not_the_weights(osnet, crops):
    plain = osnet.configure(flip=False, normalize=False)
    assert osnet.config.flip and not plain.config.flip and plain.network is osnet.network
    raw = plain.embed(crops[:2])
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    with pytest.raises(ConfigError) as info:
        osnet.configure(batch_size=0)
    assert str(info.value) == f"{osnet.source}: batch_size: expected a value >= 1, got 0"


def test_a_vit_input_size_must_be_a_multiple_of_its_patch(model_files):
    dino = soccerreid.load_model(model_files["dinov2_lora"])
    with pytest.raises(ConfigError) as info:
        dino.configure(height=50)
    assert str(info.value) == (
        f"{model_files['dinov2_lora']}: height x width: dinov2_lora needs height and width "
        "that are multiples of its patch size 14, got 50x28 (nearest: 56x28)"
    )


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ("crop.png", "images: expected a sequence of images (or an (N, H, W, 3) uint8 array), got a single str"),
        (
            np.zeros((8, 4, 3), np.uint8),
            "images: expected a sequence of images (or an (N, H, W, 3) uint8 array), got an array of shape (8, 4, 3)",
        ),
        (
            [np.zeros((8, 4), np.uint8)],
            "images: image 0: expected an (H, W, 3) uint8 RGB array, got shape (8, 4) dtype uint8",
        ),
        (
            [np.zeros((8, 4, 3), np.float32)],
            "images: image 0: expected an (H, W, 3) uint8 RGB array, got shape (8, 4, 3) dtype float32",
        ),
        (
            [np.zeros((0, 4, 3), np.uint8)],
            "images: image 0: expected an (H, W, 3) uint8 RGB array, got shape (0, 4, 3) dtype uint8",
        ),
        ([b"bytes"], "images: image 0: expected a file path, a PIL image or an (H, W, 3) uint8 array, got bytes"),
        (["absent.png"], "images: crop file absent.png not found"),
    ],
)
def test_bad_images_are_one_line_errors_before_any_work(osnet, images, message):
    with pytest.raises(DataError) as info:
        osnet.embed(images)
    assert str(info.value) == message


def test_an_undecodable_file_names_itself(osnet, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError) as info:
        osnet.embed([bad])
    assert str(info.value) == f"{bad}: cannot decode image (truncated or not an image file)"


def _brute_force(q, g, qa, ga):
    """Each query's same-action gallery rows by cosine distance, nearest first (stable)."""
    qn, gn = q / np.linalg.norm(q, axis=1, keepdims=True), g / np.linalg.norm(g, axis=1, keepdims=True)
    out = []
    for i in range(len(q)):
        rows = np.flatnonzero(ga == qa[i])
        dist = 1 - gn[rows] @ qn[i]
        order = np.argsort(dist, kind="stable")
        out.append((rows[order], dist[order]))
    return out


def test_rank_orders_each_querys_own_action_gallery():
    rng = np.random.default_rng(0)
    q, g = rng.normal(size=(9, 16)).astype(np.float32), rng.normal(size=(20, 16)).astype(np.float32)
    qa, ga = rng.integers(0, 3, 9), np.concatenate([rng.integers(0, 3, 17), [0, 1, 2]])
    result = soccerreid.rank(q, g, query_actions=qa, gallery_actions=ga)
    for i, (rows, dist) in enumerate(_brute_force(q, g, qa, ga)):
        assert result.indices[i, : rows.size].tolist() == rows.tolist()
        assert (result.indices[i, rows.size :] == -1).all() and np.isinf(result.distances[i, rows.size :]).all()
        np.testing.assert_allclose(result.distances[i, : rows.size], dist, atol=1e-6)
    top = soccerreid.rank(q, g, query_actions=qa, gallery_actions=ga, top_k=2)
    assert top.indices.shape == (9, 2) and np.array_equal(top.indices, result.indices[:, :2])
    everything = soccerreid.rank(q, g)  # no actions: the whole gallery
    assert everything.indices.shape == (9, 20)
    assert everything.indices[0].tolist() == _brute_force(q, g, np.zeros(9), np.zeros(20))[0][0].tolist()


def test_rank_needs_a_gallery_in_every_querys_action():
    q, g = np.ones((2, 4), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(DataError, match="action 7 has queries but no gallery images"):
        soccerreid.rank(q, g, query_actions=np.array([0, 7]), gallery_actions=np.array([0, 0, 1]))
    with pytest.raises(ValueError, match="query features are 4-d but gallery features 3-d"):
        soccerreid.rank(q, np.ones((3, 3), np.float32))


def test_rank_fuses_and_reranks_exactly_as_the_dag(model_files, soccernet_valid):
    """Two models' features of the real-format valid split, ranked by the DAG's chain (per-action
    blocks, weighted fusion, k-reciprocal re-ranking, official-format ranking) and by rank()."""
    frame = read_index(soccernet_valid, "valid")
    sets = [
        extract_split(soccerreid.load_model(model_files[m]), frame, m, "valid") for m in ("osnet_ain", "dinov2_lora")
    ]
    dag = rerank_blocks(fuse_weighted([features_to_blocks(fs) for fs in sets], (0.7, 0.3)), 20, 6, 0.3)
    expected = ranking_from_blocks(dag)
    query, gallery = sets[0].is_query, ~sets[0].is_query
    result = soccerreid.rank(
        [fs.features[query] for fs in sets],
        [fs.features[gallery] for fs in sets],
        query_actions=sets[0].action_idx[query],
        gallery_actions=sets[0].action_idx[gallery],
        method="weighted",
        weights=(0.7, 0.3),
        rerank=(20, 6, 0.3),
    )
    q_bbox, g_bbox = sets[0].bbox_idx[query], sets[0].bbox_idx[gallery]
    ours = {str(q): [int(g_bbox[g]) for g in row if g >= 0] for q, row in zip(q_bbox.tolist(), result.indices)}
    assert ours == expected


def test_evaluate_scores_like_the_dag_and_the_official_scorer(model_files, soccernet_valid):
    scores = soccerreid.evaluate(model_files["osnet_ain"], soccernet_valid, "valid", device="cpu")
    frame = read_index(soccernet_valid, "valid")
    blocks = features_to_blocks(
        extract_split(soccerreid.load_model(model_files["osnet_ain"]), frame, "osnet_ain", "valid")
    )
    assert {k: v for k, v in scores.items() if k != "official"} == score_blocks(blocks, classes=True)
    truth = soccernet_valid.parent / "raw" / "reid" / "valid" / "valid_bbox_info.json"
    official = official_scores(json.loads(truth.read_text()), ranking_from_blocks(blocks))
    assert scores["official"] == {
        **official,
        "agrees": True,
        "actions": blocks.sizes.size,
        "queries": scores["num_queries"],
    }
    assert official["mAP"] == scores["mAP"] and 0 < scores["mAP"] <= 1


def test_evaluate_refuses_an_unlabelled_split(model_files, soccernet_valid, tmp_path):
    frame = read_index(soccernet_valid, "valid").assign(person_uid=-1, split="test")
    frame.to_csv(tmp_path / "test.csv", index=False)
    with pytest.raises(DataError, match=r"test.csv: split test is unlabelled; evaluate needs valid or test"):
        soccerreid.evaluate(model_files["osnet_ain"], tmp_path, "test")


def test_a_torchreid_checkpoint_becomes_a_model_file(tmp_path, soccernet_valid):
    """A checkpoint trained with torchreid is wrapped into a model file, then used like ours."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Cython evaluation")
        from torchreid.reid.models import build_model

    from soccerreid.config.models import ModelConfig
    from soccerreid.features import make_loader
    from soccerreid.models import create_model, save_model

    torch.manual_seed(3)
    theirs = build_model("osnet_ain_x0_25", num_classes=10, loss="softmax", pretrained=False)
    theirs.train()(torch.randn(4, 3, 64, 32))  # BN statistics off init
    torch.save({"state_dict": theirs.state_dict(), "epoch": 60}, tmp_path / "torchreid.pth.tar")
    cfg = ModelConfig(arch="osnet_ain", variant="x0_25", neck="none", pretrained=str(tmp_path / "torchreid.pth.tar"))
    save_model(create_model(cfg, num_classes=0).eval(), tmp_path / "wrapped.pt", cfg, input_size=(64, 32))
    model = soccerreid.load_model(tmp_path / "wrapped.pt").configure(flip=False, normalize=False)
    crops = read_index(soccernet_valid, "valid")["path"].tolist()[:5]
    x = next(iter(make_loader(crops, model.config, model.info.mean, model.info.std)))
    with torch.no_grad():
        np.testing.assert_allclose(model.embed(crops, device="cpu"), theirs.eval()(x).numpy(), atol=1e-5)
    assert 0 <= soccerreid.evaluate(model, soccernet_valid, "valid", device="cpu")["mAP"] <= 1


_Q, _G = np.eye(3, 4, dtype=np.float32), np.eye(5, 4, dtype=np.float32)


@pytest.mark.parametrize(
    ("query", "kwargs", "message"),
    [
        (np.array([[np.nan, 0, 0, 1]] + [[1, 0, 0, 0]] * 2, np.float32), {}, "query[0]: row 0 is not finite"),
        (_Q, {"gallery": _G * np.inf}, "gallery[0]: row 0 is not finite"),
        (np.zeros((0, 4), np.float32), {}, "query[0]: expected a non-empty (N, D) array with D >= 1, got shape (0, 4)"),
        (np.zeros((3, 0), np.float32), {}, "query[0]: expected a non-empty (N, D) array with D >= 1, got shape (3, 0)"),
        ([], {}, "query: expected an (N, D) array or a list of them, got an empty list"),
        (_Q, {"top_k": -1}, "top_k: expected None or an integer >= 0 (0: the whole gallery), got -1"),
        (_Q, {"top_k": 2.5}, "top_k: expected None or an integer >= 0 (0: the whole gallery), got 2.5"),
        (_Q, {"rerank": (0, 6, 0.3)}, "rerank.k1: expected a value >= 1, got 0"),
        (_Q, {"rerank": (20, 6, 1.5)}, "rerank.lambda: expected a value <= 1.0, got 1.5"),
        (_Q, {"rerank": (20, 6, float("nan"))}, "rerank.lambda: expected a finite number, got nan"),
        (_Q, {"rerank": (20, 6)}, "rerank: expected (k1, k2, lambda), got (20, 6)"),
        (_Q, {"method": "max"}, "method: expected one of ['concat', 'mean', 'weighted', 'grid'], got 'max'"),
        (_Q, {"metric": "l1"}, "metric: expected one of ['cosine', 'euclidean'], got 'l1'"),
        (
            _Q,
            {"query_actions": np.array([0, -1, 0]), "gallery_actions": np.zeros(5, int)},
            "query_actions: expected action ids >= 0, got -1",
        ),
    ],
)
def test_rank_refuses_bad_arguments_in_one_line_naming_them(query, kwargs, message):
    kwargs = {"gallery": _G, **kwargs}
    with pytest.raises(ValueError) as info:
        soccerreid.rank(query, **kwargs)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_rank_top_k_0_is_the_whole_gallery_as_in_the_command():
    whole = soccerreid.rank(_Q, _G, top_k=0)
    assert whole.indices.shape == (3, 5) and np.array_equal(whole.indices, soccerreid.rank(_Q, _G).indices)


def test_evaluate_refuses_bad_arguments_before_loading_the_model(tmp_path, soccernet_valid):
    absent = tmp_path / "absent.pt"  # never read: the arguments are refused first
    with pytest.raises(
        ValueError, match=r"^official_actions: expected None \(every action\) or an integer >= 1, got 0$"
    ):
        soccerreid.evaluate(absent, soccernet_valid, official_actions=0)
    with pytest.raises(ValueError, match=r"^metric: expected one of \['cosine', 'euclidean'\], got 'l2'$"):
        soccerreid.evaluate(absent, soccernet_valid, metric="l2")
