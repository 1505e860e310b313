"""Losses, the action-aware PK sampler, augmentations, LR schedules and training config errors."""

from __future__ import annotations

import copy
import dataclasses
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from soccerreid.config import load_params, parse_params
from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD, AugmentConfig, ModelConfig, TrainConfig
from soccerreid.data.index import read_index
from soccerreid.errors import ConfigError, DataError
from soccerreid.training import weights_fingerprint
from soccerreid.training.augment import augment_sample, resize, to_float
from soccerreid.training.losses import CenterLoss, ReidLoss, batch_hard_triplet
from soccerreid.training.optim import lr_factor, make_optimizer, make_scheduler
from soccerreid.training.sampler import ActionPKSampler

ROOT = Path(__file__).resolve().parents[2]


# ---- losses -------------------------------------------------------------------------------


def _triplet_by_loops(x: torch.Tensor, y: torch.Tensor, margin: float) -> torch.Tensor:
    losses = []
    for a in range(len(y)):
        d = (x - x[a]).norm(dim=1)
        pos = [d[j] for j in range(len(y)) if y[j] == y[a] and j != a]
        neg = [d[j] for j in range(len(y)) if y[j] != y[a]]
        if pos and neg:
            losses.append(torch.relu(max(pos) - min(neg) + margin))
    return torch.stack(losses).mean()


def test_batch_hard_triplet_matches_a_loop():
    torch.manual_seed(0)
    x = torch.randn(12, 5)
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 5])  # 4 and 5: no positive, skipped
    assert batch_hard_triplet(x, y, 0.3).item() == pytest.approx(_triplet_by_loops(x, y, 0.3).item(), rel=1e-5)


def test_triplet_is_zero_for_separated_identities_and_has_finite_grad():
    x = torch.tensor([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0], [10.0, 0.0]], requires_grad=True)
    y = torch.tensor([0, 0, 1, 1])
    loss = batch_hard_triplet(x, y, 0.3)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(x.grad).all()


def test_reid_loss_combines_terms_with_weights():
    torch.manual_seed(0)
    logits, feats, y = torch.randn(8, 4), torch.randn(8, 6), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss = ReidLoss(4, 6, label_smoothing=0.1, margin=0.3, triplet_weight=0.5, center_weight=0.2)
    parts = loss(logits, feats, y)
    ce = torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.1)
    expected = ce + 0.5 * batch_hard_triplet(feats, y, 0.3) + 0.2 * loss.center(feats, y)
    assert parts["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert parts["center"].item() > 0


def test_center_loss_pulls_centers_to_class_means():
    torch.manual_seed(0)
    feats = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 5.0]])
    y = torch.tensor([0, 0, 1])
    center = CenterLoss(2, 2)
    opt = torch.optim.SGD(center.parameters(), lr=0.5)
    for _ in range(200):
        opt.zero_grad()
        center(feats, y).backward()
        opt.step()
    assert torch.allclose(center.centers.detach(), torch.tensor([[2.0, 0.0], [0.0, 5.0]]), atol=1e-3)


# ---- sampler ------------------------------------------------------------------------------


