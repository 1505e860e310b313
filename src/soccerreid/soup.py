"""Uniform model soups: one embedder whose weights are the mean of several of the same recipe.

sportsreid's best SoccerNet model (ViT-L/16, 89.8 mAP on test) is "trained with 5 different
random seeds for initialization and then the weights are averaged across these seeds"
(``tools/create_model_soups.py``, after Wortsman et al., 2022). As there, every floating-point
entry of the state dict is averaged, BatchNorm running statistics included (they are not
recomputed for the averaged weights); integer entries (BatchNorm step counters) are the first
member's.

Examples::

    soup = soup_embedders(params.models["osnet_ain"], ["artifacts/models/osnet_ain/model.pt",
                                                       "artifacts/models/osnet_ain_seed1/model.pt"])
    save_embedder(soup, "artifacts/soups/osnet_ain_soup/model.pt")
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from soccerreid.config.models import ModelConfig
from soccerreid.models import ReidModel, load_embedder


def uniform_soup(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of state dicts with the same names and shapes (float64 sums, each
    tensor back in its own dtype); integer tensors are taken from the first.

    Examples::

        uniform_soup([{"w": torch.zeros(2)}, {"w": torch.ones(2)}])     # {"w": tensor([0.5, 0.5])}
    """
    first = states[0]
    for i, state in enumerate(states[1:], start=1):
        if state.keys() != first.keys() or any(state[k].shape != v.shape for k, v in first.items()):
            raise ValueError(f"state {i} has other names or shapes than state 0; a soup needs one architecture")
    soup = {}
    for name, tensor in first.items():
        if tensor.is_floating_point():
            total = sum(state[name].double() for state in states)
            soup[name] = (total / len(states)).to(tensor.dtype)
        else:
            soup[name] = tensor.clone()
    return soup


def soup_embedders(cfg: ModelConfig, paths: Sequence[str | os.PathLike]) -> ReidModel:
    """Load every embedder file of ``paths`` (each checked against ``cfg``) and return their
    uniform soup as one model, in eval mode.

    Examples::

        soup_embedders(cfg, ["a/model.pt", "b/model.pt", "c/model.pt"])(images)   # (B, D)
    """
    models = [load_embedder(cfg, path) for path in paths]
    soup = models[0]
    soup.load_state_dict(uniform_soup([m.state_dict() for m in models]))
    return soup.eval()
