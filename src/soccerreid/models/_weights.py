"""Pretrained weights: local files (``weights_only``) and each source's own download, failing fast offline.

``pretrained`` is ``none``, ``imagenet`` or a path to a local ``.pth``/``.pt``/``.safetensors``.
``imagenet`` fetches the checkpoint the anchors start from, through that source's own client and
cache (a file already in the cache is used with no network):

- OSNet-AIN: torchreid's ImageNet file, ``$TORCH_HOME/checkpoints/<name>_imagenet.pth``
  (downloaded with gdown from torchreid's URL, as torchreid does);
- ResNet50-IBN: IBN-Net's own ImageNet ``resnet50_ibn_a`` release, through torch.hub's URL
  loader, ``$TORCH_HOME/hub/checkpoints/resnet50_ibn_a-d9d0bb7b.pth``;
- DINOv2: timm's LVD-142M hub weights, through timm's Hugging Face loader (HF cache,
  ``HF_HUB_OFFLINE=1`` honoured).

Every load prints one line (:meth:`LoadReport.summary`) on stderr. A load that would leave any
tensor of the backbone at its random init is a :class:`WeightsError` naming the first of them,
unless ``allow_random_init`` patterns (fnmatch) cover every one. BatchNorm step counters
(``num_batches_tracked``) are not weights and never count.

Examples::

    state = read_state_dict("weights/osnet_ain_x1_0_imagenet.pth")     # {name: Tensor}
    report = load_pretrained(net, state, source="weights/osnet_ain_x1_0_imagenet.pth")
    report.summary()   # 'weights/...: loaded 290 tensors; 2 unexpected (classifier.weight, ...)'
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from soccerreid.errors import WeightsError

T = TypeVar("T")

NETWORK_TIMEOUT_S = 4.0
SHOWN_NAMES = 3
COUNTER_SUFFIX = "num_batches_tracked"


@dataclass(frozen=True)
class LoadReport:
    """What a partial load did: counts of loaded tensors and the names that did not load."""

    source: str
    loaded: int
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[str, ...]

    @property
    def left_at_init(self) -> tuple[str, ...]:
        """Model tensors the file did not set (missing or of another shape), BatchNorm counters excepted."""
        untouched = self.missing + self.mismatched
        return tuple(name for name in untouched if not name.endswith(COUNTER_SUFFIX))

    @property
    def exact(self) -> bool:
        """True when every tensor of the model and of the file was used."""
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        """One line: loaded count, then missing / unexpected / shape-mismatched counts with first names."""
        parts = [f"{self.source}: loaded {self.loaded} tensors"]
        for label, names in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("shape-mismatched", self.mismatched),
        ):
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
    return _unwrap(state, str(file))


def _load_file(file: Path) -> object:
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(file), device="cpu")
    return torch.load(file, map_location="cpu", weights_only=True)


def _unwrap(state: object, source: str) -> dict[str, torch.Tensor]:
    for container in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(container), dict):
            state = state[container]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{source}: expected a mapping of tensor names to tensors (a state_dict)")
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


def load_pretrained(
    module: nn.Module, state: dict[str, torch.Tensor], source: str, allow_random_init: tuple[str, ...] = ()
) -> LoadReport:
    """Copy every tensor of ``state`` whose name and shape match into ``module``, print the one-line report.

    Raises :class:`WeightsError`, before touching ``module``, when nothing matches (wrong
    architecture) or when a tensor of ``module`` would keep its random init and no
    ``allow_random_init`` fnmatch pattern covers it.

    Examples::

        load_pretrained(vit, state, "dinov2.pth", allow_random_init=("pos_embed",))
    """
    own = module.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    report = compare_state(own, state, source)
    if not usable:
        raise WeightsError(f"{report.summary()}: no tensor matches this model, is it the right architecture?")
    untouched = tuple(n for n in report.left_at_init if not any(fnmatch.fnmatchcase(n, p) for p in allow_random_init))
    if untouched:
        raise WeightsError(
            f"{report.summary()}: {len(untouched)} backbone tensors would keep their random init "
            f"({_first_names(untouched)}); set allow_random_init: [<name patterns>] to accept that"
        )
    module.load_state_dict(usable, strict=False)
    print(report.summary(), file=sys.stderr, flush=True)
    return report


def fetch_torchreid_imagenet(key: str, url: str) -> tuple[dict[str, torch.Tensor], str]:
    """torchreid's ImageNet weights of ``key`` and their file: ``$TORCH_HOME/checkpoints/<key>_imagenet.pth``,
    downloaded from ``url`` with gdown first when absent, exactly where torchreid would put it."""
    path = torch_home() / "checkpoints" / f"{key}_imagenet.pth"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fetch_pretrained(lambda: _gdown(url, path), key, "drive.google.com")
    return read_state_dict(path), str(path)


def _gdown(url: str, path: Path) -> None:
    import gdown

    gdown.download(url, str(path), quiet=False)
    if not path.is_file():
        raise FileNotFoundError(f"gdown wrote no file to {path}")


def torch_home() -> Path:
    """``$TORCH_HOME``, else ``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch`` (torch's and torchreid's rule)."""
    default = os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(os.environ.get("TORCH_HOME", default)))


def fetch_url_state(url: str, what: str) -> tuple[dict[str, torch.Tensor], str]:
    """A state_dict through torch.hub's URL loader (cache ``$TORCH_HOME/hub/checkpoints/<file name>``,
    hash prefix checked on download, ``weights_only``) and the cached file's path."""
    state = fetch_pretrained(
        lambda: torch.hub.load_state_dict_from_url(url, map_location="cpu", check_hash=True, weights_only=True),
        what,
        url.split("/")[2],
    )
    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
    return _unwrap(state, str(path)), str(path)


def fetch_timm_hub(hub_id: str, what: str) -> tuple[dict[str, torch.Tensor], str]:
    """A timm model's pretrained state_dict through timm's own Hugging Face loader (HF cache first)."""
    from timm.models import load_state_dict_from_hf

    require_hub(what)
    state = fetch_pretrained(lambda: load_state_dict_from_hf(hub_id, weights_only=True), what, "huggingface.co")
    return _unwrap(state, f"hf-hub:{hub_id}"), f"hf-hub:{hub_id}"


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
        raise WeightsError(
            _offline_message(what, host, err) + " (or set HF_HUB_OFFLINE=1 to use the local HF cache)"
        ) from None


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
