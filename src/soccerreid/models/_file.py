"""The self-describing model file: everything needed to rebuild and run a trained model.

``artifacts/models/<name>/model.pt`` is a plain ``torch.save`` of a mapping that
``torch.load(path, weights_only=True)`` reads (strings, numbers, lists, dicts and tensors only):

=======================  ==================================================================
key                      value
=======================  ==================================================================
``format``               ``"soccerreid-model"``
``format_version``       ``2`` (version 1 was ``soccerreid-embedder/1``, which needed params.yaml)
``soccerreid_version``   the package version that wrote the file
``model``                ``arch``, ``variant``, ``neck``, ``last_stride`` (ResNet50-IBN's layer 4),
                         ``lora`` (``r``, ``alpha``, ``dropout``, ``targets``; ``None`` but for
                         dinov2_lora and clip_vit_lora), ``embed_dim``
``input``                ``height``, ``width``, ``mean``, ``std``: RGB crops resized to height x
                         width (bilinear, antialiased), scaled to [0, 1], normalised
``output``               ``flip`` (average with the mirrored crop), ``normalize`` (L2), ``dim``
``training``             ``val_mAP``, ``best_epoch`` and the per-phase summary, or ``{}``
``weights_sha256``       SHA-256 of ``state_dict`` (names, dtypes, shapes, bytes); checked on load
``state_dict``           every tensor of the network but the classifier
=======================  ==================================================================

The input size is the one the model was trained and validated at last, ``flip`` the validation's
(``train.val_flip``, the extraction recipe); ``extract.<name>`` may override all four at extraction.

Examples::

    save_model(model, "artifacts/models/osnet_ain/model.pt", cfg, input_size=(256, 128),
               training={"val_mAP": 0.56, "best_epoch": 29})
    network, info = load_network("artifacts/models/osnet_ain/model.pt")   # needs nothing else
    info.arch, info.height, info.flip, info.training["val_mAP"]
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from soccerreid._version import __version__
from soccerreid.config._base import from_mapping
from soccerreid.config.models import LoraConfig, ModelConfig
from soccerreid.errors import ConfigError, WeightsError
from soccerreid.io import atomic_path
from soccerreid.models._factory import create_model
from soccerreid.models._registry import check_model_config, resolve_variant, validate_input_size
from soccerreid.models._reid import ReidModel
from soccerreid.models._weights import compare_state

MODEL_FORMAT = "soccerreid-model"
FORMAT_VERSION = 2
_PRIMITIVES = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about its network and how to run it.

    ``mean``/``std`` are RGB channel statistics in [0, 1] units; ``weights_id`` is the first 12
    hex digits of the weights' SHA-256, which names the model in features files.
    """

    arch: str
    variant: str
    neck: str
    last_stride: int
    lora: LoraConfig | None
    embed_dim: int
    height: int
    width: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    flip: bool = True
    normalize: bool = True
    soccerreid_version: str = ""
    training: dict = field(default_factory=dict)
    weights_sha256: str = ""

    @property
    def weights_id(self) -> str:
        """``<arch>/<variant>@<first 12 hex digits of the weights' SHA-256>``."""
        return f"{self.arch}/{self.variant}@{self.weights_sha256[:12]}"

    def model_config(self) -> ModelConfig:
        """The :class:`ModelConfig` that rebuilds this network (no pretrained weights)."""
        return ModelConfig(
            arch=self.arch,
            variant=self.variant,
            neck=self.neck,
            last_stride=self.last_stride,
            mean=self.mean,
            std=self.std,
            lora=self.lora or LoraConfig(),
        )


def save_model(
    model: nn.Module,
    path: str | os.PathLike,
    cfg: ModelConfig,
    *,
    input_size: tuple[int, int],
    training: Mapping | None = None,
    flip: bool = True,
    normalize: bool = True,
) -> ModelInfo:
    """Write ``model`` (a :class:`ReidModel`, DDP unwrapped) as a self-describing model file, atomically.

    ``cfg`` is the config the model was built from (for LoRA, mean and std); ``input_size`` is
    (height, width); ``training`` holds plain values only (str, numbers, lists, dicts).
    Returns the :class:`ModelInfo` written.

    Examples::

        save_model(model, "model.pt", cfg, input_size=(256, 128), training={"val_mAP": 0.56, "best_epoch": 29})
    """
    model = getattr(model, "module", model)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not k.startswith("classifier.")}
    info = ModelInfo(
        arch=model.arch,
        variant=model.variant,
        neck="none" if isinstance(model.neck, nn.Identity) else "bnneck",
        last_stride=cfg.last_stride,
        lora=cfg.lora_config,
        embed_dim=model.embed_dim,
        height=int(input_size[0]),
        width=int(input_size[1]),
        mean=tuple(cfg.mean),
        std=tuple(cfg.std),
        flip=bool(flip),
        normalize=bool(normalize),
        soccerreid_version=__version__,
        training=_plain(dict(training or {}), "training"),
        weights_sha256=weights_sha256(state),
    )
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save({**_payload(info), "state_dict": state}, f)  # a file object: same weights, same bytes
    return info


