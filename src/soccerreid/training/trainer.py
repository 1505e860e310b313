"""Train one model through its phases, with per-epoch validation, checkpoints and resume.

A run is a list of phases (progressive resizing and/or progressive data;
:mod:`soccerreid.training.plan`). Each phase gets a fresh optimiser and warmup + cosine/step
schedule; ``init: best`` first loads the previous phase's best weights (by validation mAP); the
classifier (and center-loss centers) are reset when the identity set changes. With
``train.sampled_classes`` under a phase's identity count the classifier is trained as Partial FC
(:mod:`soccerreid.training.partial_fc`), its row moments checkpointed with the optimiser. With
``train.ema`` an exponential moving average of the weights follows every step (a fresh one per
phase); it is what gets BN-recalibrated, validated, saved and exported. After every epoch the
BatchNorm statistics are recomputed on ``bn_batches`` training batches (precise BN), then rank 0
validates, writes ``last.pt`` and, on a new best (every epoch with ``select: last``),
``best-phase<i>.pt`` (:mod:`soccerreid.training.hooks`). A restarted run resumes, re-exports or
starts fresh as :mod:`soccerreid.training.resume` decides by the checkpoint's
:func:`weights_fingerprint`.

This module only assembles: the plan, the resume policy, the builders
(:mod:`soccerreid.training.builders`), the loop (:mod:`soccerreid.training.loop`) and its hooks.

On CPU with a fixed seed a resumed run ends bit-identical to an uninterrupted one: sampling and
augmentation are pure functions of (seed, phase, epoch, step, slot), and the global RNG states
are restored.

Examples::

    result = train_model(cfg, train_df, valid_df, "checkpoints/osnet_ain", live_dir="dvclive/osnet_ain")
    save_trained_model(result, cfg, "artifacts/models/osnet_ain/model.pt")
    result.summary["phases"][-1]["best_val_mAP"]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from soccerreid.config.models import ModelConfig
from soccerreid.cpu import thread_budget, use_cpu_threads
from soccerreid.fingerprint import Fingerprint
from soccerreid.training.builders import Run, initial_model, make_run
from soccerreid.training.checkpoint import best_path
from soccerreid.training.distributed import DistContext, barrier, say
from soccerreid.training.hooks import BestEpoch, Checkpointer, EMAUpdate, EpochRecord, PreciseBN, validate_untrained
from soccerreid.training.loop import TrainLoop
from soccerreid.training.metrics_log import EpochLogger
from soccerreid.training.plan import (
    TRAIN_COLUMNS,
    VALID_COLUMNS,
    Phase,
    describe_plan,
    plan_phases,
    weights_fingerprint,
)
from soccerreid.training.resume import RunState, resume_run
from soccerreid.training.validate import select_val_actions


@dataclass
class TrainResult:
    """The exported model (final phase's best epoch, eval mode) and a JSON-able summary."""

    model: nn.Module
    summary: dict


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
    say(ctx, f"{label}: {describe_plan(cfg, phases, val_rows, ctx, threads)}")
    fp = fingerprint or weights_fingerprint(cfg, train, valid)
    model = initial_model(cfg, phases[0].num_classes).to(ctx.device)
    resumed = resume_run(checkpoint_dir, fp, model, ctx, phases)
    logger = EpochLogger(live_dir, enabled=ctx.is_main)
    logger.replay(resumed.state.history)
    run = make_run(cfg, ctx, model, checkpoint_dir, val_rows)
    if not resumed.finished:
        if not resumed.state.untrained:
            resumed.state.untrained = validate_untrained(run, phases[0])
        hooks = (EMAUpdate(), PreciseBN(run), BestEpoch(run), EpochRecord(logger), Checkpointer(run, fp))
        TrainLoop(run, phases, hooks, progress).fit(resumed.state, resumed.nets)
    logger.close()
    return TrainResult(export_best(run, phases), summarize(run, phases, resumed.state))


def export_best(run: Run, phases: list[Phase]) -> nn.Module:
    """The final phase's best (``select: last``: last) weights, loaded into the model, in eval mode."""
    barrier()
    path = best_path(run.folder, len(phases) - 1)
    run.model.load_state_dict(torch.load(path, map_location=run.ctx.device, weights_only=True))
    return run.model.eval()


def summarize(run: Run, phases: list[Phase], state: RunState) -> dict:
    """Per-phase best epoch and val mAP, the untrained model's val mAP, and the epoch history."""
    summaries = []
    for phase in phases:
        best = state.best[str(phase.index)]
        summaries.append(
            {
                **dataclasses.asdict(phase.config),
                "identities": phase.num_classes,
                "images": len(phase.rows),
                "best_epoch": best["epoch"],
                "best_val_mAP": best["mAP"],
            }
        )
    cfg = run.cfg
    return {
        "arch": cfg.arch,
        "variant": cfg.variant,
        "splits": list(cfg.train.splits),
        "select": cfg.train.select,
        "untrained_val_mAP": state.untrained["mAP"],
        "final_val_mAP": summaries[-1]["best_val_mAP"],
        "val_queries": int((run.val_rows["role"] == "query").sum()),
        "phases": summaries,
        "history": state.history,
    }