def _toy_labels() -> tuple[np.ndarray, np.ndarray]:
    sizes = np.array([1, 2, 3, 5] * 12)  # 48 identities, many with a single image
    labels = np.repeat(np.arange(48), sizes)
    actions = np.repeat(np.arange(48) // 6, sizes)  # 8 actions of 6 identities
    return labels, actions


def _sampler(**kw) -> ActionPKSampler:
    labels, actions = _toy_labels()
    args = dict(ids_per_batch=8, images_per_id=4, ids_per_action=4, seed=3)
    args.update(kw)
    return ActionPKSampler(labels, actions, **args)


def test_pk_batches_group_identities_by_action_and_repeat_single_images():
    labels, actions = _toy_labels()
    sampler = _sampler()
    batches = list(sampler)
    assert len(batches) == len(sampler) == 8  # 60 slots of K=4 (a 5-image identity fills two), 8 per batch
    seen = set()
    for batch in batches:
        rows = np.array([r for r, _ in batch])
        ids = labels[rows].reshape(8, 4)
        assert (ids == ids[:, :1]).all(), "K consecutive samples per identity"
        group_actions = actions[rows].reshape(2, 16)
        assert (group_actions == group_actions[:, :1]).any(axis=1).all()
        seen.update(ids[:, 0].tolist())
        for identity_rows, seeds in zip(rows.reshape(8, 4), np.array([s for _, s in batch]).reshape(8, 4)):
            assert len(set(seeds.tolist())) == 4, "every copy gets its own augmentation seed"
            available = np.flatnonzero(labels == labels[identity_rows[0]])
            assert len(set(identity_rows.tolist())) == min(4, len(available)), "distinct images first"
    assert len(seen) == 48, "every identity in every epoch"
    every_row = {r for batch in batches for r, _ in batch}
    assert every_row == set(range(len(labels))), "every image in every epoch"


def test_pk_sampler_fills_groups_from_one_action():
    labels, actions = _toy_labels()
    sampler = _sampler(ids_per_action=4)
    same_action_groups = 0
    for batch in sampler:
        rows = np.array([r for r, _ in batch]).reshape(2, 16)
        same_action_groups += sum(len(set(actions[g].tolist())) == 1 for g in rows)
    assert same_action_groups >= len(sampler)  # at least half the groups are pure


def test_pk_sampler_is_deterministic_per_seed_and_epoch():
    a, b = _sampler(), _sampler()
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(3)
    assert list(a) != list(b)
    assert list(_sampler(seed=4)) != list(_sampler(seed=3))


def test_pk_sampler_shards_are_disjoint_and_cover_the_global_batch():
    whole = list(_sampler())
    shards = [list(_sampler(rank=r, world_size=2)) for r in range(2)]
    for step, batch in enumerate(whole):
        assert shards[0][step] + shards[1][step] == batch
        assert len(shards[0][step]) == len(shards[1][step]) == 16


def test_pk_sampler_errors():
    with pytest.raises(ConfigError, match=r"^ids_per_batch: expected a multiple of the world size 3, got 8$"):
        _sampler(world_size=3)
    labels, actions = np.array([0, 0, 1]), np.array([0, 0, 0])
    with pytest.raises(DataError, match=r"^train set has 2 identities, fewer than ids_per_batch=8$"):
        ActionPKSampler(labels, actions, ids_per_batch=8, images_per_id=2, ids_per_action=2, seed=0)


# ---- augmentation -------------------------------------------------------------------------


def _crop(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (90, 40, 3), dtype=np.uint8)


def test_augment_sample_shape_and_determinism():
    aug = AugmentConfig()
    out = augment_sample(_crop(), 64, 32, aug, seed=5)
    assert out.shape == (64, 32, 3) and out.dtype == np.uint8
    assert np.array_equal(out, augment_sample(_crop(), 64, 32, aug, seed=5))
    assert not np.array_equal(out, augment_sample(_crop(), 64, 32, aug, seed=6))


def test_augment_sample_without_augmentation_is_a_resize():
    off = AugmentConfig(flip=0.0, pad=0, color_jitter=0.0, random_erasing=0.0)
    img = _crop()
    out = augment_sample(img, 90, 40, off, seed=1)
    assert np.array_equal(out, img)


def test_tracker_resize_draws_cv2s_kernel_and_leaves_the_stream_alone_when_off():
    img = np.random.default_rng(0).integers(0, 256, (150, 60, 3), dtype=np.uint8)
    plain = AugmentConfig(flip=0.0, pad=0, color_jitter=0.0, random_erasing=0.0)
    tracker = AugmentConfig(flip=0.0, pad=0, color_jitter=0.0, random_erasing=0.0, tracker_resize=1.0)
    cv2_out = cv2.resize(img, (20, 50), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(augment_sample(img, 50, 20, tracker, seed=3), cv2_out)
    assert not np.array_equal(augment_sample(img, 50, 20, plain, seed=3), cv2_out)  # antialiased: another image
    half = AugmentConfig(flip=0.0, pad=0, color_jitter=0.0, random_erasing=0.0, tracker_resize=0.5)
    kernels = {np.array_equal(augment_sample(img, 50, 20, half, seed=s), cv2_out) for s in range(20)}
    assert kernels == {True, False}
    # off, it draws nothing: the flip is still the seed's first draw, as before the switch existed
    flips = AugmentConfig(flip=0.5, pad=0, color_jitter=0.0, random_erasing=0.0)
    mirrored = resize(img, 50, 20)[:, ::-1]
    for seed in range(20):
        flipped = np.array_equal(augment_sample(img, 50, 20, flips, seed=seed), mirrored)
        assert flipped == (random.Random(seed).random() < 0.5)


def test_augment_flip_and_erase_do_what_they_say():
    img = _crop()
    flipped = augment_sample(img, 90, 40, AugmentConfig(flip=1.0, pad=0, color_jitter=0.0, random_erasing=0.0), 0)
    assert np.array_equal(flipped, img[:, ::-1])
    erased = augment_sample(img, 90, 40, AugmentConfig(flip=0.0, pad=0, color_jitter=0.0, random_erasing=1.0), 0)
    fill = np.round(np.asarray(IMAGENET_MEAN) * 255).astype(np.uint8)
    changed = (erased != img).any(axis=2)
    assert 0.01 * changed.size < changed.sum() <= 0.41 * changed.size
    assert (erased[changed] == fill).all()


def test_pad_crop_shifts_content_and_fills_zeros():
    img = np.full((20, 10, 3), 200, np.uint8)
    outs = [
        augment_sample(img, 20, 10, AugmentConfig(flip=0, pad=4, color_jitter=0, random_erasing=0), s)
        for s in range(20)
    ]
    assert any((o == 0).any() for o in outs)
    assert all(((o == 0) | (o == 200)).all() for o in outs)


def test_color_jitter_keeps_grey_pixels_grey_and_changes_levels():
    img = np.full((32, 16, 3), 100, np.uint8)
    outs = [
        augment_sample(img, 32, 16, AugmentConfig(flip=0, pad=0, color_jitter=0.4, random_erasing=0), s)
        for s in range(10)
    ]
    assert all((o[..., 0] == o[..., 1]).all() and (o[..., 1] == o[..., 2]).all() for o in outs)
    assert len({int(o[0, 0, 0]) for o in outs}) > 3


def test_to_float_normalises():
    batch = torch.full((2, 3, 4, 2), 255, dtype=torch.uint8)
    x = to_float(batch, IMAGENET_MEAN, IMAGENET_STD)
    expected = (1.0 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert x.dtype == torch.float32 and x.shape == (2, 3, 4, 2)
    assert torch.allclose(x[0, :, 0, 0], expected, atol=1e-6)


# ---- optimisation -------------------------------------------------------------------------


def test_warmup_then_cosine_and_step_schedules():
    cfg = TrainConfig(warmup_epochs=1, schedule="cosine")
    assert lr_factor(0, cfg, epochs=3, steps_per_epoch=10) == pytest.approx(0.1)
    assert lr_factor(9, cfg, epochs=3, steps_per_epoch=10) == pytest.approx(1.0)
    assert lr_factor(20, cfg, epochs=3, steps_per_epoch=10) == pytest.approx(0.5)
    step = TrainConfig(warmup_epochs=0, schedule="step", step_size=2, gamma=0.1)
    assert [lr_factor(s, step, 6, 10) for s in (0, 19, 20, 45)] == pytest.approx([1.0, 1.0, 0.1, 0.01])


def test_scheduler_drives_optimizer_lr_and_sgd_is_selectable():
    w = torch.nn.Parameter(torch.zeros(2))
    frozen = torch.nn.Parameter(torch.zeros(2), requires_grad=False)
    cfg = TrainConfig(optimizer="sgd", lr=0.1, warmup_epochs=1)
    opt = make_optimizer([w, frozen], cfg)
    assert isinstance(opt, torch.optim.SGD) and len(opt.param_groups[0]["params"]) == 1
    sched = make_scheduler(opt, cfg, epochs=2, steps_per_epoch=4)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)
    for _ in range(3):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_weights_fingerprint_follows_what_shapes_the_weights(tmp_path, tiny_index):
    train, valid = read_index(tiny_index, "train"), read_index(tiny_index, "valid")
    cfg = ModelConfig(arch="osnet_ain", variant="x0_25", train=TrainConfig(workers=2, val_queries=10))
    base = weights_fingerprint(cfg, train, valid)
    assert {"config", "validation", "train crops", "valid crops", "code:soccerreid/training/trainer.py"} <= set(
        base.parts
    )

    def train_cfg(**kw) -> ModelConfig:
        return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **kw))

    assert weights_fingerprint(train_cfg(workers=0), train, valid) == base  # operational
    assert (
        weights_fingerprint(cfg, train.assign(jersey="7", uai="y"), valid.assign(clazz="Goalkeeper")) == base
    )  # unread columns
    assert weights_fingerprint(train_cfg(lr=1e-3), train, valid).changes(base.parts) == "config"
    assert (
        weights_fingerprint(train_cfg(val_queries=20), train, valid).changes(base.parts)
        == "config, valid crops, valid rows"
    )
    assert (
        weights_fingerprint(cfg, train.assign(label=train["label"].to_numpy()[::-1]), valid).changes(base.parts)
        == "train rows"
    )
    copy = tmp_path / "crop.png"
    copy.write_bytes(Path(train["path"].iat[0]).read_bytes() + b"\0")
    moved = train.assign(path=[str(copy), *train["path"].iloc[1:]])
    assert weights_fingerprint(cfg, moved, valid).changes(base.parts) == "train crops"
    assert (
        weights_fingerprint(dataclasses.replace(cfg, pretrained=str(copy)), train, valid).changes(base.parts)
        == "config, pretrained"
    )


