"""Config of ``import@<name>``: ``imported.<name>``, a model trained elsewhere that the DAG extracts, fuses and
scores like one trained here (its own module: nothing that trains reads it, so adding one retrains nothing).

Examples::

    load_params("params.yaml").imported["osnet_sn"].network      # the ModelConfig extract@ checks the file against
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_type_hints

from soccerreid.config._base import bounded
from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD, ModelConfig
from soccerreid.errors import ConfigError

Arch = get_type_hints(ModelConfig)["arch"]  # the registered architectures, as models.<name>.arch


@dataclass(frozen=True)
class ImportedConfig:
    """A model trained elsewhere (``import@<name>``): a torchreid checkpoint (``save_checkpoint``'s
    ``.pth.tar``, as SoccerNet's sn-reid baseline writes it), the registered ``arch``/``variant`` it
    holds and the input size it was trained at. It becomes ``artifacts/models/<name>/model.pt`` and is
    then extracted, fused and scored like a model trained here; nothing trains it."""

    checkpoint: str
    arch: Arch
    variant: str = ""
    height: int = bounded(256, ge=16)
    width: int = bounded(128, ge=16)
    neck: Literal["bnneck", "none"] = "none"
    mean: tuple[float, float, float] = bounded(IMAGENET_MEAN, ge=0.0, le=1.0)
    std: tuple[float, float, float] = bounded(IMAGENET_STD, gt=0.0, le=1.0)

    def __post_init__(self) -> None:
        if not self.checkpoint:
            raise ConfigError("checkpoint: expected the path of a torchreid checkpoint, got ''")

    @property
    def network(self) -> ModelConfig:
        """The network it holds, as the ``ModelConfig`` that extraction checks the model file against."""
        return ModelConfig(arch=self.arch, variant=self.variant, neck=self.neck, mean=self.mean, std=self.std)
