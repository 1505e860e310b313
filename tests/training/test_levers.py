"""The training levers: centroid triplet and InfoNCE losses (known answers and their sources'
formulas), EMA, layer-wise lr decay, a shared init, fixed-epoch selection, and their config errors."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from tinyset import ROOT, make_split

from soccerreid.config import parse_params
from soccerreid.config._base import from_mapping
from soccerreid.config.models import ModelConfig, TrainConfig
from soccerreid.errors import ConfigError
from soccerreid.training import TrainNet, train_model
from soccerreid.training.builders import initial_model, make_ema, make_loss
from soccerreid.training.losses import ReidLoss, batch_hard_triplet, centroid_triplet, info_nce
from soccerreid.training.optim import make_optimizer, parameter_groups

# ---- centroid triplet (sportsreid) ---------------------------------------------------------


def test_centroid_triplet_known_answer():
    x = torch.tensor([[0.0], [2.0], [10.0], [12.0]])
    y = torch.tensor([0, 0, 1, 1])
    # anchor 0: |0-1| - |0-11| + 20 = 10; anchor 1: 1 - 9 + 20 = 12; anchors 2, 3 mirror them
    assert centroid_triplet(x, y, margin=20.0).item() == pytest.approx(11.0)
    assert centroid_triplet(x, y, margin=0.5).item() == 0.0


def _centroid_by_loops(x: torch.Tensor, y: torch.Tensor, margin: float) -> torch.Tensor:
    """sportsreid's loop: per anchor, its class centroid (itself included) and the others' mean."""
    losses = []
    for i in range(len(y)):
        same = y == y[i]
        if (~same).any():
            d_p = torch.linalg.norm(x[i] - x[same].mean(0))
            d_n = torch.linalg.norm(x[i] - x[~same].mean(0))
            losses.append(torch.relu(d_p - d_n + margin))
    return torch.stack(losses).mean()


def test_centroid_triplet_matches_sportsreid_loop_and_has_finite_grads():
    torch.manual_seed(0)
    x = torch.randn(11, 6, requires_grad=True)
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 4])  # 3 and 4 are singletons: anchor at its own centroid
    loss = centroid_triplet(x, y, 1.5)
    assert loss.item() == pytest.approx(_centroid_by_loops(x, y, 1.5).item(), rel=1e-5)
    loss.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert centroid_triplet(x, torch.zeros(11, dtype=torch.long), 0.5).item() == 0.0  # one identity: no negative


# ---- InfoNCE (MIG) -------------------------------------------------------------------------


def test_info_nce_known_answer_and_label_smoothing():
    x = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])  # two identities, orthogonal
    y = torch.tensor([5, 5, 9, 9])
    # every anchor: own identity's mean logit (1 + 1) / 2 / 0.5 = 2, the other's 0
    a, b = math.log1p(math.exp(-2.0)), math.log1p(math.exp(2.0))
    assert info_nce(x, y, temperature=0.5).item() == pytest.approx(a, rel=1e-6)
    assert info_nce(x, y, temperature=0.5, label_smoothing=0.1).item() == pytest.approx(
        0.9 * a + 0.05 * (a + b), rel=1e-6
    )


def _mig_hybrid_memory(x: torch.Tensor, k: int, temp: float) -> torch.Tensor:
    """MIG's ``myHybridMemory.forward`` on a batch ordered by identity, K rows each."""
    x = F.normalize(x, dim=1)
    sim = (x @ x.t() / temp).view(len(x), -1, k).mean(2).exp()
    sim = sim / (sim.sum(1, keepdim=True) + 1e-6)
    targets = torch.arange(len(x) // k).repeat_interleave(k)
    return F.nll_loss(torch.log(sim + 1e-6), targets)


def test_info_nce_equals_migs_loss_on_a_pk_batch():
    torch.manual_seed(1)
    x = torch.randn(12, 8)
    y = torch.arange(4).repeat_interleave(3) * 7  # any label values, 4 identities x 3
    assert info_nce(x, y, temperature=0.15).item() == pytest.approx(_mig_hybrid_memory(x, 3, 0.15).item(), rel=1e-4)
    shuffled = torch.randperm(12)
    assert info_nce(x[shuffled], y[shuffled], 0.15).item() == pytest.approx(info_nce(x, y, 0.15).item(), rel=1e-6)


def test_reid_loss_weights_every_term():
    torch.manual_seed(2)
    logits, feats, y = torch.randn(8, 4), torch.randn(8, 6), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss = ReidLoss(
        4,
        6,
        label_smoothing=0.1,
        margin=0.4,
        ce_weight=0.5,
        triplet_weight=0.0,
        centroid_weight=2.0,
        contrastive_weight=3.0,
        temperature=0.2,
        contrastive_smoothing=0.1,
    )
    parts = loss(logits, feats, y)
    expected = (
        0.5 * F.cross_entropy(logits, y, label_smoothing=0.1)
        + 2.0 * centroid_triplet(feats, y, 0.4)
        + 3.0 * info_nce(feats, y, 0.2, 0.1)
    )
    assert parts["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert parts["triplet"].item() == 0.0 and parts["centroid"].item() > 0 and parts["contrastive"].item() > 0
    plain = make_loss(TrainConfig(), 4, 6)(logits, feats, y)
    assert plain["loss"].item() == pytest.approx(
        (F.cross_entropy(logits, y, label_smoothing=0.1) + batch_hard_triplet(feats, y, 0.3)).item()
    )


# ---- weights: EMA, layer decay, init ---------------------------------------------------------


def test_ema_follows_its_formula():
    model = torch.nn.Linear(3, 2)
    ema = make_ema(model, 0.9)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update_parameters(model)  # the first update copies
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update_parameters(model)
    assert torch.allclose(ema.module.weight, 0.9 * (start + 1) + 0.1 * (start + 2))
    assert make_ema(model, 0.0) is None


def _cfg(mapping: dict) -> ModelConfig:
    return from_mapping(ModelConfig, mapping, key="m")


def test_layer_decay_scales_each_vit_layer_and_keeps_the_head_groups():
    cfg = _cfg({"arch": "clip_vit", "variant": "b16", "train": {"lr": 1e-3, "layer_decay": 0.5, "weight_decay": 0.01}})
    model = initial_model(cfg, 3)
    net = TrainNet(model, make_loss(cfg.train, 3, model.embed_dim))
    optimizer = make_optimizer(parameter_groups(net, cfg.train), cfg.train)
    lr = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    vit = model.backbone
    depth = len(vit.blocks)
    assert lr[id(vit.patch_embed.proj.weight)] == pytest.approx(1e-3 * 0.5 ** (depth + 1))
    assert lr[id(vit.blocks[0].attn.qkv.weight)] == pytest.approx(1e-3 * 0.5**depth)
    assert lr[id(vit.blocks[-1].mlp.fc2.weight)] == pytest.approx(1e-3 * 0.5)
    assert (
        lr[id(vit.head.weight)] == lr[id(model.neck.weight)] == lr[id(model.classifier.weight)] == pytest.approx(1e-3)
    )
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3), "the logged lr is the head's"
    assert len(lr) == sum(1 for p in net.parameters() if p.requires_grad)
    decay = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert decay[id(vit.blocks[0].norm1.weight)] == 0.0 and decay[id(vit.blocks[0].attn.qkv.weight)] == 0.01
    plain = parameter_groups(net, TrainConfig())
    assert len(plain) == 1 and len(plain[0]["params"]) == len(list(net.parameters()))


def test_init_seed_shares_the_init_across_seeds():
    def weights(**train):
        model = initial_model(_cfg({"arch": "osnet_ain", "variant": "x0_25", "train": train}), 5)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    assert torch.equal(weights(seed=1, init_seed=4), weights(seed=2, init_seed=4))
    assert not torch.equal(weights(seed=1), weights(seed=2))
    assert torch.equal(weights(seed=4), weights(seed=9, init_seed=4))


# ---- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("train", "message"),
    [
        (
            {"splits": ["train", "valid"]},
            "select: 'best' picks epochs on valid, which splits trains on; use select: last",
        ),
        (
            {"select": "last", "phases": [{"epochs": 1}, {"epochs": 1, "init": "best"}]},
            "phases[1].init: 'best' selects on valid while select is 'last'",
        ),
        (
            {"splits": ["train", "train"]},
            "splits: expected distinct names of ['train', 'valid', 'test'], got ['train', 'train']",
        ),
        ({"splits": ["challenge"]}, "splits[0]: expected one of ['train', 'valid', 'test'], got 'challenge'"),
        ({"ce_weight": 0.0, "triplet_weight": 0.0}, "ce_weight: every loss weight is 0"),
        ({"ema": 1.0}, "ema: expected a value < 1.0, got 1.0"),
        (
            {"layer_decay": 0.8},
            "train.layer_decay: only clip_vit (full fine-tuning of a ViT) has layers to decay, not osnet_ain",
        ),
    ],
)
def test_lever_config_errors_name_their_key(train, message):
    with pytest.raises(ConfigError) as info:
        _cfg({"arch": "osnet_ain", "train": train})
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load((ROOT / "presets" / "smoke.yaml").read_text())


