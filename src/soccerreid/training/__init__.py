"""Training: losses, action-aware PK sampling, uint8 augmentation, phases, checkpoints, DDP.

Examples::

    from soccerreid.training import init_distributed, train_model
    ctx = init_distributed()                       # one process, or a torchrun rank
    result = train_model(cfg, train_df, valid_df, "checkpoints/osnet_ain", live_dir="dvclive/osnet_ain", ctx=ctx)
    result.summary["final_val_mAP"]

See docs/training.md.
"""

from soccerreid.training.distributed import DistContext, init_distributed, shutdown_distributed
from soccerreid.training.losses import CenterLoss, ReidLoss, batch_hard_triplet
from soccerreid.training.model_file import save_trained_model, training_record
from soccerreid.training.optim import lr_factor, make_optimizer, make_scheduler
from soccerreid.training.outputs import export_run, keep_outputs
from soccerreid.training.plan import plan_phases, weights_fingerprint
from soccerreid.training.sampler import ActionPKSampler
from soccerreid.training.step import TrainNet, train_step
from soccerreid.training.trainer import TrainResult, train_model

__all__ = [
    "ActionPKSampler",
    "CenterLoss",
    "DistContext",
    "export_run",
    "ReidLoss",
    "batch_hard_triplet",
    "init_distributed",
    "keep_outputs",
    "lr_factor",
    "make_optimizer",
    "make_scheduler",
    "save_trained_model",
    "shutdown_distributed",
    "TrainNet",
    "TrainResult",
    "plan_phases",
    "train_model",
    "train_step",
    "weights_fingerprint",
    "training_record",
]
