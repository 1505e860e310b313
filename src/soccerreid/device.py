"""Which torch device a stage, the command or the API runs on.

Examples::

    select_device("auto")      # device(type='cuda') when CUDA is available, else device(type='cpu')
    select_device("cuda:1")    # as given, if this machine has a second GPU
    select_device("bogus")     # ArgumentError: device 'bogus': expected auto, cpu, cuda or cuda:N
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from soccerreid.errors import ArgumentError

if TYPE_CHECKING:
    import torch

EXPECTED = "expected auto, cpu, cuda or cuda:N"
_NAME = re.compile(r"auto|cpu|cuda(:\d+)?")


def select_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; cpu, cuda and cuda:N are taken as given if this
    machine has them. Anything else, or a GPU this machine lacks, is a one-line :class:`ArgumentError`
    (a malformed name before torch is imported)."""
    if not isinstance(device, str) or not _NAME.fullmatch(device):
        raise ArgumentError(f"device {device!r}: {EXPECTED}")
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chosen = torch.device(device)
    if chosen.type == "cpu":
        return chosen
    if not torch.cuda.is_available():
        raise ArgumentError(f"device {device!r}: CUDA is not available on this machine (use cpu or auto)")
    if chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise ArgumentError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return chosen