# ---- config errors ------------------------------------------------------------------------


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_params(copy.deepcopy(data))
    assert "\n" not in str(info.value)
    return str(info.value)


def test_negative_lr_is_a_clear_error(raw):
    raw["models"]["osnet_ain"]["train"]["lr"] = -0.001
    assert _error(raw) == "params.yaml: models.osnet_ain.train.lr: expected a value > 0.0, got -0.001"


def test_bad_phases_are_clear_errors(raw):
    train = raw["models"]["osnet_ain"]["train"]
    train["phases"] = []
    assert _error(raw) == "params.yaml: models.osnet_ain.train.phases: expected at least one phase"
    train["phases"] = [{"epochs": 0, "height": 128, "width": 64}]
    assert _error(raw) == "params.yaml: models.osnet_ain.train.phases[0].epochs: expected a value >= 1, got 0"
    train["phases"] = [{"epochs": 1, "height": 128, "width": 64, "init": "best"}]
    assert _error(raw) == (
        "params.yaml: models.osnet_ain.train.phases[0].init: 'best' needs a previous phase; "
        "the first phase must use 'last'"
    )
    train["phases"] = [{"epochs": 1, "height": 128, "width": 64, "train_fraction": 1.5}]
    assert (
        _error(raw) == "params.yaml: models.osnet_ain.train.phases[0].train_fraction: expected a value <= 1.0, got 1.5"
    )
    train["phases"] = [{"epochs": 1, "height": 128, "width": 64, "init": "first"}]
    assert _error(raw) == (
        "params.yaml: models.osnet_ain.train.phases[0].init: expected one of ['best', 'last'], got 'first'"
    )


