"""Config of the ``report`` stage (params section ``report``)."""

from __future__ import annotations

from dataclasses import dataclass

from soccerreid.config._base import bounded


@dataclass(frozen=True)
class ReportConfig:
    """Table 1, figures 2 to 5, training curves and the static explorer (``explorer_queries``
    queries of ``score.split``, a sample seeded by ``seed``, each with its top ``top_k`` under every method)."""

    qualitative_queries: int = bounded(6, ge=1)
    top_k: int = bounded(10, ge=1)
    explorer_queries: int = bounded(200, ge=1)
    seed: int = bounded(0, ge=0)
