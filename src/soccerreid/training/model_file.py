"""The train stage's output: the trained model as a self-describing model file.

Examples::

    result = train_model(cfg, train_df, valid_df, "checkpoints/osnet_ain")
    save_trained_model(result, cfg, "artifacts/models/osnet_ain/model.pt")
"""

from __future__ import annotations

import os

from soccerreid.config.models import ModelConfig
from soccerreid.models import ModelInfo, save_model
from soccerreid.training.trainer import TrainResult

PHASE_KEYS = (
    "epochs",
    "height",
    "width",
    "train_fraction",
    "init",
    "identities",
    "images",
    "best_epoch",
    "best_val_mAP",
)


def save_trained_model(result: TrainResult, cfg: ModelConfig, path: str | os.PathLike) -> ModelInfo:
    """Write ``result.model`` to ``path`` (atomically) with the recipe it was validated with (the final
    phase's input size, flip ``cfg.train.val_flip``, L2 normalisation) and the training record.

    Examples::

        save_trained_model(result, params.models["osnet_ain"], tmp / "model.pt").training["val_mAP"]
    """
    final = cfg.train.phases[-1]
    return save_model(
        result.model,
        path,
        cfg,
        input_size=(final.height, final.width),
        flip=cfg.train.val_flip,
        training=training_record(result.summary),
    )


def training_record(summary: dict) -> dict:
    """The model file's ``training`` entry from :func:`train_model`'s summary: val mAP, best epoch, phases.

    Examples::

        training_record(result.summary)     # {"val_mAP": 0.48, "best_epoch": 5, "untrained_val_mAP": 0.2, ...}
    """
    last = summary["phases"][-1]
    return {
        "val_mAP": summary["final_val_mAP"],
        "best_epoch": last["best_epoch"],
        "untrained_val_mAP": summary["untrained_val_mAP"],
        "val_queries": summary["val_queries"],
        "phases": [{key: phase[key] for key in PHASE_KEYS} for phase in summary["phases"]],
    }