def test_patch_incompatible_phase_size_fails_before_training(tiny_index):
    from soccerreid.config.models import LoraConfig, ModelConfig, PhaseConfig
    from soccerreid.data.index import read_index
    from soccerreid.training import plan_phases

    phases = (PhaseConfig(epochs=1, height=112, width=56), PhaseConfig(epochs=1, height=100, width=50))
    cfg = ModelConfig(arch="dinov2_lora", variant="small", lora=LoraConfig(), train=TrainConfig(phases=phases))
    with pytest.raises(ConfigError) as info:
        plan_phases(cfg, read_index(tiny_index, "train"))
    assert str(info.value) == (
        "train.phases[1] height x width: dinov2_lora needs height and width that are multiples of its "
        "patch size 14, got 100x50 (nearest: 98x56)"
    )


def test_train_stage_rejects_an_unknown_model(tmp_path, tiny_index):
    import subprocess
    import sys

    from tinyset import STAGE, stage_env

    args = ["--params", str(ROOT / "params.yaml"), "--model", "nope", "--index", str(tiny_index)]
    args += ["--out", str(tmp_path / "o"), "--checkpoints", str(tmp_path / "c")]
    done = subprocess.run([sys.executable, str(STAGE), *args], env=stage_env(), capture_output=True, text=True)
    assert done.returncode == 2
    models = list(load_params(ROOT / "params.yaml").models)
    assert (
        done.stderr.strip().splitlines()[-1]
        == f"error: {ROOT / 'params.yaml'}: models.nope: no such model (have {', '.join(models)})"
    )
