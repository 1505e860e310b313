"""Which torch device a stage, the command or the API runs on.

Examples::

    select_device("auto")      # device(type='cuda') when CUDA is available, else device(type='cpu')
    select_device("cuda:1")    # as given
"""

from __future__ import annotations

import torch


def select_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; any other name (cpu, cuda, cuda:N) is taken as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
