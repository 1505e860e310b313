"""Config of the retrieval stages: ``distances``, ``fusion``, ``rerank`` and ``score``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from soccerreid.config._base import bounded, from_mapping
from soccerreid.errors import ArgumentError, ConfigError

REQUIRED_RANKS = (1, 5, 10, 20)
RERANK_PRESETS = {
    "standard": (20, 6, 0.3),
    "aggressive": (10, 3, 0.3),
    "broad": (60, 10, 0.3),
    "lambda_0.5": (20, 6, 0.5),
}


@dataclass(frozen=True)
class DistancesConfig:
    """Per-action distance blocks of one model."""

    metric: Literal["cosine", "euclidean"] = "cosine"

    @property
    def concat_reads_features(self) -> bool:
        """Concat fusion needs the features files for euclidean distances; with cosine it is exact from the blocks."""
        return self.metric != "cosine"


@dataclass(frozen=True)
class FusionConfig:
    """How per-model distances are combined.

    ``weights`` is aligned with ``models``; ``normalize`` rescales each model's distances per
    query before averaging; ``grid_step`` is the step of the weight-simplex grid search on valid.
    ``method: grid`` uses the best grid weights.
    """

    models: tuple[str, ...] = ("resnet50_ibn", "dinov2_lora", "osnet_ain")
    method: Literal["concat", "mean", "weighted", "grid"] = "weighted"
    weights: tuple[float, ...] = bounded((0.2, 0.2, 0.6), ge=0.0)
    normalize: Literal["none", "minmax", "zscore"] = "none"
    grid_step: float = bounded(0.1, gt=0.0, le=0.5)

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError("models: expected at least one model name")
        if len(set(self.models)) != len(self.models):
            raise ConfigError(f"models: duplicate model names in {list(self.models)}")
        if len(self.weights) != len(self.models):
            raise ConfigError(
                f"weights: expected {len(self.models)} weights aligned with fusion.models, got {len(self.weights)}"
            )
        if sum(self.weights) <= 0:
            raise ConfigError(f"weights: expected a positive sum, got {list(self.weights)}")
        if abs(round(1 / self.grid_step) * self.grid_step - 1) > 1e-9:
            raise ConfigError(f"grid_step: expected 1/grid_step to be a whole number, got {self.grid_step}")


@dataclass(frozen=True)
class RerankConfig:
    """k-reciprocal re-ranking (Zhong et al. 2017), per action."""

    enabled: bool = True
    k1: int = bounded(20, ge=1)
    k2: int = bounded(6, ge=1)
    lambda_: float = bounded(0.3, ge=0.0, le=1.0, key="lambda")

    @property
    def setting(self) -> tuple[int, int, float] | None:
        """``(k1, k2, lambda)`` of the final method's re-ranking, or None when it is off."""
        return (self.k1, self.k2, self.lambda_) if self.enabled else None

    def describe(self) -> str:
        """``k1=20 k2=6 lambda=0.3``, or ``disabled``: how the stage's plan line names it."""
        return f"k1={self.k1} k2={self.k2} lambda={self.lambda_:g}" if self.enabled else "disabled"


def rerank_setting(values: object, name: str = "rerank") -> tuple[int, int, float]:
    """``(k1, k2, lambda)`` of one re-ranking, checked against :class:`RerankConfig`'s ranges; whole floats
    (a command line's ``20 6 0.3``) stand for ints. A bad one is an :class:`ArgumentError` naming ``name``.

    Examples::

        rerank_setting((20.0, 6.0, 0.3), name="--rerank")     # (20, 6, 0.3)
        rerank_setting((0, 6, 0.3))                           # ArgumentError: rerank.k1: expected a value >= 1, got 0
    """
    if not isinstance(values, (tuple, list)) or len(values) != 3:
        raise ArgumentError(f"{name}: expected (k1, k2, lambda), got {values!r}")
    k1, k2, lambda_ = (int(v) if isinstance(v, float) and v.is_integer() else v for v in values)
    try:
        cfg = from_mapping(RerankConfig, {"k1": k1, "k2": k2, "lambda": lambda_}, key=name)
    except ConfigError as err:
        raise ArgumentError(str(err)) from None
    return cfg.k1, cfg.k2, cfg.lambda_


@dataclass(frozen=True)
class QeConfig:
    """Query expansion per action (``retrieval/expansion.py``), on the fused cosine blocks.

    ``method``: ``aqe`` is fast-reid's ``aqe`` (every query and gallery feature becomes the
    mean of its ``k`` most similar members of the action, itself included, weighted by
    similarity ** ``alpha``; ``times`` passes); ``alpha_qe`` expands the queries only, over
    themselves and the gallery (Radenovic et al.'s alpha-QE); ``dba`` expands the gallery only,
    over the gallery (database-side augmentation). ``enabled`` applies it before re-ranking in
    the rerank stage; the score stage scores all three methods as Table 1 rows either way.
    ``alpha`` must be a whole number: similarities can be negative.
    """

    enabled: bool = False
    method: Literal["aqe", "alpha_qe", "dba"] = "aqe"
    k: int = bounded(5, ge=1)
    alpha: float = bounded(3.0, ge=0.0)
    times: int = bounded(1, ge=1)

    @property
    def applied(self) -> str | None:
        """The method the rerank stage applies before re-ranking, or None when ``enabled`` is off."""
        return self.method if self.enabled else None

    def __post_init__(self) -> None:
        if self.alpha != int(self.alpha):
            raise ConfigError(
                f"alpha: expected a whole number (a negative similarity has no fractional power), got {self.alpha}"
            )


@dataclass(frozen=True)
class ScoreConfig:
    """SoccerNet-protocol scoring. ``ranks`` must hold 1, 5, 10 and 20 (the metrics every
    scores file and Table 1 carry); ``max_rank`` is the CMC table's length. The official
    scorer's agreement check runs on ``official_actions`` actions of the split, evenly spaced
    (all of them when it has fewer): it is a pure-Python loop, about 2 s on SoccerNet's valid."""

    split: Literal["valid", "test"] = "valid"
    ranks: tuple[int, ...] = bounded((1, 5, 10, 20), ge=1)
    max_rank: int = bounded(50, ge=1)
    official_actions: int = bounded(200, ge=1)

    def __post_init__(self) -> None:
        missing = sorted(set(REQUIRED_RANKS) - set(self.ranks))
        if missing:
            raise ConfigError(f"ranks: expected a list holding {list(REQUIRED_RANKS)}, missing {missing}")
        if self.max_rank < max(self.ranks):
            raise ConfigError(
                f"max_rank: expected at least the largest of ranks ({max(self.ranks)}), got {self.max_rank}"
            )
