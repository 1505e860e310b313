"""Optimiser and per-step learning-rate schedule of one training phase.

The schedule is a ``LambdaLR`` stepped once per optimisation step: a linear warmup over
``warmup_epochs`` epochs, then either cosine decay to zero over the rest of the phase or a step
decay by ``gamma`` every ``step_size`` epochs.

Examples::

    opt = make_optimizer(params, cfg.train)
    sched = make_scheduler(opt, cfg.train, epochs=10, steps_per_epoch=200)
    ...; opt.step(); sched.step()
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from soccerreid.config.models import TrainConfig


def make_optimizer(params: Iterable[torch.nn.Parameter] | list[dict], train: TrainConfig) -> torch.optim.Optimizer:
    """AdamW or SGD (Nesterov momentum) over the parameters that require grad.

    ``params`` are parameters, or parameter groups (:func:`parameter_groups`) whose own ``lr``
    and ``weight_decay`` override ``train``'s.
    """
    params = list(params)
    if params and isinstance(params[0], dict):
        groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in params]
        trainable = [g for g in groups if g["params"]]
    else:
        trainable = [p for p in params if p.requires_grad]
    if train.optimizer == "sgd":
        return torch.optim.SGD(
            trainable, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay, nesterov=True
        )
    return torch.optim.AdamW(trainable, lr=train.lr, weight_decay=train.weight_decay)


def parameter_groups(net: torch.nn.Module, train: TrainConfig) -> list[dict]:
    """Parameter groups of ``net`` (a ``TrainNet``: ``net.model.backbone`` is the network).

    With ``train.layer_decay`` < 1 the backbone's groups come from timm's
    ``param_groups_layer_decay`` (BEiT's layer-wise decay: the lr of layer l of a depth-L ViT is
    scaled by ``layer_decay ** (L + 1 - l)``, the patch embedding being layer 0; 1-D tensors and
    the position embedding / class token get no weight decay); every other parameter (neck,
    classifier, loss) keeps ``train.lr`` in the first group (the one the logs show). Otherwise
    one group of every parameter.

    Examples::

        opt = make_optimizer(parameter_groups(TrainNet(model, loss), cfg.train), cfg.train)
    """
    if train.layer_decay >= 1.0:
        return [{"params": list(net.parameters())}]
    from timm.optim import param_groups_layer_decay

    backbone = net.model.backbone
    groups = param_groups_layer_decay(
        backbone,
        weight_decay=train.weight_decay,
        layer_decay=train.layer_decay,
        no_weight_decay_list=backbone.no_weight_decay(),
    )
    inside = {id(p) for p in backbone.parameters()}
    rest = [p for p in net.parameters() if id(p) not in inside]
    decayed = [
        {"params": g["params"], "lr": train.lr * g["lr_scale"], "weight_decay": g["weight_decay"]} for g in groups
    ]
    return [{"params": rest, "lr": train.lr, "weight_decay": train.weight_decay}, *decayed]


def lr_factor(step: int, train: TrainConfig, epochs: int, steps_per_epoch: int) -> float:
    """Multiplier of the base lr at optimisation step ``step`` (0-based) of a phase.

    Examples::

        lr_factor(0, TrainConfig(warmup_epochs=1), epochs=10, steps_per_epoch=100)   # 0.01
    """
    warmup = train.warmup_epochs * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    if train.schedule == "step":
        return train.gamma ** (step // (train.step_size * steps_per_epoch))
    total = max(epochs * steps_per_epoch - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / total))


def make_scheduler(
    optimizer: torch.optim.Optimizer, train: TrainConfig, epochs: int, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step warmup + cosine/step schedule for a phase of ``epochs`` x ``steps_per_epoch``."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, train, epochs, steps_per_epoch))
