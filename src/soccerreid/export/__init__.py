"""Exports of a model file for trackers: ONNX, TorchScript and a model card, each file checked first.

See :mod:`._formats` for the plain graph's contract (``soccerreid export``), :mod:`._boxmot` for the tracker-ready graph
BoxMOT loads, and :mod:`._tracker` for features computed as a tracker computes them.

Examples::

    model = load_model("artifacts/models/osnet_ain/model.pt").configure(height=256, width=128)
    with atomic_dir("artifacts/export/osnet_ain") as out:
        export_model(model, out, crops, name="osnet_ain", crops_source="32 crops of data/index/valid.csv")
    export_file(model, "onnx", "osnet_ain.onnx", crops, name="osnet_ain")      # one file, checked
"""

from soccerreid.export._boxmot import (
    TrackerGraph,
    boxmot_sidecar,
    export_tracker_file,
    sidecar_path,
    write_sidecar,
)
from soccerreid.export._bundle import (
    CHECK_CROPS,
    TRACKER,
    export_fingerprint,
    export_model,
    pick_check_crops,
    write_export,
)
from soccerreid.export._card import model_card
from soccerreid.export._formats import (
    FORMATS,
    INPUT_NAME,
    OUTPUT_NAME,
    SUFFIXES,
    TOLERANCE,
    check_export,
    export_file,
    load_runner,
    metadata,
    postprocess,
    run_features,
)
from soccerreid.export._tracker import (
    deployed_features,
    deployed_scores,
    mean_pair_cosine,
    read_bgr,
    tracker_batch,
    tracker_features,
)

__all__ = [
    "CHECK_CROPS",
    "TRACKER",
    "TrackerGraph",
    "boxmot_sidecar",
    "deployed_features",
    "deployed_scores",
    "export_tracker_file",
    "mean_pair_cosine",
    "read_bgr",
    "sidecar_path",
    "tracker_batch",
    "tracker_features",
    "write_sidecar",
    "FORMATS",
    "INPUT_NAME",
    "OUTPUT_NAME",
    "SUFFIXES",
    "TOLERANCE",
    "check_export",
    "export_file",
    "export_fingerprint",
    "export_model",
    "write_export",
    "load_runner",
    "metadata",
    "model_card",
    "pick_check_crops",
    "postprocess",
    "run_features",
]
