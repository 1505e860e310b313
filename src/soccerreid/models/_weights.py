"""Pretrained weights: local files (``weights_only``) and the libraries' own downloads, failing fast offline.

``pretrained`` is ``none``, ``imagenet`` (the library's default checkpoint: torchreid's ImageNet
weights, timm's DINOv2 LVD-142M weights) or a path to a local ``.pth``/``.pt``/``.safetensors``.
A local file loads every tensor whose name and shape match; the rest is summarised on one line.

Examples::

    state = read_state_dict("weights/osnet_ain_x1_0_imagenet.pth")     # {name: Tensor}
    report = load_matching(net, state, source="weights/osnet_ain_x1_0_imagenet.pth")
    report.summary()   # 'weights/...: loaded 290 tensors; 2 unexpected (classifier.weight, ...)'
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from soccerreid.errors import WeightsError

T = TypeVar("T")
log = logging.getLogger("soccerreid.models")

NETWORK_TIMEOUT_S = 4.0
SHOWN_NAMES = 3


@dataclass(frozen=True)
class LoadReport:
    """What a partial load did: counts of loaded tensors and the names that did not load."""

    source: str
    loaded: int
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[str, ...]

    @property
    def exact(self) -> bool:
        """True when every tensor of the model and of the file was used."""
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        """One line: loaded count, then missing / unexpected / shape-mismatched counts with first names."""
        parts = [f"{self.source}: loaded {self.loaded} tensors"]
        for label, names in (("missing", self.missing), ("unexpected", self.unexpected), ("shape-mismatched", self.mismatched)):
            if names:
                parts.append(f"{len(names)} {label} ({_first_names(names)})")
        return "; ".join(parts)


def _first_names(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (", ..." if len(names) > SHOWN_NAMES else "")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read tensors from a local checkpoint safely (``weights_only=True`` or safetensors).

    Unwraps ``{"state_dict": ...}`` / ``{"model": ...}`` containers and a DataParallel ``module.``
    prefix. A missing or unreadable file is a one-line :class:`WeightsError` naming it.
    """
    file = Path(path)
    if not file.is_file():
        raise WeightsError(f"{file}: weights file not found (pretrained expects none, imagenet or a local file)")
    try:
        state = _load_file(file)
    except Exception as err:  # torch/safetensors raise many types for a bad file
        raise WeightsError(f"{file}: cannot read weights ({type(err).__name__}: {_first_line(err)})") from None
    return _unwrap(state, file)


def _load_file(file: Path) -> object:
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(file), device="cpu")
    return torch.load(file, map_location="cpu", weights_only=True)


def _unwrap(state: object, file: Path) -> dict[str, torch.Tensor]:
    for container in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(container), dict):
            state = state[container]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{file}: expected a mapping of tensor names to tensors (a state_dict)")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else "no message"


def compare_state(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor], source: str) -> LoadReport:
    """Compare a model's ``own`` state_dict with a file's ``state`` by name and shape."""
    return LoadReport(
        source=source,
        loaded=sum(k in own and own[k].shape == v.shape for k, v in state.items()),
        missing=tuple(k for k in own if k not in state),
        unexpected=tuple(k for k in state if k not in own),
        mismatched=tuple(k for k in state if k in own and own[k].shape != state[k].shape),
    )


def load_matching(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> LoadReport:
    """Copy every tensor of ``state`` whose name and shape match into ``module``; report the rest.

    Raises :class:`WeightsError` when nothing matches (wrong architecture); otherwise logs the
    one-line summary (a warning when anything did not load).
    """
    own = module.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    report = compare_state(own, state, source)
    if not usable:
        raise WeightsError(f"{report.summary()}: no tensor matches this model, is it the right architecture?")
    module.load_state_dict(usable, strict=False)
    log.log(logging.INFO if report.exact else logging.WARNING, report.summary())
    return report


def fetch_pretrained(download: Callable[[], T], what: str, host: str) -> T:
    """Run a library's own download-and-load ``download()`` and return its result, failing fast offline.

    Sockets get a short default timeout during the call (no minute-long hang), and any failure
    becomes one :class:`WeightsError` line that says how to supply a local file instead.
    """
    try:
        with _socket_timeout(NETWORK_TIMEOUT_S):
            return download()
    except Exception as err:  # network, gdown, hub and unpickling errors alike
        raise WeightsError(_offline_message(what, host, err)) from None


def require_hub(what: str, host: str = "huggingface.co") -> None:
    """Fail fast if the Hugging Face Hub cannot be reached (unless ``HF_HUB_OFFLINE`` asks for the cache).

    huggingface_hub retries a refused connection for about a minute; a 4 s direct probe avoids
    that. It is skipped behind an HTTPS proxy, which a direct socket could not go through.
    """
    if _truthy(os.environ.get("HF_HUB_OFFLINE")) or os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return
    try:
        socket.create_connection((host, 443), timeout=NETWORK_TIMEOUT_S).close()
    except OSError as err:
        raise WeightsError(_offline_message(what, host, err) + " (or set HF_HUB_OFFLINE=1 to use the local HF cache)") from None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _offline_message(what: str, host: str, err: BaseException) -> str:
    return (
        f"pretrained: imagenet weights of {what} could not be fetched from {host} "
        f"({type(err).__name__}: {_first_line(err)}); offline, download them elsewhere and set "
        f"pretrained: /path/to/weights.pth (a local file, loaded with weights_only=True)"
    )


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)