def _params_error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_params(data)
    return str(info.value)


def test_soup_members_must_be_one_recipe_with_a_shared_init(raw):
    bad = copy.deepcopy(raw)
    bad["models"]["osnet_ain_seed1"]["train"]["lr"] = 0.002
    assert _params_error(bad) == (
        "params.yaml: soups.osnet_ain_soup.members: osnet_ain_seed1 differs from osnet_ain in more than "
        "train.seed and train.init_seed; a soup averages one recipe"
    )
    bad = copy.deepcopy(raw)
    del bad["models"]["osnet_ain_seed1"]["train"]["init_seed"]
    assert _params_error(bad) == (
        "params.yaml: soups.osnet_ain_soup.members: they start from different random inits (pretrained: none, "
        "init seeds [0, 1]); set the same train.init_seed on every member"
    )
    bad = copy.deepcopy(raw)
    bad["soups"]["osnet_ain_soup"]["members"] = ["osnet_ain", "nope"]
    assert "soups.osnet_ain_soup.members: 'nope' is not a key of models" in _params_error(bad)
    bad = copy.deepcopy(raw)
    bad["soups"]["osnet_ain_soup"]["members"] = ["osnet_ain"]
    assert (
        "soups.osnet_ain_soup.members: expected two or more distinct model names, got ['osnet_ain']"
        in _params_error(bad)
    )
    bad = copy.deepcopy(raw)
    del bad["extract"]["osnet_ain_soup"]
    assert "extract: expected one entry per model, soup and imported model" in _params_error(bad)
    fused = copy.deepcopy(raw)
    fused["fusion"].update(models=["osnet_ain_soup"], weights=[1.0])
    parse_params(fused)  # a soup can be fused like a model


