"""params.yaml, typed: one frozen dataclass per section, validated before any work starts.

Only stage scripts call :func:`load_params`; the library takes the section dataclasses or
plain arguments, never the raw mapping.

Examples::

    params = load_params("params.yaml")
    params.fusion.weights        # (0.2, 0.2, 0.6)
    params.models["osnet_ain"].train.phases[0].epochs
    params.extract["osnet_ain"].flip
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from soccerreid.config._base import from_mapping
from soccerreid.config.data import DataConfig
from soccerreid.config.imported import ImportedConfig
from soccerreid.config.models import ExtractConfig, ModelConfig, SoupConfig, check_soup
from soccerreid.config.report import ReportConfig
from soccerreid.config.retrieval import (
    RERANK_PRESETS,
    DistancesConfig,
    FusionConfig,
    QeConfig,
    RerankConfig,
    ScoreConfig,
)
from soccerreid.errors import ConfigError

__all__ = [
    "Params",
    "load_params",
    "parse_params",
    "RERANK_PRESETS",
    "DataConfig",
    "ModelConfig",
    "SoupConfig",
    "ImportedConfig",
    "ExtractConfig",
    "DistancesConfig",
    "FusionConfig",
    "QeConfig",
    "RerankConfig",
    "ScoreConfig",
    "ReportConfig",
]


@dataclass(frozen=True)
class LauncherConfig:
    """How dvc.yaml starts ``train@<model>``: ``python`` (one process) or ``torchrun --nproc_per_node=N`` (DDP)."""

    train: str = "python"

    def __post_init__(self) -> None:
        if self.train.split()[:1] not in (["python"], ["torchrun"]):
            raise ConfigError(f"train: expected 'python' or 'torchrun --nproc_per_node=N', got {self.train!r}")


@dataclass(frozen=True)
class Params:
    """All of params.yaml."""

    launcher: LauncherConfig = field(default_factory=LauncherConfig)
    data: DataConfig = field(default_factory=DataConfig)
    models: dict[str, ModelConfig] = field(default_factory=dict)
    soups: dict[str, SoupConfig] = field(default_factory=dict)
    imported: dict[str, ImportedConfig] = field(default_factory=dict)
    extract: dict[str, ExtractConfig] = field(default_factory=dict)
    distances: DistancesConfig = field(default_factory=DistancesConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    qe: QeConfig = field(default_factory=QeConfig)
    rerank: RerankConfig = field(default_factory=RerankConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    source: str = field(default="params.yaml", init=False, compare=False)  # the file, for messages

    def model(self, name: str) -> ModelConfig:
        """``models.<name>``; a name that is not there is the one-line :class:`ConfigError` naming the file.

        Examples::

            load_params("params.yaml").model("osnet_ain").arch      # 'osnet_ain'
        """
        return self._entry("models", "model", name)

    def soup(self, name: str) -> SoupConfig:
        """``soups.<name>``, or a one-line :class:`ConfigError` as :meth:`model`."""
        return self._entry("soups", "soup", name)

    def imported_model(self, name: str) -> ImportedConfig:
        """``imported.<name>``, or a one-line :class:`ConfigError` as :meth:`model`."""
        return self._entry("imported", "imported model", name)

    def network(self, name: str) -> tuple[str, ModelConfig]:
        """``(key, network)`` of a model trained here (``models.<name>``) or imported (``imported.<name>``).

        Examples::

            load_params("params.yaml").network("osnet_ain")      # ('models.osnet_ain', ModelConfig(...))
        """
        if name in self.imported:
            return f"imported.{name}", self.imported[name].network
        return f"models.{name}", self.model(name)

    def extraction(self, name: str) -> ExtractConfig:
        """``extract.<name>`` of a model, soup or imported model, or a one-line :class:`ConfigError`."""
        return self._entry("extract", "model, soup or imported model", name)

    def _entry(self, section: str, what: str, name: str):
        entries = getattr(self, section)
        if name not in entries:
            raise ConfigError(f"{self.source}: {section}.{name}: no such {what} (have {', '.join(entries) or 'none'})")
        return entries[name]

    def __post_init__(self) -> None:
        for name, soup in self.soups.items():
            if name in self.models:
                raise ConfigError(f"soups.{name}: also a key of models; a soup needs a name of its own")
            check_soup(name, soup, self.models)
        for name in self.imported:
            if name in self.models or name in self.soups:
                raise ConfigError(
                    f"imported.{name}: also a key of models or soups; an imported model needs a name of its own"
                )
        embedders = [*self.models, *self.soups, *self.imported]
        if set(self.extract) != set(embedders):
            raise ConfigError(
                f"extract: expected one entry per model, soup and imported model {sorted(embedders)}, "
                f"got {sorted(self.extract)}"
            )
        missing = [name for name in self.fusion.models if name not in embedders]
        if missing:
            raise ConfigError(
                f"fusion.models: '{missing[0]}' is not a key of models, soups or imported (have {embedders})"
            )
        if self.qe.enabled and (self.distances.metric, self.fusion.normalize) != ("cosine", "none"):
            raise ConfigError(
                "qe.enabled: query expansion works on cosine blocks of unit features; it needs distances.metric: "
                "cosine "
                f"and fusion.normalize: none, got {self.distances.metric} and {self.fusion.normalize}"
            )
        for name, model in self.models.items():
            _check_validation_recipe(name, model, self.extract[name])
        for name, imported in self.imported.items():
            _check_imported_size(name, imported, self.extract[name])


def _check_validation_recipe(name: str, model: ModelConfig, extract: ExtractConfig) -> None:
    """Extraction must embed as the final phase's per-epoch validation did, unless a reason is given."""
    last = model.train.phases[-1]
    validated = (last.height, last.width, model.train.val_flip)
    if (extract.height, extract.width, extract.flip) == validated or extract.differs_from_validation:
        return
    flip = {True: "on", False: "off"}
    raise ConfigError(
        f"extract.{name}: extracts at {extract.height}x{extract.width} with flip {flip[extract.flip]}, but "
        f"models.{name} picks its best epoch on validation at {last.height}x{last.width} with flip "
        f"{flip[model.train.val_flip]} (its last phase, train.val_flip): make them equal, or give the reason "
        f"in extract.{name}.differs_from_validation"
    )


def _check_imported_size(name: str, imported: ImportedConfig, extract: ExtractConfig) -> None:
    """An imported model is extracted at the size it was trained at, unless a reason is given."""
    if (extract.height, extract.width) == (imported.height, imported.width) or extract.differs_from_validation:
        return
    raise ConfigError(
        f"extract.{name}: extracts at {extract.height}x{extract.width}, but imported.{name} was trained at "
        f"{imported.height}x{imported.width}: make them equal, or give the reason in "
        f"extract.{name}.differs_from_validation"
    )


def parse_params(data: object, source: str = "params.yaml") -> Params:
    """Validate a params mapping; errors name ``source`` and the dotted key."""
    if isinstance(data, dict) and "export" in data:
        raise ConfigError(
            f"{source}: export: no such section any more; set the tracker's input scale per model as "
            "extract.<model>.supersample (CHANGELOG)"
        )
    try:
        params = from_mapping(Params, data, key="")
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    object.__setattr__(params, "source", source)  # a frozen dataclass's derived field
    return params


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}: {err.reason})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    return parse_params(data, source=str(path))
