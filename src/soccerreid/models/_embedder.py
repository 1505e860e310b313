"""Building models by name, and the embedder file the train stage hands to the extract stage.

Embedder file (``artifacts/models/<name>/model.pt``), read with ``torch.load(weights_only=True)``:
``{"format": "soccerreid-embedder/1", "arch": str, "variant": str, "embed_dim": int,
"neck": str, "state_dict": {name: Tensor}}``; the classifier is left out.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch
from torch import nn

from soccerreid.config.models import ModelConfig
from soccerreid.errors import WeightsError
from soccerreid.io import atomic_path
from soccerreid.models._registry import get_spec, resolve_variant
from soccerreid.models._reid import ReidModel
from soccerreid.models._weights import compare_state

EMBEDDER_FORMAT = "soccerreid-embedder/1"


def create_model(cfg: ModelConfig, num_classes: int) -> ReidModel:
    """Build ``cfg.arch`` (size ``cfg.variant``) with ``cfg.pretrained`` weights and a ``cfg.neck`` head.

    Returns a :class:`ReidModel` in train mode on CPU; ``num_classes`` 0 means no classifier.

    Examples::

        cfg = ModelConfig(arch="osnet_ain", variant="x0_25")
        model = create_model(cfg, num_classes=100)
        model.embed_dim                     # 512
    """
    spec = get_spec(cfg.arch)
    variant = resolve_variant(cfg)
    backbone = spec.build(dataclasses.replace(cfg, variant=variant))
    return ReidModel(backbone.module, backbone.dim, num_classes, cfg.neck, cfg.arch, variant)


def save_embedder(model: nn.Module, path: str | os.PathLike) -> None:
    """Write ``model``'s weights without its classifier, atomically, for :func:`load_embedder`.

    Examples::

        save_embedder(model, "artifacts/models/osnet_ain/model.pt")
    """
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    state = {k: v.detach().cpu() for k, v in model.state_dict().items() if not k.startswith("classifier.")}
    neck = "none" if isinstance(model.neck, nn.Identity) else "bnneck"
    payload = {"format": EMBEDDER_FORMAT, "arch": model.arch, "variant": model.variant,
               "embed_dim": model.embed_dim, "neck": neck, "state_dict": state}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(payload, f)  # a file object: the zip's inner folder is "archive", not the random temp name


def load_embedder(cfg: ModelConfig, path: str | os.PathLike) -> ReidModel:
    """Rebuild the model ``cfg`` describes, load the embedder file ``path`` exactly, return it in eval mode.

    Any mismatch (other arch, variant, neck or LoRA rank) is a one-line :class:`WeightsError`
    naming ``path``. ``cfg.pretrained`` is ignored: the file holds every weight.

    Examples::

        model = load_embedder(params.models["osnet_ain"], "artifacts/models/osnet_ain/model.pt")
        emb = model(images)                 # (B, D) float32
    """
    payload = _read_payload(Path(path))
    variant = resolve_variant(cfg)
    saved = (payload["arch"], payload["variant"], payload["neck"])
    if saved != (cfg.arch, variant, cfg.neck):
        raise WeightsError(f"{path}: holds {'/'.join(saved)} but params ask for {cfg.arch}/{variant}/{cfg.neck}")
    model = create_model(dataclasses.replace(cfg, pretrained="none"), num_classes=0)
    _load_exact(model, payload["state_dict"], str(path))
    return model.eval()


def _read_payload(path: Path) -> dict:
    if not path.is_file():
        raise WeightsError(f"{path}: embedder file not found (written by the train stage with save_embedder)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling and I/O errors of a damaged file
        raise WeightsError(f"{path}: cannot read embedder ({type(err).__name__}: {str(err).strip()[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != EMBEDDER_FORMAT:
        raise WeightsError(f"{path}: not a soccerreid embedder file (expected format {EMBEDDER_FORMAT!r})")
    return payload


def _load_exact(model: ReidModel, state: dict[str, torch.Tensor], source: str) -> None:
    report = compare_state(model.state_dict(), state, source)
    if not report.exact:
        raise WeightsError(f"{report.summary()}: does not match the model built from params")
    model.load_state_dict(state, strict=True)
