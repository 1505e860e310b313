"""Config of the per-model stages: ``train@<model>`` reads ``models.<name>``; ``extract@<model>``
reads ``models.<name>`` and ``extract.<name>`` (its own section, so changing extraction retrains nothing).

Every field shapes its stage's output unless it is marked operational (``bounded(...,
operational=True)``): ``workers`` and ``threads`` of ``train`` and ``extract.<name>``, and
``extract.<name>.differs_from_validation`` (a reason, in words). An operational change never
retrains, never re-extracts and keeps an interrupted run resumable; any other
change makes the fingerprint differ; a local ``pretrained`` file counts by its bytes
(docs/training.md, "What retrains").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from soccerreid.config._base import NEUTRAL_DEFAULT, OPERATIONAL, bounded
from soccerreid.errors import ConfigError
from soccerreid.vocab import EVAL_SPLITS, SPLITS, TRAIN_SPLITS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_SUPERSAMPLE = 8  # extract.<model>.supersample: a tracker asked for 8x the input size already feeds 64x the pixels


@dataclass(frozen=True)
class LoraConfig:
    """peft LoRA adapters on a ViT: ``targets`` is a subset of {"qkv", "mlp"}."""

    r: int = bounded(8, ge=1)
    alpha: float = bounded(16.0, gt=0.0)
    dropout: float = bounded(0.0, ge=0.0, lt=1.0)
    targets: tuple[str, ...] = ("qkv",)

    def __post_init__(self) -> None:
        bad = [t for t in self.targets if t not in ("qkv", "mlp")]
        if bad or not self.targets:
            raise ConfigError(f"targets: expected a non-empty subset of ['qkv', 'mlp'], got {list(self.targets)}")


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentations (applied after the resize to the phase's input size)."""

    flip: float = bounded(0.5, ge=0.0, le=1.0)
    pad: int = bounded(10, ge=0)
    color_jitter: float = bounded(0.2, ge=0.0, le=1.0)
    random_erasing: float = bounded(0.5, ge=0.0, le=1.0)
    # probability of resizing as trackers do (cv2 bilinear, no antialiasing; BoxMOT) instead of as
    # evaluation does (antialiased): features then hold under either kernel (docs/models.md, deployed score)
    tracker_resize: float = bounded(0.0, ge=0.0, le=1.0)


