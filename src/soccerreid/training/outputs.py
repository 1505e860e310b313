"""The train stage's outputs: kept while their fingerprint holds, else written whole.

``<out>/model.pt`` (the self-describing model file), ``<out>/summary.json`` and ``<out>/fingerprint.json`` (the
stamp: the run's :func:`soccerreid.training.weights_fingerprint` plus the stage's own code). This
module is not part of the weights fingerprint: editing how outputs are written re-exports a
finished run from its checkpoint, it never retrains.

Examples::

    stamp = Fingerprint({**weights.parts, **code_parts(__file__)})
    if not keep_outputs("artifacts/models/osnet_ain", "dvclive/osnet_ain", "artifacts/checkpoints/osnet_ain", stamp):
        export_run(train_model(...), cfg, "artifacts/models/osnet_ain", "osnet_ain", stamp)
"""

from __future__ import annotations

from pathlib import Path

from soccerreid.config.models import ModelConfig
from soccerreid.fingerprint import Fingerprint, is_current, stamped_dirs
from soccerreid.io import remove_leftovers_in, write_json
from soccerreid.training.model_file import save_trained_model
from soccerreid.training.trainer import TrainResult


def keep_outputs(
    out_dir: str | Path, live_dir: str | Path | None, checkpoint_dir: str | Path, stamp: Fingerprint
) -> bool:
    """True when the train stage's outputs are those of ``stamp`` and stay as they are: ``out_dir``
    holds that stamp and the files it lists, and ``live_dir`` (if any) its metrics.

    Either way it first removes what killed atomic writes left beside ``out_dir`` and in
    ``checkpoint_dir``.
    """
    remove_leftovers_in(checkpoint_dir)
    live = live_dir is None or (Path(live_dir) / "metrics.json").is_file()
    return is_current(out_dir, stamp) and live


def export_run(result: TrainResult, cfg: ModelConfig, out_dir: str | Path, name: str, stamp: Fingerprint) -> None:
    """Write the train stage's outputs whole (:func:`~soccerreid.fingerprint.stamped_dirs`):
    ``out_dir/model.pt`` (the model file of ``result`` trained from ``cfg``), ``summary.json``
    (``{"model": name, **result.summary}``) and the ``stamp`` of what shaped them.

    The train stage keeps its outputs by :func:`keep_outputs` rather than by
    :func:`~soccerreid.fingerprint.cached_outputs` alone: it also needs the dvclive metrics, and
    under DDP every rank trains while only rank 0 writes."""
    with stamped_dirs(stamp, out_dir) as (tmp,):
        save_trained_model(result, cfg, tmp / "model.pt")
        write_json(tmp / "summary.json", {"model": name, **result.summary})
