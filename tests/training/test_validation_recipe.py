"""Per-epoch validation scores the shipped feature: extraction's transform, flip and size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from soccerreid.config import load_params, parse_params
from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD, ExtractConfig, ModelConfig, PhaseConfig, TrainConfig
from soccerreid.data.index import read_index
from soccerreid.errors import ConfigError
from soccerreid.evaluation import score_embeddings
from soccerreid.features import extract_embeddings
from soccerreid.features.extract import eval_transform
from soccerreid.training import train_model
from soccerreid.training.augment import resize, to_float
from soccerreid.training.validate import select_val_actions

ROOT = Path(__file__).resolve().parents[2]
ONE_LEVEL = 1.0 / (255.0 * min(IMAGENET_STD)) + 1e-5  # one grey level after normalising


def _crops() -> list[np.ndarray]:
    """Noisy crops from 20 to 400 px high: shrunk and enlarged to the input sizes below."""
    rng = np.random.default_rng(0)
    sizes = [(20, 9), (45, 20), (80, 33), (130, 64), (255, 127), (300, 140), (400, 170)]
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]


def _normalised(img: np.ndarray) -> torch.Tensor:
    return to_float(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None], IMAGENET_MEAN, IMAGENET_STD)[
        0
    ]


@pytest.mark.parametrize(("height", "width"), [(256, 128), (128, 64), (64, 32)])
def test_training_resize_matches_the_eval_transform_to_one_grey_level(height, width):
    transform = eval_transform(height, width, IMAGENET_MEAN, IMAGENET_STD)
    worst_ours, worst_cv2 = 0.0, 0.0
    for img in _crops():
        expected = transform(Image.fromarray(img))
        worst_ours = max(worst_ours, float((_normalised(resize(img, height, width)) - expected).abs().max()))
        area = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)  # the resize training used before
        worst_cv2 = max(worst_cv2, float((_normalised(area) - expected).abs().max()))
    assert worst_ours <= ONE_LEVEL
    assert worst_cv2 > 10 * ONE_LEVEL  # the check tells the two resizes apart


@pytest.mark.slow
def test_final_val_map_is_the_score_of_the_exported_feature(tmp_path, tiny_index):
    """The exported model's features, extracted as the extract stage does (flip on), score exactly
    the final phase's best validation mAP on the same valid actions."""
    train = TrainConfig(
        phases=(PhaseConfig(epochs=1, height=64, width=32),),
        lr=0.003,
        warmup_epochs=0,
        ids_per_batch=8,
        images_per_id=2,
        ids_per_action=4,
        workers=0,
        val_queries=20,
        bn_batches=2,
    )
    cfg = ModelConfig(arch="osnet_ain", variant="x0_25", train=train)
    valid = read_index(tiny_index, "valid")
    result = train_model(cfg, read_index(tiny_index, "train"), valid, tmp_path / "ckpt", progress=False)
    rows = select_val_actions(valid, train.val_queries, train.seed)
    features = extract_embeddings(
        result.model,
        rows["path"].tolist(),
        ExtractConfig(height=64, width=32, workers=0),
        cfg.mean,
        cfg.std,
        device="cpu",
    )
    shipped = score_embeddings(
        features, rows["action_idx"].to_numpy(), rows["person_uid"].to_numpy(), (rows["role"] == "query").to_numpy()
    )
    assert result.summary["final_val_mAP"] == pytest.approx(float(shipped["mAP"]), abs=1e-6)
    unflipped = extract_embeddings(
        result.model,
        rows["path"].tolist(),
        ExtractConfig(height=64, width=32, workers=0, flip=False),
        cfg.mean,
        cfg.std,
        device="cpu",
    )
    assert not np.allclose(unflipped, features, atol=1e-3)  # flip changes the feature that is scored


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_extraction_unlike_validation_is_an_error_unless_a_reason_is_given(raw):
    raw["extract"]["osnet_ain"].update(height=256, width=128)
    with pytest.raises(ConfigError) as info:
        parse_params(raw)
    assert str(info.value) == (
        "params.yaml: extract.osnet_ain: extracts at 256x128 with flip on, but models.osnet_ain picks its best "
        "epoch on validation at 128x64 with flip on (its last phase, train.val_flip): make them equal, or give "
        "the reason in extract.osnet_ain.differs_from_validation"
    )
    raw["extract"]["osnet_ain"].update(height=128, width=64)
    raw["models"]["osnet_ain"]["train"]["val_flip"] = False
    with pytest.raises(ConfigError, match="extracts at 128x64 with flip on, but .* at 128x64 with flip off"):
        parse_params(raw)
    raw["extract"]["osnet_ain"]["differs_from_validation"] = "validation without TTA halves its cost"
    assert not parse_params(raw).models["osnet_ain"].train.val_flip


@pytest.mark.parametrize("preset", ["params.yaml", "presets/smoke.yaml", "presets/soccernet.yaml"])
def test_every_shipped_config_validates_on_the_feature_it_extracts(preset):
    params = load_params(ROOT / preset)
    for name, model in params.models.items():
        last, extract = model.train.phases[-1], params.extract[name]
        assert (last.height, last.width, model.train.val_flip) == (extract.height, extract.width, extract.flip), name
        assert extract.differs_from_validation == ""
