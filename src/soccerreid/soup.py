"""Uniform model soups: one embedder whose weights are the mean of several of the same recipe.

sportsreid's best SoccerNet model (ViT-L/16, 89.8 mAP on test) is "trained with 5 different
random seeds for initialization and then the weights are averaged across these seeds"
(``tools/create_model_soups.py``, after Wortsman et al., 2022). As there, every floating-point
entry of the state dict is averaged, BatchNorm running statistics included (they are not
recomputed for the averaged weights); integer entries (BatchNorm step counters) are the first
member's.

Examples::

    network, info = soup_model_files(["artifacts/models/osnet_ain/model.pt", "artifacts/models/osnet_ain_seed1/model.pt"])
    save_model(network, "artifacts/soups/osnet_ain_soup/model.pt", cfg, input_size=(info.height, info.width))
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from soccerreid.config.models import ModelConfig
from soccerreid.errors import WeightsError
from soccerreid.models import ModelInfo, ReidModel, check_matches, load_network, read_model_file


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


def check_members(paths: Sequence[str | os.PathLike], cfg: ModelConfig, keys: Sequence[str]) -> None:
    """Raise a one-line :class:`WeightsError` unless every model file of ``paths`` is the network
    ``cfg`` describes (``keys``: the params key of each, for the message)."""
    for path, key in zip(paths, keys):
        check_matches(read_model_file(path)[0], cfg, path, key=key)


def soup_model_files(paths: Sequence[str | os.PathLike]) -> tuple[ReidModel, ModelInfo]:
    """The uniform soup of the model files ``paths`` (one architecture): ``(network, info)``, the
    network in eval mode and the first file's :class:`ModelInfo` (input contract and output settings).

    Members of other architectures are a one-line :class:`WeightsError` naming the file.

    Examples::

        network, info = soup_model_files(["a/model.pt", "b/model.pt", "c/model.pt"])
        network(images)                                                  # (B, info.embed_dim)
    """
    network, info = load_network(paths[0])
    states = [network.state_dict()]
    for path in paths[1:]:
        other, state = read_model_file(path)
        if (other.arch, other.variant, other.neck, other.lora) != (info.arch, info.variant, info.neck, info.lora):
            raise WeightsError(f"{path}: holds {other.arch}/{other.variant}, but the soup's first member {paths[0]} is "
                               f"{info.arch}/{info.variant}; a soup averages one architecture")
        states.append(state)
    network.load_state_dict(uniform_soup(states))
    return network.eval(), info
