"""Checkpoints trained elsewhere (torchreid, SoccerNet's sn-reid baseline) become model files.

A torchreid checkpoint (``torchreid.utils.save_checkpoint``: a ``.pth.tar`` dict holding
``state_dict``, keys possibly prefixed ``module.``) is loaded into the registered network the user
names, through the same strict loader as ``pretrained`` weights: a missing, unexpected (other than
the classifier) or shape-mismatched tensor is a one-line :class:`~soccerreid.errors.WeightsError`
naming the first ones, before any work. The result is an ordinary model file: ``soccerreid
evaluate``, ``export``, ``embed`` and ``rank`` take it like one trained here.

Examples::

    import_checkpoint("model-best.pth.tar", "osnet_sn.pt", arch="osnet_ain", variant="x1_0", height=256, width=128)
"""

from __future__ import annotations

import os
from pathlib import Path

from soccerreid.config._base import from_mapping
from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD, ModelConfig
from soccerreid.errors import WeightsError
from soccerreid.models._factory import create_model
from soccerreid.models._file import ModelInfo, save_model
from soccerreid.models._registry import validate_input_size


def import_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    arch: str,
    variant: str,
    height: int,
    width: int,
    neck: str = "none",
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
) -> ModelInfo:
    """Write the model file ``out`` of ``checkpoint``'s weights in ``arch``/``variant`` at input
    (height, width); returns its :class:`ModelInfo`. Flip and L2 normalisation are on, as the DAG's.

    A bad name or size is a one-line ConfigError, a checkpoint that does not fit the network a
    one-line WeightsError naming the file and the first missing/unexpected tensors.
    """
    if not Path(checkpoint).is_file():
        raise WeightsError(f"{checkpoint}: checkpoint not found")
    fields = {"arch": arch, "variant": variant, "neck": neck, "mean": list(mean), "std": list(std)}
    cfg = from_mapping(ModelConfig, {**fields, "pretrained": os.fspath(checkpoint)}, key="import")
    validate_input_size(cfg, height, width, key=f"import: {arch} {variant}: height x width")
    network = create_model(cfg, num_classes=0).eval()
    return save_model(network, out, cfg, input_size=(height, width))
