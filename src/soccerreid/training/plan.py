"""The phase plan of a training run, and the fingerprint of what shapes its weights.

A run is a list of phases (progressive resizing and/or progressive data): :func:`plan_phases`
gives each its training rows (``train_fraction`` of the actions) and identity set, checking every
phase's input size first. :func:`weights_fingerprint` digests what shapes the weights
:func:`soccerreid.training.train_model` gives: a checkpoint resumes or re-exports only while it holds.

Examples::

    phases = plan_phases(cfg, train)                 # [Phase(index=0, config=..., rows=..., num_classes=36, ...)]
    describe_plan(cfg, phases, val_rows, DistContext(), threads=1)
    weights_fingerprint(cfg, train, valid).changes(saved_parts)   # e.g. 'config, train rows'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from soccerreid.config.models import ModelConfig, PhaseConfig
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
from soccerreid.models import validate_input_size
from soccerreid.training.distributed import DistContext
from soccerreid.training.sampler import epoch_batches
from soccerreid.training.validate import select_val_actions, validation_settings

# The index columns training reads; train_model keeps only these, so the fingerprint covers all it sees.
TRAIN_COLUMNS = ("path", "label", "split", "action_idx", "person_uid", "game")
VALID_COLUMNS = ("path", "action_idx", "person_uid", "role")
# train_model's module: it and its import closure are all the code that training runs.
TRAINER = Path(__file__).with_name("trainer.py")


@dataclass
class Phase:
    """One phase's config and training rows (labels contiguous within the phase)."""

    index: int
    config: PhaseConfig
    rows: pd.DataFrame
    num_classes: int
    identities: frozenset = field(repr=False)


def plan_phases(cfg: ModelConfig, train: pd.DataFrame) -> list[Phase]:
    """Each phase's training rows; validates every phase's input size for the model first."""
    for i, phase in enumerate(cfg.train.phases):
        validate_input_size(cfg, phase.height, phase.width, key=f"train.phases[{i}] height x width")
    planned = []
    for i, phase in enumerate(cfg.train.phases):
        rows = (
            train if phase.train_fraction >= 1.0 else select_train_fraction(train, phase.train_fraction, cfg.train.seed)
        )
        ids = frozenset(zip(rows["split"].tolist(), rows["action_idx"].tolist(), rows["person_uid"].tolist()))
        planned.append(Phase(i, phase, rows.reset_index(drop=True), int(rows["label"].max()) + 1, ids))
    return planned


def describe_plan(cfg: ModelConfig, phases: list[Phase], val_rows: pd.DataFrame, ctx: DistContext, threads: int) -> str:
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


def weights_fingerprint(cfg: ModelConfig, train: pd.DataFrame, valid: pd.DataFrame) -> Fingerprint:
    """What shapes the weights :func:`soccerreid.training.train_model` gives for these arguments (index rows).

    Parts: ``config``, every field of ``cfg`` but the operational ones (``train.workers``, ``train.threads``);
    ``validation``, the per-epoch validation settings of each phase; ``pretrained``, the bytes of a
    local ``cfg.pretrained`` file; the train rows and the validation rows (the columns training
    reads) and the bytes of their crops; and the code of :data:`TRAINER` and of all it runs.
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
            **code_parts(TRAINER),
        }
    )
