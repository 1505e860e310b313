"""Per-epoch metrics to dvclive (``<live_dir>/metrics.json`` and ``<live_dir>/plots/metrics/*.tsv``).

One dvclive step per epoch, metrics ``loss``, ``ce``, ``triplet``, ``centroid``, ``contrastive``, ``center``, ``lr``,
``img_per_s``, ``val_mAP``, ``val_rank1``, ``phase``. dvclive neither edits dvc.yaml nor makes
experiments here: dvc.yaml declares the live folder's metrics and plots. A resumed run replays
the saved history first, so the live folder is complete even after DVC has cleared it.

Examples::

    logger = EpochLogger("dvclive/osnet_ain")
    logger.log_epoch({"loss": 1.2, "val_mAP": 0.4, "epoch": 0, "phase": 0})
    logger.close()
"""

from __future__ import annotations

from pathlib import Path

LOGGED = (
    "loss",
    "ce",
    "triplet",
    "centroid",
    "contrastive",
    "center",
    "lr",
    "img_per_s",
    "val_mAP",
    "val_rank1",
    "phase",
)


class EpochLogger:
    """dvclive writer, a no-op when ``live_dir`` is None or ``enabled`` is False (ranks > 0)."""

    def __init__(self, live_dir: str | Path | None, enabled: bool = True) -> None:
        self.live = None
        if live_dir is not None and enabled:
            from dvclive import Live

            self.live = Live(str(live_dir), save_dvc_exp=False, dvcyaml=None, report=None)

    def log_epoch(self, stats: dict) -> None:
        """Log one epoch's ``stats`` (keys of :data:`LOGGED` that are present) as one step."""
        if self.live is None:
            return
        for key in LOGGED:
            if key in stats:
                self.live.log_metric(key, stats[key])
        self.live.next_step()

    def replay(self, history: list[dict]) -> None:
        """Log the epochs of a resumed run's history again, in order."""
        for stats in history:
            self.log_epoch(stats)

    def close(self) -> None:
        """Flush and close dvclive."""
        if self.live is not None:
            self.live.end()
