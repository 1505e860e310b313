"""Builders of a training run's parts from its config: the model at its init, the :class:`Run` the
loop and hooks share, and each phase's :class:`PhaseParts` (loss, Partial FC, net, loader,
optimisation, EMA, DDP wrapper).

Examples::

    model = initial_model(cfg, phases[0].num_classes).to(ctx.device)
    run = make_run(cfg, ctx, model, "checkpoints/osnet_ain", val_rows)
    parts = build_phase(run, phases[0], nets=None)      # a fresh phase; nets: a checkpoint's "nets"
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from soccerreid.config.models import ModelConfig, TrainConfig
from soccerreid.models import create_model
from soccerreid.training.data import make_train_loader
from soccerreid.training.distributed import DistContext, say
from soccerreid.training.losses import ReidLoss
from soccerreid.training.optim import make_optimizer, make_scheduler, parameter_groups
from soccerreid.training.partial_fc import PartialClassifier
from soccerreid.training.plan import Phase
from soccerreid.training.rows import hierarchy_codes
from soccerreid.training.sampler import derive_seed
from soccerreid.training.step import Optimisation, TrainNet


@dataclass(frozen=True)
class Run:
    """What the loop and the hooks of one :func:`soccerreid.training.train_model` call share:
    the config, the process, the trained model (never DDP-wrapped) and its memory layout, the
    checkpoint folder and the validation rows."""

    cfg: ModelConfig
    ctx: DistContext
    model: nn.Module
    layout: torch.memory_format
    folder: Path
    val_rows: pd.DataFrame


@dataclass(frozen=True)
class PhaseParts:
    """What trains one phase: ``net`` (model, loss, Partial FC), ``wrapped`` (the net the steps
    run: DDP in a process group, else ``net``), the loader, the optimisation and the EMA."""

    net: TrainNet
    wrapped: nn.Module
    loader: DataLoader
    optim: Optimisation
    ema: AveragedModel | None

    @property
    def evaluated(self) -> nn.Module:
        """The weights that are validated and exported: the EMA's when ``train.ema`` is on."""
        return self.net.model if self.ema is None else self.ema.module

    def nets_state(self) -> dict:
        """The checkpoint's ``nets``: loss, optimiser, Partial FC, scheduler, scaler and EMA states."""
        classifier, optim = self.net.classifier, self.optim
        return {
            "loss": self.net.loss.state_dict(),
            "optimizer": optim.optimizer.state_dict(),
            "classifier": None if classifier is None else classifier.state_dict(),
            "scheduler": optim.scheduler.state_dict(),
            "scaler": optim.scaler.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
        }


def initial_model(cfg: ModelConfig, num_classes: int) -> nn.Module:
    """``cfg``'s model at its init, drawn from ``train.resolved_init_seed``; the global RNGs are
    then left seeded by ``train.seed`` (so runs that share ``init_seed`` share their init only)."""
    _seed_everything(cfg.train.resolved_init_seed)
    model = create_model(cfg, num_classes)
    if cfg.train.init_seed is not None:
        _seed_everything(cfg.train.seed)
    return model


def make_run(cfg: ModelConfig, ctx: DistContext, model: nn.Module, folder: str | Path, val_rows: pd.DataFrame) -> Run:
    """The :class:`Run` of ``model`` (on ``ctx.device``), which it puts in its training layout;
    cuDNN autotunes on CUDA (shapes are fixed within a phase)."""
    layout = train_layout(model)
    model.to(memory_format=layout)
    torch.backends.cudnn.benchmark = ctx.device.type == "cuda"
    return Run(cfg, ctx, model, layout, Path(folder), val_rows)


def build_phase(run: Run, phase: Phase, nets: dict | None) -> PhaseParts:
    """``phase``'s parts around ``run.model``, loaded with a checkpoint's ``nets`` when not None."""
    cfg = run.cfg.train
    loss = make_loss(cfg, phase.num_classes, run.model.embed_dim)
    classifier = make_partial_classifier(run.model, cfg, phase.index)
    net = TrainNet(run.model, loss, classifier).to(run.ctx.device)
    loader = make_loader(run, phase)
    optimizer = make_optimizer(parameter_groups(net, cfg), cfg)
    scheduler = make_scheduler(optimizer, cfg, phase.config.epochs, len(loader))
    dtype = amp_dtype(cfg.amp, run.ctx.device)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    optim = Optimisation(optimizer, scheduler, scaler, cfg.grad_clip, dtype)
    ema = make_ema(run.model, cfg.ema)
    if nets is not None:
        _load_nets(net, optim, ema, nets)
    return PhaseParts(net, wrap_ddp(net, run.ctx), loader, optim, ema)


