"""The phase/epoch loop: it builds each phase's parts, runs its steps and calls the hooks.

Like fast-reid's ``engine/train_loop.py``: the loop only trains; what else happens after a step
or an epoch (EMA, precise BN, validation, checkpoints: :mod:`soccerreid.training.hooks`) is a
:class:`Hook`, called in the order given. A new phase with ``init: best`` first loads the previous
phase's best weights; the classifier is reset when the identity set changes.

Examples::

    loop = TrainLoop(run, phases, hooks=(EMAUpdate(), PreciseBN(run), ...), progress=False)
    loop.fit(RunState(), nets=None)            # or a resumed state and its checkpoint's nets
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm import tqdm

from soccerreid.training.augment import to_float
from soccerreid.training.builders import PhaseParts, Run, build_phase
from soccerreid.training.checkpoint import best_path
from soccerreid.training.distributed import mean_over_ranks
from soccerreid.training.plan import Phase
from soccerreid.training.resume import RunState
from soccerreid.training.step import train_step


@dataclass(frozen=True)
class EpochEnd:
    """An epoch just trained: its phase and index, the phase's parts, the run's state and the
    epoch's ``stats`` (mean losses, lr, img_per_s, phase, epoch; hooks add their own)."""

    phase: Phase
    epoch: int
    parts: PhaseParts
    state: RunState
    stats: dict


class Hook:
    """What runs beside training: the loop calls each hook after every step and every epoch."""

    def after_step(self, parts: PhaseParts) -> None:
        """After each optimisation step of a phase with ``parts``."""

    def after_epoch(self, end: EpochEnd) -> None:
        """After each epoch's steps."""


class TrainLoop:
    """The phase/epoch loop of one :func:`soccerreid.training.train_model` call."""

    def __init__(self, run: Run, phases: list[Phase], hooks: Sequence[Hook], progress: bool = True) -> None:
        self.run, self.phases, self.hooks, self.progress = run, phases, tuple(hooks), progress

    def fit(self, state: RunState, nets: dict | None) -> None:
        """Run the remaining epochs of every phase from ``state`` (``nets``: saved states or None)."""
        phase, epoch = state.phase, state.epoch + 1
        if nets is not None and epoch == self.phases[phase].config.epochs:
            phase, epoch, nets = phase + 1, 0, None
        for p in range(phase, len(self.phases)):
            if epoch == 0 and nets is None and p > 0:
                self._enter_phase(self.phases[p], self.phases[p - 1])
            self._fit_phase(self.phases[p], state, epoch, nets)
            epoch, nets = 0, None

    def _enter_phase(self, phase: Phase, previous: Phase) -> None:
        """``init: best`` loads the previous phase's best weights; new identities reset the classifier."""
        model = self.run.model
        if phase.config.init == "best":
            path = best_path(self.run.folder, previous.index)
            model.load_state_dict(torch.load(path, map_location=self.run.ctx.device, weights_only=True))
        if phase.identities != previous.identities:
            model.reset_classifier(phase.num_classes)
        model.to(memory_format=self.run.layout)

    def _fit_phase(self, phase: Phase, state: RunState, start_epoch: int, nets: dict | None) -> None:
        parts = build_phase(self.run, phase, nets)
        for epoch in range(start_epoch, phase.config.epochs):
            stats = self._train_epoch(parts, phase, epoch)
            end = EpochEnd(phase, epoch, parts, state, stats)
            for hook in self.hooks:
                hook.after_epoch(end)
        _close_workers(parts.loader)

    def _train_epoch(self, parts: PhaseParts, phase: Phase, epoch: int) -> dict:
        """One pass over the PK batches; returns mean losses, last lr and images/s (global)."""
        parts.wrapped.train()
        parts.loader.batch_sampler.set_epoch(epoch)
        sums, steps, images = {}, 0, 0
        world = self.run.ctx.world_size
        bar = _progress_bar(
            len(parts.loader), f"phase {phase.index} epoch {epoch}", self.run.ctx.is_main and self.progress
        )
        start = time.perf_counter()
        for batch, labels in parts.loader:
            losses = self._step(parts, batch, labels)
            for hook in self.hooks:
                hook.after_step(parts)
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + value
            steps, images = steps + 1, images + len(batch) * world
            bar.update(1)
            bar.set_postfix(loss=f"{losses['loss']:.3f}", img_s=f"{images / (time.perf_counter() - start):.0f}")
        bar.close()
        seconds = time.perf_counter() - start
        stats = mean_over_ranks({key: value / max(steps, 1) for key, value in sums.items()})
        lr = parts.optim.optimizer.param_groups[0]["lr"]
        stats.update(phase=phase.index, epoch=epoch, lr=lr, img_per_s=images / seconds)
        return stats

    def _step(self, parts: PhaseParts, batch: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """``batch`` (B, 3, H, W) uint8 and ``labels`` (B,) to the device, normalised, one step."""
        run = self.run
        x = to_float(batch.to(run.ctx.device, non_blocking=True), run.cfg.mean, run.cfg.std)
        x = x.contiguous(memory_format=run.layout)
        labels = labels.to(run.ctx.device, non_blocking=True)
        return train_step(parts.wrapped, x, labels, parts.optim, parts.net.classifier)


def _close_workers(loader) -> None:
    """Stop a finished phase's persistent DataLoader workers now rather than at garbage collection."""
    iterator = getattr(loader, "_iterator", None)
    if iterator is not None and hasattr(iterator, "_shutdown_workers"):
        iterator._shutdown_workers()


def _progress_bar(total: int, desc: str, enabled: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="step", disable=not enabled, mininterval=2.0, file=sys.stderr)
