"""The resume policy: what a restarted run does with the checkpoint folder it finds.

``last.pt`` (:mod:`soccerreid.training.checkpoint`) carries the run's weights fingerprint
(:func:`soccerreid.training.weights_fingerprint`). :func:`decide` is the policy:

- no ``last.pt`` (or one of another checkpoint format): start fresh, silently;
- another fingerprint: start fresh, saying which parts changed;
- this fingerprint, run finished: export its best weights, no training (or start fresh when the
  final phase's best weights are missing);
- this fingerprint, run unfinished: resume after its last finished epoch (RNG states restored).

Starting fresh deletes the folder's checkpoint and best weights, so none of them mix into the new run.

Examples::

    resumed = resume_run("checkpoints/osnet_ain", fp, model, ctx, phases)
    resumed.state.epoch, resumed.finished       # (-1, False) for a fresh run
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from torch import nn

from soccerreid.fingerprint import Fingerprint
from soccerreid.io import remove_leftovers_in
from soccerreid.training.checkpoint import BEST, LAST, best_path, load_checkpoint, restore_rng
from soccerreid.training.distributed import DistContext, barrier, say
from soccerreid.training.plan import Phase

FRESH, RESUME, EXPORT = "fresh", "resume", "export"


@dataclass
class RunState:
    """Everything a checkpoint restores besides the nets: where the run is (``epoch`` -1: before
    the phase's first), the per-epoch history, each phase's best ``{"mAP", "epoch"}`` by phase
    index (a str) and the untrained model's validation scores."""

    phase: int = 0
    epoch: int = -1
    history: list = field(default_factory=list)
    best: dict = field(default_factory=dict)
    untrained: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """What to do with a checkpoint folder: ``action`` is FRESH, RESUME or EXPORT; ``message`` is
    the line to print ('' for none)."""

    action: str
    message: str


class Resumed(NamedTuple):
    """The outcome of :func:`resume_run`."""

    state: RunState
    nets: dict | None  # the saved net/optimiser states to continue with; None: build fresh ones
    finished: bool  # True: export the saved run's best weights as they are, no training


def decide(saved: dict | None, fp: Fingerprint, folder: str | Path, phases: list[Phase]) -> Decision:
    """The policy for checkpoint ``saved`` (``last.pt`` of ``folder``, or None) and a run of
    fingerprint ``fp`` through ``phases``; it reads nothing but whether the final best weights exist."""
    last = Path(folder) / LAST
    if saved is None:
        return Decision(FRESH, "")
    if saved["fingerprint"] != fp.value:
        return Decision(
            FRESH, f"checkpoint {last} differs in {fp.changes(saved.get('fingerprint_parts'))}: starting fresh"
        )
    if is_finished(saved, phases):
        best = best_path(folder, len(phases) - 1)
        if not best.is_file():
            return Decision(FRESH, f"checkpoint {last} is of a finished run but {best.name} is missing: starting fresh")
        return Decision(
            EXPORT,
            f"checkpoint {last} is of a finished run with this fingerprint: exporting its best weights, no training",
        )
    state = saved["state"]
    return Decision(RESUME, f"resuming from {last}: phase {state['phase']}, epoch {state['epoch']}")


def is_finished(saved: dict, phases: list[Phase]) -> bool:
    """True when checkpoint ``saved`` is after the last epoch of the last of ``phases``."""
    return (saved["state"]["phase"], saved["state"]["epoch"]) == (len(phases) - 1, phases[-1].config.epochs - 1)


def resume_run(folder: str | Path, fp: Fingerprint, model: nn.Module, ctx: DistContext, phases: list[Phase]) -> Resumed:
    """Apply :func:`decide` to ``folder/last.pt``: a fresh state (the folder's checkpoints deleted), or
    ``model`` loaded with the saved weights and the saved state (with the net/optimiser states and
    the RNG states restored when the run continues)."""
    folder = Path(folder)
    if ctx.is_main:
        remove_leftovers_in(folder)
    saved = load_checkpoint(folder / LAST)
    decision = decide(saved, fp, folder, phases)
    if decision.action == FRESH:
        if decision.message:
            say(ctx, decision.message)
        start_fresh(folder, ctx)
        return Resumed(RunState(), None, False)
    model.reset_classifier(saved["num_classes"])
    model.load_state_dict(saved["model"])
    model.to(ctx.device)
    state = RunState(**saved["state"])
    if decision.action == EXPORT:
        say(ctx, decision.message)
        return Resumed(state, None, True)
    restore_rng(saved["rng"])
    say(ctx, decision.message)
    return Resumed(state, saved["nets"], False)


def start_fresh(folder: Path, ctx: DistContext) -> None:
    """Delete another run's checkpoint and best weights, so none of them can mix into this run."""
    if ctx.is_main:
        for path in (folder / LAST, *folder.glob(BEST.format("*"))):
            path.unlink(missing_ok=True)
    barrier()