def _load_nets(net: TrainNet, optim: Optimisation, ema: AveragedModel | None, nets: dict) -> None:
    """Inverse of :meth:`PhaseParts.nets_state`."""
    net.loss.load_state_dict(nets["loss"])
    optim.optimizer.load_state_dict(nets["optimizer"])
    if net.classifier is not None:
        net.classifier.load_state_dict(nets["classifier"])
    optim.scheduler.load_state_dict(nets["scheduler"])
    optim.scaler.load_state_dict(nets["scaler"])
    if ema is not None:
        ema.load_state_dict(nets["ema"])


def make_loader(run: Run, phase: Phase) -> DataLoader:
    """This rank's loader of ``phase``'s PK batches at its input size (seeded by the phase)."""
    rows, cfg, ctx = phase.rows, run.cfg, run.ctx
    actions, games, competitions = hierarchy_codes(rows)
    return make_train_loader(
        rows["path"].tolist(),
        rows["label"].to_numpy(),
        actions,
        phase.config.height,
        phase.config.width,
        cfg.augment,
        cfg.train,
        seed=derive_seed(cfg.train.seed, phase.index),
        mean=cfg.mean,
        rank=ctx.rank,
        world_size=ctx.world_size,
        pin_memory=ctx.device.type == "cuda",
        games=games,
        competitions=competitions,
    )


def wrap_ddp(net: nn.Module, ctx: DistContext) -> nn.Module:
    """DDP (with SyncBatchNorm on CUDA) in a process group, the net itself otherwise."""
    if not ctx.distributed:
        return net
    if ctx.device.type == "cuda":
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        say(ctx, f"DDP over {ctx.world_size} rank(s), backend {ctx.backend}, SyncBatchNorm")
        return DistributedDataParallel(net, device_ids=[ctx.device.index])
    say(ctx, f"DDP over {ctx.world_size} rank(s), backend {ctx.backend}")
    return DistributedDataParallel(net)


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """bf16/fp16 autocast (``train.amp``) on CUDA only; CPU trains in fp32 (None)."""
    if device.type != "cuda" or amp == "none":
        return None
    return torch.bfloat16 if amp == "bf16" else torch.float16


def make_loss(train: TrainConfig, num_classes: int, feat_dim: int) -> ReidLoss:
    """The :class:`ReidLoss` of a phase with ``num_classes`` identities, weighted as ``train`` says."""
    return ReidLoss(
        num_classes,
        feat_dim,
        label_smoothing=train.label_smoothing,
        margin=train.triplet_margin,
        ce_weight=train.ce_weight,
        triplet_weight=train.triplet_weight,
        centroid_weight=train.centroid_weight,
        contrastive_weight=train.contrastive_weight,
        temperature=train.contrastive_temperature,
        contrastive_smoothing=train.contrastive_smoothing,
        center_weight=train.center_weight,
    )


def make_partial_classifier(model: nn.Module, train: TrainConfig, phase: int) -> PartialClassifier | None:
    """Partial FC over ``model``'s classifier when ``train.sampled_classes`` is under its class
    count (its weight then stops requiring grad: the classifier updates it); None otherwise, and
    the weight is trained by the phase optimiser with the rest."""
    weight = model.classifier.weight
    sampled = 0 < train.sampled_classes < model.num_classes
    weight.requires_grad_(not sampled)
    if not sampled:
        return None
    return PartialClassifier(weight, train.sampled_classes, derive_seed(train.seed, phase), train.optimizer)


def make_ema(model: nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of ``model``'s weights and buffers (torch's ``AveragedModel``),
    ``w_ema <- decay * w_ema + (1 - decay) * w`` per ``update_parameters``; None when ``decay`` is 0."""
    if decay == 0:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def train_layout(model: nn.Module) -> torch.memory_format:
    """channels_last for CNNs (faster oneDNN/cuDNN kernels, the layout extraction uses), else contiguous."""
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    return torch.channels_last if convs > 1 else torch.contiguous_format


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