def test_qe_config_is_validated(raw):
    bad = copy.deepcopy(raw)
    bad["qe"]["alpha"] = 2.5
    assert (
        _params_error(bad)
        == "params.yaml: qe.alpha: expected a whole number (a negative similarity has no fractional power), got 2.5"
    )
    bad = copy.deepcopy(raw)
    bad["qe"]["enabled"] = True
    bad["fusion"]["normalize"] = "zscore"
    assert "qe.enabled: query expansion works on cosine blocks of unit features" in _params_error(bad)


# ---- a run with the levers ------------------------------------------------------------------


@pytest.mark.slow
def test_ema_run_exports_the_last_epoch_of_the_averaged_weights(tmp_path):
    train = make_split(tmp_path, "train", range(4), 6, (2, 3), seed=1, teams=False)
    valid = train.assign(role=["query" if f == 0 else "gallery" for f in train["frame_idx"]])
    mapping = {
        "arch": "osnet_ain",
        "variant": "x0_25",
        "augment": {"pad": 0, "color_jitter": 0.0, "random_erasing": 0.0},
        "train": {
            "ids_per_batch": 8,
            "images_per_id": 2,
            "ids_per_action": 4,
            "actions_per_game": 2,
            "workers": 0,
            "bn_batches": 2,
            "warmup_epochs": 0,
            "lr": 3e-4,
            "ema": 0.5,
            "select": "last",
            "centroid_weight": 1.0,
            "contrastive_weight": 1.0,
            "phases": [{"epochs": 2, "height": 32, "width": 16}],
        },
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train_model(_cfg(mapping), train, valid, tmp_path / "ck", progress=False)
    assert result.summary["phases"][0]["best_epoch"] == 1 and result.summary["select"] == "last"
    saved = torch.load(tmp_path / "ck" / "last.pt", weights_only=False)
    ema = {k.removeprefix("module."): v for k, v in saved["nets"]["ema"].items() if k.startswith("module.")}
    exported = result.model.state_dict()
    assert all(torch.equal(exported[k].cpu(), ema[k]) for k in exported), "exported weights are the EMA's"
    raw = saved["model"]
    assert not all(torch.equal(raw[k], ema[k]) for k in raw if raw[k].is_floating_point()), (
        "the EMA is not the raw weights"
    )
    history = result.summary["history"]
    assert all(epoch["centroid"] >= 0 and epoch["contrastive"] > 0 for epoch in history)
    assert np.isfinite([epoch["loss"] for epoch in history]).all()