@dataclass(frozen=True)
class PhaseConfig:
    """One training phase: progressive resizing and progressive data are both lists of phases.

    ``init: best`` starts the phase from the best checkpoint of the previous phase (report 3.1);
    ``init: last`` continues from its last weights (report 3.2).
    """

    epochs: int = bounded(ge=1)
    height: int = bounded(256, ge=16)
    width: int = bounded(128, ge=16)
    train_fraction: float = bounded(1.0, gt=0.0, le=1.0)
    init: Literal["best", "last"] = "last"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation recipe, PK sampling and phases of one model.

    Every field but ``workers`` and ``threads`` shapes the weights, so it is part of the checkpoint
    fingerprint:
    ``seed``, the phases and the optimisation and loss settings directly; ``val_queries`` (the
    validation subset) and ``bn_batches`` (precise BN) through the BatchNorm statistics and the
    best epoch that is exported; ``amp`` on CUDA (bf16/fp16 autocast; CPU trains in float32).
    ``amp`` counts on every device, so the fingerprint never depends on the machine: a run
    trained on a GPU box is reused, not retrained, on a CPU box. ``workers`` (DataLoader
    processes) is operational: batches and augmentations are pure functions of the seed, so
    any worker count gives the same weights, and lowering it after an out-of-memory crash
    resumes the run. ``threads`` (torch CPU threads of the trainer; 0: the cores the workers
    leave free, at least one; see :mod:`soccerreid.cpu`) is operational too.

    Every epoch is validated at its phase's size on ``val_queries`` valid queries, with flip TTA
    when ``val_flip`` (the extraction recipe: the best epoch is picked on the shipped feature).

    The keys of the levers (docs/levers.md) all shape the weights:

    - batch composition (``training/sampler.py``): ``ids_per_action`` identities of one action
      per group, ``actions_per_game`` action groups of one game, ``games_per_competition`` game
      groups of one competition (championship/season); 1 and 1 give plain action-aware batches;
    - losses (``training/losses.py``): ``ce_weight`` (label-smoothed CE), ``triplet_weight``,
      ``centroid_weight`` (sportsreid's centroid triplet, margin ``triplet_margin``),
      ``contrastive_weight`` (in-batch InfoNCE at ``contrastive_temperature``, label smoothing
      ``contrastive_smoothing``), ``center_weight``; ``sampled_classes`` > 0 trains the
      identity classifier as Partial FC does (``training/partial_fc.py``): each step's CE scores
      this many classes (the batch's own plus random others), so a step's cost no longer grows
      with the identity count (0, or at least the phase's identities: the full softmax);
    - data: ``splits`` to train on (the challenge recipe trains on train, valid and test, an
      action then being the pair (split, action_idx)); ``drop_none_ids`` leaves out crops whose
      id is ``None`` (persons seen in one frame only, as MIG does);
    - weights: ``ema`` is the per-step decay of an exponential moving average of the weights,
      which is then what is validated and exported (0 = off); ``select: best`` exports the final
      phase's best epoch by validation mAP, ``last`` its last epoch (a fixed epoch count, needed
      when valid is trained on); ``init_seed`` seeds the random init alone (None: ``seed``), so
      the members of a soup can share their init; ``layer_decay`` < 1 scales the lr of ViT layer
      l of L by ``layer_decay ** (L + 1 - l)`` (timm's layer-wise decay; clip_vit only).
    """

    seed: int = bounded(0, ge=0)
    phases: tuple[PhaseConfig, ...] = (PhaseConfig(epochs=1),)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = bounded(3.5e-4, gt=0.0)
    weight_decay: float = bounded(5e-4, ge=0.0)
    momentum: float = bounded(0.9, ge=0.0, lt=1.0)
    warmup_epochs: int = bounded(1, ge=0)
    schedule: Literal["cosine", "step"] = "cosine"
    step_size: int = bounded(40, ge=1)
    gamma: float = bounded(0.1, gt=0.0, le=1.0)
    grad_clip: float = bounded(5.0, ge=0.0)
    label_smoothing: float = bounded(0.1, ge=0.0, lt=1.0)
    triplet_margin: float = bounded(0.3, ge=0.0)
    triplet_weight: float = bounded(1.0, ge=0.0)
    center_weight: float = bounded(0.0, ge=0.0)
    ce_weight: float = bounded(1.0, ge=0.0)
    sampled_classes: int = bounded(0, ge=0)
    centroid_weight: float = bounded(0.0, ge=0.0)
    contrastive_weight: float = bounded(0.0, ge=0.0)
    contrastive_temperature: float = bounded(0.15, gt=0.0)
    contrastive_smoothing: float = bounded(0.0, ge=0.0, lt=1.0)
    ids_per_batch: int = bounded(8, ge=2)
    images_per_id: int = bounded(4, ge=2)
    ids_per_action: int = bounded(4, ge=1)
    actions_per_game: int = bounded(1, ge=1)
    games_per_competition: int = bounded(1, ge=1)
    splits: tuple[Literal[TRAIN_SPLITS], ...] = ("train",)
    drop_none_ids: bool = False
    ema: float = bounded(0.0, ge=0.0, lt=1.0)
    select: Literal["best", "last"] = "best"
    init_seed: int | None = bounded(None, ge=0)
    layer_decay: float = bounded(1.0, gt=0.0, le=1.0)
    amp: Literal["none", "bf16", "fp16"] = "bf16"
    workers: int = bounded(2, ge=0, operational=True)
    threads: int = bounded(0, ge=0, operational=True)
    val_queries: int = bounded(500, ge=1)
    val_flip: bool = True
    bn_batches: int = bounded(20, ge=0)

    def __post_init__(self) -> None:
        if not self.phases:
            raise ConfigError("phases: expected at least one phase")
        if self.phases[0].init == "best":
            raise ConfigError("phases[0].init: 'best' needs a previous phase; the first phase must use 'last'")
        if self.ids_per_action > self.ids_per_batch:
            raise ConfigError(
                f"ids_per_action: expected <= ids_per_batch ({self.ids_per_batch}), got {self.ids_per_action}"
            )
        if not (self.ce_weight or self.triplet_weight or self.centroid_weight or self.contrastive_weight):
            raise ConfigError(
                "ce_weight: every loss weight is 0 (ce, triplet, centroid, contrastive); nothing would train"
            )
        self._check_splits_and_selection()
        self._check_sampled_classes()

    def _check_sampled_classes(self) -> None:
        if not self.sampled_classes:
            return
        if self.sampled_classes < self.ids_per_batch:
            raise ConfigError(
                f"sampled_classes: expected 0 or >= ids_per_batch ({self.ids_per_batch}), got {self.sampled_classes}"
            )
        if self.ema:
            raise ConfigError(
                "sampled_classes: not with ema > 0 (the average would still touch every classifier row each step); "
                "set one of them to 0"
            )
        if self.amp == "fp16":
            raise ConfigError(
                "sampled_classes: not with amp: fp16 (its loss scaling does not cover the sampled rows); use amp: bf16"
            )

    def _check_splits_and_selection(self) -> None:
        if not self.splits or len(set(self.splits)) != len(self.splits):
            raise ConfigError(f"splits: expected distinct names of {list(TRAIN_SPLITS)}, got {list(self.splits)}")
        if "valid" in self.splits and self.select == "best":
            raise ConfigError(
                "select: 'best' picks epochs on valid, which splits trains on; use select: last (a fixed epoch count)"
            )
        best = [i for i, phase in enumerate(self.phases) if phase.init == "best"]
        if self.select == "last" and best:
            raise ConfigError(f"phases[{best[0]}].init: 'best' selects on valid while select is 'last'; use init: last")

    @property
    def resolved_init_seed(self) -> int:
        """The seed of the random init: ``init_seed``, or ``seed`` when unset."""
        return self.seed if self.init_seed is None else self.init_seed


@dataclass(frozen=True)
class ExtractConfig:
    """Feature extraction: eval resize, flip TTA and L2 normalisation; and the tracker's input size.

    ``amp`` is the autocast dtype on CUDA; on CPU extraction always runs in float32.
    Every field but ``workers``, ``threads`` and ``differs_from_validation`` shapes the features
    and is part of the extraction fingerprint (``batch_size`` too: it changes float rounding, and
    compiled extraction pads to it); those three are operational.
    ``compile`` runs the model through ``torch.compile`` (inductor, frozen weights, static batch
    shape): on the 2-core CPU OSNet-AIN x1.0 compiles in ~33 s and then runs 2.8x faster with the
    same features (max abs diff ~5e-7), so it pays off from about 1,400 crops per run: on every
    real SoccerNet split, not on the small synthetic default (docs/models.md). ``threads``: torch
    CPU threads, 0 for the cores the ``workers`` leave free (:mod:`soccerreid.cpu`).

    ``height``, ``width`` and ``flip`` must equal the model's final training phase size and
    ``train.val_flip``, so the epoch exported is the one that validated best on this very feature;
    ``differs_from_validation`` (a reason, in words) allows them to differ.

    ``supersample`` (k): the tracker files of ``export@<model>`` take k times the input size (their
    BoxMOT sidecar asks for it) and downsize it in the graph with antialiased bilinear, so that a
    tracker's cv2 resize, which does not antialias, aliases only crops over k times the input.
    ``resize`` is how the DAG brings a crop to the input size:

    - ``pil``: torchreid's ``FeatureExtractor`` recipe, PIL's antialiased bilinear (what per-epoch
      validation always uses);
    - ``tracker``: what a tracker feeds the export, cv2 bilinear to k*H x k*W, then the graph's
      antialiased bilinear to H x W in float (:mod:`soccerreid.features.tracker_view`). The DAG then
      scores the very feature a tracker deploys (cosine 1 to the export's, to float rounding).

    Both were added after models were trained: at their defaults (pil, 1) no fingerprint sees them.
    """

    height: int = bounded(256, ge=16)
    width: int = bounded(128, ge=16)
    batch_size: int = bounded(64, ge=1)
    workers: int = bounded(2, ge=0, operational=True)
    threads: int = bounded(0, ge=0, operational=True)
    flip: bool = True
    normalize: bool = True
    amp: Literal["none", "bf16", "fp16"] = "bf16"
    compile: bool = False
    splits: tuple[Literal[SPLITS], ...] = EVAL_SPLITS
    differs_from_validation: str = field(default="", metadata={OPERATIONAL: True})
    resize: Literal["pil", "tracker"] = field(default="pil", metadata={NEUTRAL_DEFAULT: True})
    supersample: int = bounded(1, ge=1, le=MAX_SUPERSAMPLE, neutral_default=True)

    @property
    def check_split(self) -> str:
        """The split whose crops check an export against torch: valid when extracted, else the first."""
        return "valid" if "valid" in self.splits else self.splits[0]


@dataclass(frozen=True)
class ModelConfig:
    """One model of the ensemble.

    ``arch`` picks a registry entry; ``variant`` its size (osnet_ain: x1_0, x0_75, x0_5, x0_25;
    dinov2_lora: small, base; resnet50_ibn: a; clip_vit, clip_vit_lora: b16, l14). ``pretrained``
    is none, imagenet (for CLIP: OpenAI's CLIP weights) or a local path; a load that leaves a
    backbone tensor at its random init is an error unless an fnmatch pattern of
    ``allow_random_init`` names it. ``last_stride`` is ResNet50-IBN's layer-4 stride (1 in BoT:
    a 16x8 map at 256x128; 2 is torchreid's default).
    """

    arch: Literal["osnet_ain", "resnet50_ibn", "dinov2_lora", "clip_vit", "clip_vit_lora"]
    variant: str = ""
    pretrained: str = "none"
    allow_random_init: tuple[str, ...] = ()
    last_stride: int = bounded(2, ge=1, le=2)
    neck: Literal["bnneck", "none"] = "bnneck"
    mean: tuple[float, float, float] = bounded(IMAGENET_MEAN, ge=0.0, le=1.0)  # of pixel values scaled to [0, 1]
    std: tuple[float, float, float] = bounded(IMAGENET_STD, gt=0.0, le=1.0)
    lora: LoraConfig = field(default_factory=LoraConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def lora_config(self) -> LoraConfig | None:
        """``lora`` for the LoRA families (dinov2_lora, clip_vit_lora), None for the others."""
        return self.lora if self.arch.endswith("_lora") else None

    def __post_init__(self) -> None:
        if self.last_stride != 2 and self.arch != "resnet50_ibn":
            raise ConfigError(
                f"last_stride: only resnet50_ibn has a last stride to set, {self.arch} keeps 2 (got {self.last_stride})"
            )
        if self.train.layer_decay < 1.0 and self.arch != "clip_vit":
            raise ConfigError(
                f"train.layer_decay: only clip_vit (full fine-tuning of a ViT) has layers to decay, not {self.arch}"
            )


@dataclass(frozen=True)
class SoupConfig:
    """A uniform model soup (``soup@<name>``): the average of the weights of ``members``, keys of
    ``models`` that are one recipe trained with several ``train.seed`` values (sportsreid's
    ViT-L/16 is 5 seeds averaged). The soup is extracted, scored and fused like a model."""

    members: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.members) < 2 or len(set(self.members)) != len(self.members):
            raise ConfigError(f"members: expected two or more distinct model names, got {list(self.members)}")


def check_soup(name: str, soup: SoupConfig, models: dict[str, ModelConfig]) -> None:
    """Raise a :class:`ConfigError` (``soups.<name>...``) unless the members are one recipe but for ``train.seed``.

    Members that start from random weights must share their init (``train.init_seed``): the
    average of networks from different inits is not a trained network.
    """
    missing = [m for m in soup.members if m not in models]
    if missing:
        raise ConfigError(f"soups.{name}.members: '{missing[0]}' is not a key of models (have {list(models)})")
    first, *others = (models[m] for m in soup.members)
    recipe = _without_seed(first)
    for member, cfg in zip(soup.members[1:], others):
        if _without_seed(cfg) != recipe:
            raise ConfigError(
                f"soups.{name}.members: {member} differs from {soup.members[0]} in more than train.seed and "
                "train.init_seed; a soup averages one recipe"
            )
    inits = {models[m].train.resolved_init_seed for m in soup.members}
    if first.pretrained == "none" and len(inits) > 1:
        raise ConfigError(
            f"soups.{name}.members: they start from different random inits (pretrained: none, init seeds "
            f"{sorted(inits)}); "
            "set the same train.init_seed on every member"
        )


def _without_seed(cfg: ModelConfig) -> ModelConfig:
    return replace(
        cfg, train=replace(cfg.train, seed=0, init_seed=None, workers=0, threads=0)
    )  # operational fields aside