def _payload(info: ModelInfo) -> dict:
    lora = None if info.lora is None else {**dataclasses.asdict(info.lora), "targets": list(info.lora.targets)}
    return {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "soccerreid_version": info.soccerreid_version,
        "model": {
            "arch": info.arch,
            "variant": info.variant,
            "neck": info.neck,
            "last_stride": info.last_stride,
            "lora": lora,
            "embed_dim": info.embed_dim,
        },
        "input": {"height": info.height, "width": info.width, "mean": list(info.mean), "std": list(info.std)},
        "output": {"flip": info.flip, "normalize": info.normalize, "dim": info.embed_dim},
        "training": info.training,
        "weights_sha256": info.weights_sha256,
    }


def _plain(value: object, key: str) -> object:
    """``value`` if it is made of str/number/bool/None, lists and str-keyed dicts only."""
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, _PRIMITIVES):
        return value
    raise ValueError(f"{key}: expected plain values (str, numbers, lists, dicts), got {type(value).__name__}")


def weights_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """Hex SHA-256 of a state_dict: every tensor's name, dtype, shape and bytes, by name."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def read_model_file(path: str | os.PathLike) -> tuple[ModelInfo, dict[str, torch.Tensor]]:
    """``(info, state_dict)`` of a model file, with ``weights_only=True``.

    A missing, unreadable, damaged or foreign file, or one of a newer format version, is a
    one-line :class:`WeightsError` naming ``path``.

    Examples::

        info, state = read_model_file("artifacts/models/osnet_ain/model.pt")
    """
    path = Path(path)
    payload = _load_payload(path)
    info = _parse_info(payload, path)
    _check_buildable(info, path)
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: model file has no state_dict of tensors (damaged file?)")
    if weights_sha256(state) != info.weights_sha256:
        raise WeightsError(f"{path}: weights do not match their recorded SHA-256 (damaged file)")
    return info, state


def _load_payload(path: Path) -> dict:
    if not path.is_file():
        raise WeightsError(f"{path}: model file not found (the train stage writes artifacts/models/<name>/model.pt)")
    try:
        with warnings.catch_warnings():  # torch's UserWarnings would come before the one error line
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling, zip and I/O errors of a damaged file
        raise WeightsError(
            f"{path}: cannot read model file, damaged or not a torch file ({type(err).__name__}: {_reason(err)})"
        ) from None
    if isinstance(payload, dict) and payload.get("format") == "soccerreid-embedder/1":
        raise WeightsError(
            f"{path}: model file of format version 1 (soccerreid-embedder/1) lacks its input "
            f"contract and LoRA config; re-run the train stage to write version {FORMAT_VERSION}"
        )
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise WeightsError(f"{path}: not a soccerreid model file (expected format {MODEL_FORMAT!r})")
    version = payload.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise WeightsError(f"{path}: model file key 'format_version' is not an integer: {version!r}")
    if version > FORMAT_VERSION:
        raise WeightsError(
            f"{path}: model file format version {version} is newer than this soccerreid reads "
            f"({FORMAT_VERSION}); upgrade soccerreid"
        )
    if version < FORMAT_VERSION:
        raise WeightsError(f"{path}: model file format version {version} was never written by soccerreid (expected 2)")
    return payload


def _reason(err: Exception) -> str:
    """The sentence of a load error that says what is wrong (for a refused pickle: what it tried to load)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    line = next((line for line in lines if "GLOBAL" in line), lines[0] if lines else "no message")
    sentence = line.removeprefix("WeightsUnpickler error: ").split(". ")[0]
    return sentence if sentence.endswith(".") else f"{sentence}."


def _section(payload: dict, name: str, path: Path) -> dict:
    section = payload.get(name)
    if not isinstance(section, dict):
        raise WeightsError(
            f"{path}: model file key '{name}' is missing or not a mapping (got {type(section).__name__})"
        )
    return section


def _field(payload: dict, name: str, kind: type, path: Path):
    """``payload[section][key]`` for ``name`` = ``section.key``, checked to be of ``kind`` (bool is not int)."""
    section, key = name.split(".")
    value = _section(payload, section, path).get(key)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise WeightsError(f"{path}: model file key '{name}' is missing or not {kind.__name__} (got {value!r})")
    if kind is int and value < 1:
        raise WeightsError(f"{path}: model file key '{name}' must be >= 1, got {value}")
    if kind is str and not value:
        raise WeightsError(f"{path}: model file key '{name}' is empty")
    return value


def _channels(payload: dict, name: str, path: Path) -> tuple[float, float, float]:
    """An RGB statistic of pixels scaled to [0, 1]: three finite numbers in [0, 1], above 0 for ``input.std``."""
    value = _section(payload, "input", path).get(name.split(".")[1])
    low = "(0" if name == "input.std" else "[0"
    if not (isinstance(value, list) and len(value) == 3 and all(_in_unit(v, open_low=low == "(0") for v in value)):
        raise WeightsError(f"{path}: model file key '{name}' must be 3 numbers in {low}, 1], got {value!r}")
    return tuple(float(v) for v in value)


