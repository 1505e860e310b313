"""The hooks the training loop calls (:class:`soccerreid.training.loop.Hook`), in this order:

- :class:`EMAUpdate`, after every step: the phase's EMA follows the model (``train.ema``);
- :class:`PreciseBN`, after every epoch: BatchNorm statistics recomputed on ``train.bn_batches``
  training batches;
- :class:`BestEpoch`: rank 0 validates the evaluated weights (the EMA's, if any) and, on a new
  best mAP (every epoch with ``select: last``), writes ``best-phase<i>.pt``;
- :class:`EpochRecord`: the epoch joins the run state's history and dvclive;
- :class:`Checkpointer`: rank 0 writes ``last.pt`` (model, nets, RNG states, state, fingerprint).

Examples::

    hooks = (EMAUpdate(), PreciseBN(run), BestEpoch(run), EpochRecord(logger), Checkpointer(run, fp))
    TrainLoop(run, phases, hooks).fit(state, nets)
"""

from __future__ import annotations

import dataclasses
import itertools

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from soccerreid.fingerprint import Fingerprint
from soccerreid.training.augment import to_float
from soccerreid.training.builders import PhaseParts, Run, make_loader
from soccerreid.training.checkpoint import LAST, best_path, capture_rng, save_checkpoint, save_weights
from soccerreid.training.distributed import barrier, broadcast_object
from soccerreid.training.loop import EpochEnd, Hook
from soccerreid.training.metrics_log import EpochLogger
from soccerreid.training.plan import Phase
from soccerreid.training.validate import validation_scores, validation_settings


class EMAUpdate(Hook):
    """``w_ema <- decay * w_ema + (1 - decay) * w`` after every step of a phase with an EMA."""

    def after_step(self, parts: PhaseParts) -> None:
        if parts.ema is not None:
            parts.ema.update_parameters(parts.net.model)


class PreciseBN(Hook):
    """Precise BN of the evaluated weights after every epoch (:func:`recalibrate_bn`)."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def after_epoch(self, end: EpochEnd) -> None:
        recalibrate_bn(self.run, end.parts.loader, end.parts.evaluated)


class BestEpoch(Hook):
    """Validation after every epoch; the phase's best epoch in ``state.best`` and its weights in
    ``best-phase<i>.pt`` on improvement (every epoch with ``select: last``, so the phase's last epoch
    is what it exports). Adds ``val_mAP`` and ``val_rank1`` to the epoch's stats."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def after_epoch(self, end: EpochEnd) -> None:
        scores = validate(self.run, end.phase, end.parts.evaluated)
        key, best = str(end.phase.index), end.state.best
        last = self.run.cfg.train.select == "last"
        if key not in best or scores["mAP"] > best[key]["mAP"] or last:
            best[key] = {"mAP": scores["mAP"], "epoch": end.epoch}
            if self.run.ctx.is_main:
                save_weights(best_path(self.run.folder, end.phase.index), end.parts.evaluated.state_dict())
        end.stats.update({"val_mAP": scores["mAP"], "val_rank1": scores["rank1"]})


class EpochRecord(Hook):
    """The epoch as the run's last finished one, in its history and in dvclive."""

    def __init__(self, logger: EpochLogger) -> None:
        self.logger = logger

    def after_epoch(self, end: EpochEnd) -> None:
        end.state.phase, end.state.epoch = end.phase.index, end.epoch
        end.state.history.append(end.stats)
        self.logger.log_epoch(end.stats)


class Checkpointer(Hook):
    """``last.pt`` after every epoch (rank 0 writes, every rank waits): what a resume restores."""

    def __init__(self, run: Run, fp: Fingerprint) -> None:
        self.run, self.fp = run, fp

    def after_epoch(self, end: EpochEnd) -> None:
        if self.run.ctx.is_main:
            model = self.run.model
            checkpoint = {
                "fingerprint": self.fp.value,
                "fingerprint_parts": self.fp.parts,
                "num_classes": model.num_classes,
                "model": model.state_dict(),
                "state": dataclasses.asdict(end.state),
                "rng": capture_rng(),
                "nets": end.parts.nets_state(),
            }
            save_checkpoint(self.run.folder / LAST, checkpoint)
        barrier()


@torch.no_grad()
def recalibrate_bn(run: Run, loader, module: nn.Module) -> None:
    """Precise BN: recompute ``module``'s BatchNorm running statistics (cumulative average) on
    the first ``bn_batches`` training batches of ``loader``, so eval-mode embeddings match what
    training optimised (EMA statistics lag far behind in short runs). Training itself never reads them."""
    count = run.cfg.train.bn_batches
    if count == 0:
        return
    device, mean, std = run.ctx.device, run.cfg.mean, run.cfg.std
    batches = (
        to_float(x.to(device), mean, std).contiguous(memory_format=run.layout)
        for x, _ in itertools.islice(loader, count)
    )
    update_bn(batches, module)


def validate(run: Run, phase: Phase, module: nn.Module) -> dict:
    """``{"mAP", "rank1"}`` of ``module`` on the run's validation rows at ``phase``'s input size, flip
    TTA as ``train.val_flip`` (rank 0 computes, every rank receives)."""
    scores = None
    if run.ctx.is_main:
        train = run.cfg.train
        height, width = phase.config.height, phase.config.width
        settings = validation_settings(height, width, workers=min(train.workers, 2), flip=train.val_flip)
        scores = validation_scores(module, run.val_rows, settings, run.cfg.mean, run.cfg.std, run.ctx.device)
        scores = {"mAP": float(scores["mAP"]), "rank1": float(scores["rank1"])}
        module.to(memory_format=run.layout)
    return broadcast_object(scores)


def validate_untrained(run: Run, phase: Phase) -> dict:
    """Validation scores of the initial model, its BN statistics estimated like every epoch's."""
    recalibrate_bn(run, make_loader(run, phase), run.model)
    return validate(run, phase, run.model)
