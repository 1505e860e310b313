"""Feature extraction: crops -> embeddings -> the features HDF5 of :mod:`soccerreid.schema`.

:func:`load_model` and :class:`Embedder` run a model file; :func:`extract_embeddings` is the
network-level path under them (:func:`embed_tracker_view` for crops seen as a tracker feeds an
export); :func:`write_extraction` writes the extract stage's output folder, kept while its
:func:`extraction_fingerprint` holds.
"""

from soccerreid.features.embedder import Embedder, check_same_model, extract_split, load_model, read_split_crops
from soccerreid.features.extract import (
    EvalCrops,
    check_images,
    compile_embedder,
    embed_batch,
    eval_transform,
    extract_embeddings,
    make_loader,
    to_pil,
)
from soccerreid.features.outputs import extraction_fingerprint, write_extraction
from soccerreid.features.tracker_view import Downsized, downsize, embed_tracker_view, tracker_resize

__all__ = [
    "Downsized",
    "EvalCrops",
    "Embedder",
    "check_images",
    "check_same_model",
    "compile_embedder",
    "downsize",
    "embed_batch",
    "embed_tracker_view",
    "eval_transform",
    "extract_embeddings",
    "extract_split",
    "read_split_crops",
    "extraction_fingerprint",
    "load_model",
    "make_loader",
    "to_pil",
    "tracker_resize",
    "write_extraction",
]