def _in_unit(value: object, open_low: bool) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return False
    return (value > 0 if open_low else value >= 0) and value <= 1


def _parse_lora(payload: dict, path: Path) -> LoraConfig | None:
    lora = _section(payload, "model", path).get("lora")
    if lora is None:
        return None
    try:
        return from_mapping(LoraConfig, lora, key="model.lora")
    except ConfigError as err:
        raise WeightsError(_keyed(path, err)) from None


def _parse_info(payload: dict, path: Path) -> ModelInfo:
    """The :class:`ModelInfo` of a payload; a missing, mistyped or out-of-range key is a one-line error."""
    last_stride = _field(payload, "model.last_stride", int, path)
    if last_stride not in (1, 2):
        raise WeightsError(f"{path}: model file key 'model.last_stride' must be 1 or 2, got {last_stride}")
    embed_dim = _field(payload, "model.embed_dim", int, path)
    if _field(payload, "output.dim", int, path) != embed_dim:
        raise WeightsError(f"{path}: model file keys 'output.dim' and 'model.embed_dim' differ")
    return ModelInfo(
        arch=_field(payload, "model.arch", str, path),
        variant=_field(payload, "model.variant", str, path),
        neck=_field(payload, "model.neck", str, path),
        last_stride=last_stride,
        lora=_parse_lora(payload, path),
        embed_dim=embed_dim,
        height=_field(payload, "input.height", int, path),
        width=_field(payload, "input.width", int, path),
        mean=_channels(payload, "input.mean", path),
        std=_channels(payload, "input.std", path),
        flip=_field(payload, "output.flip", bool, path),
        normalize=_field(payload, "output.normalize", bool, path),
        soccerreid_version=str(payload.get("soccerreid_version", "")),
        training=payload.get("training") if isinstance(payload.get("training"), dict) else {},
        weights_sha256=str(payload.get("weights_sha256", "")),
    )


def _keyed(path: Path, err: ConfigError) -> str:
    """A config check's ``<dotted key>: <message>`` as this file's ``model file key '<key>': <message>``."""
    key, _, message = str(err).partition(": ")
    return f"{path}: model file key '{key}': {message}"


def _check_buildable(info: ModelInfo, path: Path) -> None:
    """A one-line :class:`WeightsError` unless the registry knows the arch, variant and neck, and the arch takes the
    input size."""
    if (info.lora is None) != (not info.arch.endswith("_lora")):
        raise WeightsError(f"{path}: model file key 'model.lora' must be set for the LoRA families only ({info.arch})")
    if info.neck not in ("bnneck", "none"):
        raise WeightsError(f"{path}: model file key 'model.neck' must be 'bnneck' or 'none', got {info.neck!r}")
    try:
        check_model_config(info.model_config(), key="model")
        validate_input_size(info.model_config(), info.height, info.width, key="input")
    except ConfigError as err:
        raise WeightsError(_keyed(path, err)) from None


def load_network(path: str | os.PathLike) -> tuple[ReidModel, ModelInfo]:
    """Rebuild the network a model file describes and load its weights exactly: ``(model, info)``.

    The model is on CPU in eval mode. Nothing but the file is read (no params.yaml, no download).

    Examples::

        network, info = load_network("artifacts/models/osnet_ain/model.pt")
        network(torch.zeros(2, 3, info.height, info.width)).shape      # (2, info.embed_dim)
    """
    info, state = read_model_file(path)
    try:
        model = create_model(info.model_config(), num_classes=0)
    except Exception as err:  # an unknown arch or variant, a LoRA config this peft rejects
        raise WeightsError(f"{path}: model file describes a model this soccerreid cannot build ({err})") from None
    report = compare_state(model.state_dict(), state, str(path))
    if not report.exact:
        raise WeightsError(f"{report.summary()}: does not match the {info.arch}/{info.variant} network it describes")
    model.load_state_dict(state, strict=True)
    return model.eval(), info


def check_matches(info: ModelInfo, cfg: ModelConfig, path: str | os.PathLike, key: str) -> None:
    """Raise a one-line :class:`WeightsError` if the model file at ``path`` is not the model ``cfg`` (params ``key``)
    describes.

    Examples::

        check_matches(info, params.models["osnet_ain"], "artifacts/models/osnet_ain/model.pt", "models.osnet_ain")
    """
    lora = cfg.lora_config
    saved = (info.arch, info.variant, info.neck, info.last_stride, info.lora)
    wanted = (cfg.arch, resolve_variant(cfg), cfg.neck, cfg.last_stride, lora)
    if saved != wanted:
        names = ("arch", "variant", "neck", "last_stride", "lora")
        differ = next(n for n, a, b in zip(names, saved, wanted) if a != b)
        raise WeightsError(
            f"{path}: holds {info.arch}/{info.variant}/{info.neck} with {differ} "
            f"{getattr(info, differ)!r}, but {key} asks for {dict(zip(names, wanted))[differ]!r}"
        )
