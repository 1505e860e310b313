"""Feature extraction: crops -> embeddings -> the features HDF5 of :mod:`soccerreid.schema`."""

from soccerreid.features.extract import (
    CropDataset,
    check_images_exist,
    compile_embedder,
    embed_batch,
    eval_transform,
    extract_embeddings,
    extract_split,
    make_loader,
    select_device,
)
from soccerreid.features.fingerprint import extraction_fingerprint

__all__ = [
    "CropDataset",
    "check_images_exist",
    "compile_embedder",
    "embed_batch",
    "eval_transform",
    "extract_embeddings",
    "extract_split",
    "extraction_fingerprint",
    "make_loader",
    "select_device",
]
