"""Train one model through its phases, with per-epoch validation, checkpoints and resume.

A run is a list of phases (progressive resizing and/or progressive data). Each phase gets a
fresh optimiser and warmup + cosine/step schedule; ``init: best`` first loads the previous
phase's best weights (by validation mAP); the classifier (and center-loss centers) are reset
when the identity set changes. With ``train.sampled_classes`` under a phase's identity count the
classifier is trained as Partial FC (:mod:`soccerreid.training.partial_fc`), its row moments
checkpointed with the optimiser. With ``train.ema`` an exponential moving average of the weights
follows every step (a fresh one per phase); it is what gets BN-recalibrated, validated, saved
and exported. After every epoch the BatchNorm statistics are recomputed on ``bn_batches``
training batches (precise BN), then rank 0 validates, writes ``last.pt`` (full state: model,
EMA, optimiser, scheduler, grad scaler, RNG states, history) and, on a new best (every epoch
with ``select: last``), ``best-phase<i>.pt``. The checkpoint carries the run's
:func:`weights_fingerprint` (the weight-shaping config, the training data and the training
code). A restarted run with the same fingerprint resumes after the last finished epoch, or, when
the run it holds had finished, is re-exported from its best weights in seconds without training;
any other checkpoint is deleted and the run starts fresh, saying which parts changed.

On CPU with a fixed seed a resumed run ends bit-identical to an uninterrupted one: sampling and
augmentation are pure functions of (seed, phase, epoch, step, slot), and the global RNG states
are restored.

Examples::

    result = train_model(cfg, train_df, valid_df, "checkpoints/osnet_ain", live_dir="dvclive/osnet_ain")
    save_trained_model(result, cfg, "artifacts/models/osnet_ain/model.pt")
    result.summary["phases"][-1]["best_val_mAP"]
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn
from tqdm import tqdm

from soccerreid.config.models import ModelConfig, PhaseConfig, TrainConfig
from soccerreid.cpu import thread_budget, use_cpu_threads
from soccerreid.data.index import select_train_fraction
from soccerreid.fingerprint import (
    Fingerprint,
    code_parts,
    file_digest,
    files_digest,
    frame_digest,
    shaping_values,
    value_digest,
)
from soccerreid.io import remove_leftovers_in
from soccerreid.models import create_model, validate_input_size
from soccerreid.training.augment import to_float
from soccerreid.training.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint, save_weights
from soccerreid.training.data import make_train_loader
from soccerreid.training.distributed import DistContext, barrier, broadcast_object, mean_over_ranks
from soccerreid.training.logging import EpochLogger
from soccerreid.training.losses import ReidLoss
from soccerreid.training.optim import make_optimizer, make_scheduler, parameter_groups
from soccerreid.training.partial_fc import PartialClassifier
from soccerreid.training.rows import hierarchy_codes
from soccerreid.training.sampler import derive_seed, epoch_batches
from soccerreid.training.validate import select_val_actions, validation_scores, validation_settings

# The index columns training reads; train_model keeps only these, so the fingerprint covers all it sees.
TRAIN_COLUMNS = ("path", "label", "split", "action_idx", "person_uid", "game")
VALID_COLUMNS = ("path", "action_idx", "person_uid", "role")


@dataclass
class TrainResult:
    """The exported model (final phase's best epoch, eval mode) and a JSON-able summary."""

    model: nn.Module
    summary: dict


@dataclass
class _Phase:
    """One phase's config and training rows (labels contiguous within the phase)."""

    index: int
    config: PhaseConfig
    rows: pd.DataFrame
    num_classes: int
    identities: frozenset = field(repr=False)


@dataclass
class _State:
    """Everything a checkpoint restores besides the nets."""

    phase: int = 0
    epoch: int = -1
    history: list = field(default_factory=list)
    best: dict = field(default_factory=dict)
    untrained: dict = field(default_factory=dict)


class TrainNet(nn.Module):
    """Model plus loss (the center-loss centers are parameters), wrapped by DDP as one module.

    With a :class:`PartialClassifier` (``train.sampled_classes``) the CE scores its sampled rows
    of the model's classifier instead of all of them."""

    def __init__(self, model: nn.Module, loss: ReidLoss, classifier: PartialClassifier | None = None) -> None:
        super().__init__()
        self.model, self.loss, self.classifier = model, loss, classifier

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.classifier is None:
            out = self.model(x)
            return self.loss(out.logits, out.features, labels)
        features, embedding = self.model.features_and_embedding(x)
        logits, targets = self.classifier.logits(embedding, labels)
        return self.loss(logits, features, labels, targets)


def train_model(
    cfg: ModelConfig,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    checkpoint_dir: str | Path,
    *,
    live_dir: str | Path | None = None,
    ctx: DistContext = DistContext(),
    progress: bool = True,
    fingerprint: Fingerprint | None = None,
    label: str = "train",
) -> TrainResult:
    """Train ``cfg``'s model on the ``train`` index rows, validating on ``valid`` index rows.

    Checks every phase's input size and the data before any heavy work; writes only on rank 0.
    ``fingerprint`` is :func:`weights_fingerprint` of the same arguments, when the caller has it.
    First prints one line, ``<label>: <the plan>`` (:func:`describe_plan`).
    """
    train, valid = train[list(TRAIN_COLUMNS)], valid[list(VALID_COLUMNS)]
    phases = plan_phases(cfg, train)
    val_rows = select_val_actions(valid, cfg.train.val_queries, cfg.train.seed)
    threads = thread_budget(cfg.train.threads, cfg.train.workers, ctx.world_size) if ctx.device.type == "cpu" else 0
    if threads:
        use_cpu_threads(threads)
    _say(ctx, f"{label}: {describe_plan(cfg, phases, val_rows, ctx, threads)}")
    folder = Path(checkpoint_dir)
    fp = fingerprint or weights_fingerprint(cfg, train, valid)
    model = initial_model(cfg, phases[0].num_classes).to(ctx.device)
    state, nets, finished = _resume(folder, fp, model, ctx, phases)
    logger = EpochLogger(live_dir, enabled=ctx.is_main)
    logger.replay(state.history)
    run = _Run(cfg, phases, val_rows, folder, fp, model, ctx, logger, progress)
    if not finished:
        if not state.untrained:
            state.untrained = run.validate_untrained(phases[0])
        run.fit(state, nets)
    logger.close()
    return TrainResult(run.export(), run.summary(state))


def weights_fingerprint(cfg: ModelConfig, train: pd.DataFrame, valid: pd.DataFrame) -> Fingerprint:
    """What shapes the weights :func:`train_model` gives for these arguments (index rows).

    Parts: ``config``, every field of ``cfg`` but the operational ones (``train.workers``, ``train.threads``);
    ``validation``, the per-epoch validation settings of each phase; ``pretrained``, the bytes of a
    local ``cfg.pretrained`` file; the train rows and the validation rows (the columns training
    reads) and the bytes of their crops; and the code of this module and of all it runs.
    """
    train, valid = train[list(TRAIN_COLUMNS)], valid[list(VALID_COLUMNS)]
    val_rows = select_val_actions(valid, cfg.train.val_queries, cfg.train.seed)
    settings = [
        shaping_values(validation_settings(p.height, p.width, flip=cfg.train.val_flip)) for p in cfg.train.phases
    ]
    local = cfg.pretrained not in ("none", "imagenet") and Path(cfg.pretrained).is_file()
    return Fingerprint(
        {
            "config": value_digest(shaping_values(cfg)),
            "validation": value_digest(settings),
            "pretrained": file_digest(cfg.pretrained) if local else value_digest(cfg.pretrained),
            "train rows": frame_digest(train.drop(columns="path")),
            "train crops": files_digest(train["path"]),
            "valid rows": frame_digest(val_rows.drop(columns="path")),
            "valid crops": files_digest(val_rows["path"]),
            **code_parts(__file__),
        }
    )


def plan_phases(cfg: ModelConfig, train: pd.DataFrame) -> list[_Phase]:
    """Each phase's training rows; validates every phase's input size for the model first."""
    for i, phase in enumerate(cfg.train.phases):
        validate_input_size(cfg, phase.height, phase.width, key=f"train.phases[{i}] height x width")
    planned = []
    for i, phase in enumerate(cfg.train.phases):
        rows = (
            train if phase.train_fraction >= 1.0 else select_train_fraction(train, phase.train_fraction, cfg.train.seed)
        )
        ids = frozenset(zip(rows["split"].tolist(), rows["action_idx"].tolist(), rows["person_uid"].tolist()))
        planned.append(_Phase(i, phase, rows.reset_index(drop=True), int(rows["label"].max()) + 1, ids))
    return planned


def describe_plan(
    cfg: ModelConfig, phases: list[_Phase], val_rows: pd.DataFrame, ctx: DistContext, threads: int
) -> str:
    """One line: epochs x steps per phase, image size, data fraction, validation size, CPU threads.

    Examples::

        describe_plan(cfg, plan_phases(cfg, train), val_rows, DistContext(), threads=1)
        # '6 epochs x 73 steps of 32 images at 128x64; validation on 209 queries (679 crops) ...'
    """
    t = cfg.train
    parts = []
    for phase in phases:
        p = phase.config
        steps = epoch_batches(phase.rows["label"].to_numpy(), t.images_per_id, t.ids_per_batch)
        data = f" on {p.train_fraction:.0%} of train" if p.train_fraction < 1 else ""
        parts.append(f"{p.epochs} epoch{'s' if p.epochs > 1 else ''} x {steps} steps at {p.height}x{p.width}{data}")
    total = sum(p.config.epochs for p in phases)
    plan = parts[0] if len(parts) == 1 else f"{total} epochs in {len(phases)} phases: " + ", then ".join(parts)
    queries = int((val_rows["role"] == "query").sum())
    device = f"{threads} CPU thread{'s' if threads > 1 else ''}" if threads else str(ctx.device)
    ranks = f" x {ctx.world_size} ranks" if ctx.world_size > 1 else ""
    return (
        f"{plan}; batches of {t.ids_per_batch * t.images_per_id} images; validation after each epoch on {queries} "
        f"queries ({len(val_rows)} crops); {device}{ranks} + {t.workers} loader worker{'s' if t.workers != 1 else ''}"
    )


def initial_model(cfg: ModelConfig, num_classes: int) -> nn.Module:
    """``cfg``'s model at its init, drawn from ``train.resolved_init_seed``; the global RNGs are
    then left seeded by ``train.seed`` (so runs that share ``init_seed`` share their init only)."""
    _seed_everything(cfg.train.resolved_init_seed)
    model = create_model(cfg, num_classes)
    if cfg.train.init_seed is not None:
        _seed_everything(cfg.train.seed)
    return model


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _resume(
    folder: Path, fp: Fingerprint, model: nn.Module, ctx: DistContext, phases: list[_Phase]
) -> tuple[_State, dict | None, bool]:
    """``(state, nets, finished)`` from a ``last.pt`` of fingerprint ``fp``: an interrupted run's
    state with its net/optimiser states, or a finished run's state (its weights are exported as
    they are). Any other checkpoint is deleted, best weights included: a fresh state."""
    if ctx.is_main:
        remove_leftovers_in(folder)
    last = folder / "last.pt"
    saved = load_checkpoint(last)
    problem = _unusable(saved, fp, folder, phases)
    if problem:
        if saved is not None:
            _say(ctx, f"checkpoint {last} {problem}: starting fresh")
        _start_fresh(folder, ctx)
        return _State(), None, False
    model.reset_classifier(saved["num_classes"])
    model.load_state_dict(saved["model"])
    model.to(ctx.device)
    state = _State(**saved["state"])
    if _finished(saved, phases):
        _say(
            ctx,
            f"checkpoint {last} is of a finished run with this fingerprint: exporting its best weights, no training",
        )
        return state, None, True
    restore_rng(saved["rng"])
    _say(ctx, f"resuming from {last}: phase {state.phase}, epoch {state.epoch}")
    return state, saved["nets"], False


def _unusable(saved: dict | None, fp: Fingerprint, folder: Path, phases: list[_Phase]) -> str:
    """Why checkpoint ``saved`` cannot continue or export this run ('' when it can)."""
    if saved is None:
        return "is missing"
    if saved["fingerprint"] != fp.value:
        return f"differs in {fp.changes(saved.get('fingerprint_parts'))}"
    best = _best_files(folder, len(phases))[-1]
    return f"is of a finished run but {best.name} is missing" if _finished(saved, phases) and not best.is_file() else ""


def _finished(saved: dict, phases: list[_Phase]) -> bool:
    return (saved["state"]["phase"], saved["state"]["epoch"]) == (len(phases) - 1, phases[-1].config.epochs - 1)


def _best_files(folder: Path, phases: int) -> list[Path]:
    return [folder / f"best-phase{i}.pt" for i in range(phases)]


def _start_fresh(folder: Path, ctx: DistContext) -> None:
    """Delete another run's checkpoint and best weights, so none of them can mix into this run."""
    if ctx.is_main:
        for path in (folder / "last.pt", *folder.glob("best-phase*.pt")):
            path.unlink(missing_ok=True)
    barrier()


def _say(ctx: DistContext, message: str) -> None:
    if ctx.is_main:
        print(message, file=sys.stderr, flush=True)


class _Run:
    """The phase/epoch loop of :func:`train_model` (one instance per call)."""

    def __init__(self, cfg, phases, val_rows, folder, fp, model, ctx, logger, progress) -> None:
        self.cfg, self.phases, self.val_rows, self.folder, self.fp = cfg, phases, val_rows, folder, fp
        self.model, self.ctx, self.logger, self.progress = model, ctx, logger, progress
        self.layout = train_layout(model)
        self.ema: AveragedModel | None = None
        self.classifier: PartialClassifier | None = None
        model.to(memory_format=self.layout)
        torch.backends.cudnn.benchmark = ctx.device.type == "cuda"  # fixed shapes per phase: autotune once

    def fit(self, state: _State, nets: dict | None) -> None:
        """Run the remaining epochs of every phase from ``state`` (``nets``: saved states or None)."""
        phase, epoch = state.phase, state.epoch + 1
        if nets is not None and epoch == self.phases[phase].config.epochs:
            phase, epoch, nets = phase + 1, 0, None
        for p in range(phase, len(self.phases)):
            if epoch == 0 and nets is None and p > 0:
                self._enter_phase(self.phases[p], self.phases[p - 1])
            self._fit_phase(self.phases[p], state, epoch, nets)
            epoch, nets = 0, None

    def _enter_phase(self, phase: _Phase, previous: _Phase) -> None:
        """``init: best`` loads the previous phase's best weights; new identities reset the classifier."""
        if phase.config.init == "best":
            best = torch.load(self._best_path(previous.index), map_location=self.ctx.device, weights_only=True)
            self.model.load_state_dict(best)
        if phase.identities != previous.identities:
            self.model.reset_classifier(phase.num_classes)
        self.model.to(memory_format=self.layout)

    def _fit_phase(self, phase: _Phase, state: _State, start_epoch: int, nets: dict | None) -> None:
        cfg = self.cfg.train
        loss = make_loss(cfg, phase.num_classes, self.model.embed_dim)
        self.classifier = make_partial_classifier(self.model, cfg, phase.index)
        net = TrainNet(self.model, loss, self.classifier).to(self.ctx.device)
        loader = self._loader(phase)
        optimizer = make_optimizer(parameter_groups(net, cfg), cfg)
        scheduler = make_scheduler(optimizer, cfg, phase.config.epochs, len(loader))
        scaler = torch.amp.GradScaler("cuda", enabled=self._amp_dtype() == torch.float16)
        self.ema = make_ema(self.model, cfg.ema)
        if nets is not None:
            loss.load_state_dict(nets["loss"])
            optimizer.load_state_dict(nets["optimizer"])
            if self.classifier is not None:
                self.classifier.load_state_dict(nets["classifier"])
            scheduler.load_state_dict(nets["scheduler"])
            scaler.load_state_dict(nets["scaler"])
            if self.ema is not None:
                self.ema.load_state_dict(nets["ema"])
        wrapped = self._wrap(net)
        for epoch in range(start_epoch, phase.config.epochs):
            stats = self._train_epoch(wrapped, loader, optimizer, scheduler, scaler, phase, epoch)
            self._recalibrate_bn(loader, self.evaluated)
            stats.update(self._score(phase, state, epoch))
            state.phase, state.epoch = phase.index, epoch
            state.history.append(stats)
            self.logger.log_epoch(stats)
            self._checkpoint(state, net, optimizer, scheduler, scaler)
        _close_workers(loader)

    @property
    def evaluated(self) -> nn.Module:
        """The weights that are validated and exported: the EMA's when ``train.ema`` is on."""
        return self.model if self.ema is None else self.ema.module

    def _wrap(self, net: nn.Module) -> nn.Module:
        """DDP (with SyncBatchNorm on CUDA) in a process group, the net itself otherwise."""
        if not self.ctx.distributed:
            return net
        if self.ctx.device.type == "cuda":
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            _say(self.ctx, f"DDP over {self.ctx.world_size} rank(s), backend {self.ctx.backend}, SyncBatchNorm")
            return DistributedDataParallel(net, device_ids=[self.ctx.device.index])
        _say(self.ctx, f"DDP over {self.ctx.world_size} rank(s), backend {self.ctx.backend}")
        return DistributedDataParallel(net)

    def _loader(self, phase: _Phase):
        rows = phase.rows
        actions, games, competitions = hierarchy_codes(rows)
        return make_train_loader(
            rows["path"].tolist(),
            rows["label"].to_numpy(),
            actions,
            phase.config.height,
            phase.config.width,
            self.cfg.augment,
            self.cfg.train,
            seed=derive_seed(self.cfg.train.seed, phase.index),
            mean=self.cfg.mean,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
            pin_memory=self.ctx.device.type == "cuda",
            games=games,
            competitions=competitions,
        )

    def _amp_dtype(self) -> torch.dtype | None:
        """bf16/fp16 autocast on CUDA only; CPU trains in fp32."""
        if self.ctx.device.type != "cuda" or self.cfg.train.amp == "none":
            return None
        return torch.bfloat16 if self.cfg.train.amp == "bf16" else torch.float16

    def _train_epoch(self, net, loader, optimizer, scheduler, scaler, phase: _Phase, epoch: int) -> dict:
        """One pass over the PK batches; returns mean losses, last lr and images/s (global)."""
        net.train()
        loader.batch_sampler.set_epoch(epoch)
        sums, steps, images = {}, 0, 0
        bar = _progress_bar(len(loader), f"phase {phase.index} epoch {epoch}", self.ctx.is_main and self.progress)
        start = time.perf_counter()
        for batch, labels in loader:
            parts = self._step(net, batch, labels, optimizer, scheduler, scaler)
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + value
            steps, images = steps + 1, images + len(batch) * self.ctx.world_size
            bar.update(1)
            bar.set_postfix(loss=f"{parts['loss']:.3f}", img_s=f"{images / (time.perf_counter() - start):.0f}")
        bar.close()
        seconds = time.perf_counter() - start
        stats = mean_over_ranks({key: value / max(steps, 1) for key, value in sums.items()})
        stats.update(phase=phase.index, epoch=epoch, lr=optimizer.param_groups[0]["lr"], img_per_s=images / seconds)
        return stats

    @torch.no_grad()
    def _recalibrate_bn(self, loader, module: nn.Module) -> None:
        """Precise BN: recompute ``module``'s BatchNorm running statistics (cumulative average) on
        the first ``bn_batches`` training batches of the epoch, so eval-mode embeddings match what
        training optimised (EMA statistics lag far behind in short runs). Training itself never reads them."""
        count = self.cfg.train.bn_batches
        if count == 0:
            return
        device, mean, std = self.ctx.device, self.cfg.mean, self.cfg.std
        batches = (
            to_float(x.to(device), mean, std).contiguous(memory_format=self.layout)
            for x, _ in itertools.islice(loader, count)
        )
        update_bn(batches, module)

    def _step(self, net, batch, labels, optimizer, scheduler, scaler) -> dict[str, float]:
        device = self.ctx.device
        x = to_float(batch.to(device, non_blocking=True), self.cfg.mean, self.cfg.std).contiguous(
            memory_format=self.layout
        )
        labels = labels.to(device, non_blocking=True)
        return train_step(
            net, x, labels, optimizer, scheduler, scaler, self.cfg.train.grad_clip, self._amp_dtype(), self.classifier
        )

    def validate_untrained(self, phase: _Phase) -> dict:
        """Validation scores of the initial model, its BN statistics estimated like every epoch's."""
        self._recalibrate_bn(self._loader(phase), self.model)
        return self.validate(phase, self.model)

    def validate(self, phase: _Phase, module: nn.Module) -> dict:
        """Validation scores of ``module`` at ``phase``'s input size, flip TTA as ``train.val_flip`` (rank 0 computes, every rank receives)."""
        scores = None
        if self.ctx.is_main:
            scores = validation_scores(
                module,
                self.val_rows,
                height=phase.config.height,
                width=phase.config.width,
                mean=self.cfg.mean,
                std=self.cfg.std,
                flip=self.cfg.train.val_flip,
                workers=min(self.cfg.train.workers, 2),
                device=self.ctx.device,
            )
            scores = {"mAP": float(scores["mAP"]), "rank1": float(scores["rank1"])}
            module.to(memory_format=self.layout)
        return broadcast_object(scores)

    def _score(self, phase: _Phase, state: _State, epoch: int) -> dict:
        """Validate, track the phase's best epoch and save its weights on improvement (every
        epoch with ``select: last``, so the phase's last epoch is what it exports)."""
        scores = self.validate(phase, self.evaluated)
        key = str(phase.index)
        last = self.cfg.train.select == "last"
        if key not in state.best or scores["mAP"] > state.best[key]["mAP"] or last:
            state.best[key] = {"mAP": scores["mAP"], "epoch": epoch}
            if self.ctx.is_main:
                save_weights(self._best_path(phase.index), self.evaluated.state_dict())
        return {"val_mAP": scores["mAP"], "val_rank1": scores["rank1"]}

    def _checkpoint(self, state: _State, net, optimizer, scheduler, scaler) -> None:
        if self.ctx.is_main:
            save_checkpoint(
                self.folder / "last.pt",
                {
                    "fingerprint": self.fp.value,
                    "fingerprint_parts": self.fp.parts,
                    "num_classes": self.model.num_classes,
                    "model": self.model.state_dict(),
                    "state": dataclasses.asdict(state),
                    "rng": capture_rng(),
                    "nets": {
                        "loss": net.loss.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "classifier": None if self.classifier is None else self.classifier.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "scaler": scaler.state_dict(),
                        "ema": None if self.ema is None else self.ema.state_dict(),
                    },
                },
            )
        barrier()

    def _best_path(self, phase: int) -> Path:
        return _best_files(self.folder, phase + 1)[phase]

    def export(self) -> nn.Module:
        """The final phase's best (``select: last``: last) weights, loaded into the model, in eval mode."""
        barrier()
        best = torch.load(self._best_path(len(self.phases) - 1), map_location=self.ctx.device, weights_only=True)
        self.model.load_state_dict(best)
        return self.model.eval()

    def summary(self, state: _State) -> dict:
        """Per-phase best epoch and val mAP, the untrained model's val mAP, and the epoch history."""
        phases = []
        for phase in self.phases:
            best = state.best[str(phase.index)]
            phases.append(
                {
                    **dataclasses.asdict(phase.config),
                    "identities": phase.num_classes,
                    "images": len(phase.rows),
                    "best_epoch": best["epoch"],
                    "best_val_mAP": best["mAP"],
                }
            )
        return {
            "arch": self.cfg.arch,
            "variant": self.cfg.variant,
            "splits": list(self.cfg.train.splits),
            "select": self.cfg.train.select,
            "untrained_val_mAP": state.untrained["mAP"],
            "final_val_mAP": phases[-1]["best_val_mAP"],
            "val_queries": int((self.val_rows["role"] == "query").sum()),
            "phases": phases,
            "history": state.history,
        }


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


def train_step(
    net: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    grad_clip: float,
    amp_dtype: torch.dtype | None = None,
    classifier: PartialClassifier | None = None,
) -> dict[str, float]:
    """One optimisation step of ``net(x, labels) -> {"loss", ...}``: autocast (CUDA), backward,
    fp16 loss scaling, gradient clipping (``grad_clip > 0``), optimiser and scheduler step.

    ``x`` (B, 3, H, W) float32, ``labels`` (B,) int64. Returns the loss terms as floats.
    ``classifier``, the net's Partial FC, has its sampled rows' gradient averaged over the ranks,
    clipped with the rest and applied with the first param group's lr and weight decay.

    Examples::

        parts = train_step(TrainNet(model, loss), x, y, opt, sched, torch.amp.GradScaler(enabled=False), 5.0)
    """
    autocast = torch.autocast("cuda", dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()
    with autocast:
        parts = net(x, labels)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(parts["loss"]).backward()
    if classifier is not None:
        classifier.sync_grad()
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        sampled = [] if classifier is None else [classifier.sub]
        nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]] + sampled, grad_clip)
    if classifier is not None:
        classifier.step(optimizer.param_groups[0])
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    return {key: float(value.detach()) for key, value in parts.items()}


def _close_workers(loader) -> None:
    """Stop a finished phase's persistent DataLoader workers now rather than at garbage collection."""
    iterator = getattr(loader, "_iterator", None)
    if iterator is not None and hasattr(iterator, "_shutdown_workers"):
        iterator._shutdown_workers()


def _progress_bar(total: int, desc: str, enabled: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="step", disable=not enabled, mininterval=2.0, file=sys.stderr)
