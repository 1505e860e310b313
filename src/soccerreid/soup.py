"""Uniform model soups: one embedder whose weights are the mean of several of the same recipe.

sportsreid's best SoccerNet model (ViT-L/16, 89.8 mAP on test) is "trained with 5 different
random seeds for initialization and then the weights are averaged across these seeds"
(``tools/create_model_soups.py``, after Wortsman et al., 2022). As there, every floating-point
entry of the state dict is averaged, BatchNorm running statistics included (they are not
recomputed for the averaged weights); integer entries (BatchNorm step counters) are the first
member's.

Examples::

    files = ["artifacts/models/osnet_ain/model.pt", "artifacts/models/osnet_ain_seed1/model.pt"]
    network, info = soup_model_files(files, cfg, ["models.osnet_ain", "models.osnet_ain_seed1"])
    fp = soup_fingerprint(files, cfg, settings, frames, "cosine", __file__)   # what shapes the soup stage's outputs
    write_soup(files, members, cfg, settings, frames, "osnet_ain_soup", "cosine", (out, features, distances), fp)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pandas as pd
import torch

from soccerreid.config.models import ExtractConfig, ModelConfig
from soccerreid.features import extract_split, extraction_fingerprint, load_model
from soccerreid.fingerprint import Fingerprint, cached_outputs, files_digest, value_digest
from soccerreid.models import ModelInfo, ReidModel, check_matches, load_network, read_model_file, save_model
from soccerreid.retrieval import features_to_blocks
from soccerreid.schema import write_blocks, write_features
from soccerreid.vocab import EVAL_SPLITS


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


def soup_model_files(
    paths: Sequence[str | os.PathLike], cfg: ModelConfig, keys: Sequence[str]
) -> tuple[ReidModel, ModelInfo]:
    """The uniform soup of the model files ``paths``: ``(network, info)``, the network in eval mode
    and the first file's :class:`ModelInfo` (input contract and output settings).

    Every member must be the network ``cfg`` describes (:func:`~soccerreid.models.check_matches`:
    arch, variant, neck, last stride, LoRA); one that is not is a one-line :class:`WeightsError`
    naming its file and its params key of ``keys``.

    Examples::

        keys = ["models.osnet_ain", "models.osnet_ain_seed1"]
        network, info = soup_model_files(files, params.models["osnet_ain"], keys)
        network(images)                                                  # (B, info.embed_dim)
    """
    network, info = load_network(paths[0])
    check_matches(info, cfg, paths[0], key=keys[0])
    states = [network.state_dict()]
    for path, key in zip(paths[1:], keys[1:]):
        other, state = read_model_file(path)
        check_matches(other, cfg, path, key=key)
        states.append(state)
    network.load_state_dict(uniform_soup(states))
    return network.eval(), info


def soup_fingerprint(
    paths: Sequence[str | os.PathLike],
    cfg: ModelConfig,
    settings: ExtractConfig,
    frames: dict[str, pd.DataFrame],
    metric: str,
    script: str | os.PathLike,
) -> Fingerprint:
    """What shapes a soup's model file, features and distance blocks: the extraction fingerprint of
    the first member (:func:`~soccerreid.features.extraction_fingerprint`: ``cfg``, ``settings``,
    the rows and crops of every index table of ``frames``, the code of ``script`` and all it runs),
    plus the bytes of every member file of ``paths`` and the distance ``metric``.

    Examples::

        fp = soup_fingerprint(files, model_cfg, settings, frames, "cosine", __file__)
        write_soup(files, members, model_cfg, settings, frames, "osnet_ain_soup", "cosine", folders, fp)
    """
    fp = extraction_fingerprint(paths[0], cfg, settings, frames, script)
    return Fingerprint({**fp.parts, "member files": files_digest(paths), "metric": value_digest(metric)})


def write_soup(
    paths: Sequence[str | os.PathLike],
    members: Sequence[str],
    cfg: ModelConfig,
    settings: ExtractConfig,
    frames: Mapping[str, pd.DataFrame],
    name: str,
    metric: str,
    folders: tuple[str | os.PathLike, str | os.PathLike, str | os.PathLike],
    fingerprint: Fingerprint,
    device: str = "auto",
) -> bool:
    """Write the soup ``name`` of the model files ``paths`` into ``folders`` ``(out, features,
    distances)``, each whole and stamped with ``fingerprint``, unless all three already hold it
    (:func:`~soccerreid.fingerprint.cached_outputs`). Returns True when it wrote, False when kept.

    ``<out>/model.pt``: the uniform soup (:func:`soup_model_files`) as a model file with the first
    member's input contract and output settings, its record naming the ``members``
    (``{"soup": "uniform", "members": [...]}``); then, embedded with it at the extraction
    ``settings``, ``<features>/<split>.h5`` for every index table of ``frames`` (``{split: table}``;
    (N, D) float32 features of model ``name``) and ``<distances>/<split>.h5`` (their ``metric``
    distance blocks) for the splits of :data:`~soccerreid.vocab.EVAL_SPLITS` among them.

    Examples::

        folders = ("soups/osnet_ain_soup", "features/osnet_ain_soup", "distances/osnet_ain_soup")
        frames = read_split_crops("data/index", ("valid",))
        members = ["osnet_ain", "osnet_ain_seed1"]
        write_soup(files, members, cfg, settings, frames, "osnet_ain_soup", "cosine", folders, fp)   # True: written
    """
    with cached_outputs(fingerprint, *folders) as temps:
        if temps is None:
            return False
        out, features, distances = temps
        network, info = soup_model_files(paths, cfg, [f"models.{member}" for member in members])
        save_model(
            network,
            out / "model.pt",
            cfg,
            input_size=(info.height, info.width),
            flip=info.flip,
            normalize=info.normalize,
            training={"soup": "uniform", "members": list(members)},
        )
        embedder = load_model(out / "model.pt").configure(**vars(settings))
        for split, frame in frames.items():
            fs = extract_split(embedder, frame, name, split, device)
            write_features(features / f"{split}.h5", fs)
            if split in EVAL_SPLITS:
                write_blocks(distances / f"{split}.h5", features_to_blocks(fs, metric))
    return True
