"""A trained model outside the DAG: load its model file, embed crops, build feature sets.

:func:`load_model` needs only the model file. The returned :class:`Embedder` embeds images
exactly as the extract stage does (the stage itself goes through it): resize to the file's
input size, normalise with its mean/std, average with the mirrored crop if ``flip``, then
L2-normalise if ``normalize``.

Examples::

    import soccerreid
    model = soccerreid.load_model("artifacts/models/osnet_ain/model.pt")
    feats = model.embed(["a.png", "b.png"], batch_size=64)      # (2, 512) float32
    feats = model.embed([pil_image, uint8_array])               # PIL images and (H, W, 3) uint8 arrays too
    model.configure(flip=False).embed(crops)                    # other settings, same weights
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from soccerreid.config._base import from_mapping
from soccerreid.config.models import ExtractConfig
from soccerreid.cpu import thread_budget, use_cpu_threads
from soccerreid.data.index import read_index
from soccerreid.device import select_device
from soccerreid.errors import ConfigError, DataError
from soccerreid.features.extract import check_images, extract_embeddings
from soccerreid.features.tracker_view import embed_tracker_view
from soccerreid.models import ModelInfo, ReidModel, load_network, validate_input_size
from soccerreid.schema import FeatureSet


class Embedder:
    """A network rebuilt from its model file plus the settings to run it.

    ``network`` is the :class:`ReidModel` (eval mode); ``info`` the file's :class:`ModelInfo`;
    ``config`` an :class:`ExtractConfig` whose height, width, flip and normalize start as the
    file's, with in-process decoding (``workers`` 0) and the default batch size.
    """

    def __init__(self, network: ReidModel, info: ModelInfo, config: ExtractConfig, source: str = "model"):
        self.network, self.info, self.config, self.source = network, info, config, source

    @property
    def dim(self) -> int:
        """Feature dimension D."""
        return self.info.embed_dim

    def configure(self, **changes) -> Embedder:
        """A copy whose ``config`` has ``changes`` (any :class:`ExtractConfig` field), validated.

        A bad value (a batch size of 0, a DINOv2 input side that is not a multiple of 14) is a
        one-line :class:`ConfigError`.

        Examples::

            model.configure(height=256, width=128, flip=False, batch_size=32)
        """
        merged = {**dataclasses.asdict(self.config), **{k: v for k, v in changes.items() if v is not None}}
        try:
            config = from_mapping(
                ExtractConfig, {k: list(v) if isinstance(v, tuple) else v for k, v in merged.items()}, key=""
            )
        except ConfigError as err:
            raise ConfigError(f"{self.source}: {err}") from None
        validate_input_size(self.info.model_config(), config.height, config.width, key=f"{self.source}: height x width")
        return Embedder(self.network, self.info, config, self.source)

    def embed(self, images: Sequence, batch_size: int | None = None, device: str = "auto") -> np.ndarray:
        """Features of ``images`` (paths, PIL images, (H, W, 3) uint8 RGB arrays, or one (N, H, W, 3) array).

        Returns (N, D) float32, row i for image i. Bad input is a one-line :class:`DataError`
        before any work; ``device`` is auto (CUDA when available), cpu, cuda or cuda:N. With
        ``config.resize`` tracker, crops are embedded as a tracker feeds the export
        (:func:`~soccerreid.features.tracker_view.embed_tracker_view`).

        Examples::

            model.embed(["a.png", "b.png"], batch_size=64).shape     # (2, D)
            model.configure(resize="tracker", supersample=3).embed(crops)   # what BoxMOT computes from the export
        """
        check_images(images, source="images")
        config = self.configure(batch_size=batch_size).config if batch_size is not None else self.config
        embed = embed_tracker_view if config.resize == "tracker" else extract_embeddings
        return embed(self.network, images, config, self.info.mean, self.info.std, device)


def load_model(path: str | os.PathLike) -> Embedder:
    """The :class:`Embedder` of a model file; a missing, damaged or newer file is a one-line error.

    Examples::

        model = load_model("artifacts/models/osnet_ain/model.pt")
        model.info.arch, model.info.training.get("val_mAP"), model.dim
    """
    network, info = load_network(path)
    config = ExtractConfig(height=info.height, width=info.width, flip=info.flip, normalize=info.normalize, workers=0)
    return Embedder(network, info, config, source=str(path))


def extract_split(
    embedder: Embedder, frame: pd.DataFrame, model_name: str, split: str, device: str = "auto"
) -> FeatureSet:
    """Embed every crop of an index table (``read_index`` columns) into a :class:`FeatureSet`.

    ``person_uid`` is ``None`` when the split is unlabelled (every uid is -1, as in challenge).
    The rows are keyed by (role, bbox_idx): query and gallery bbox_idx overlap in SoccerNet.

    Examples::

        embedder = load_model(path).configure(**settings)
        fs = extract_split(embedder, read_index("data/index", "valid"), "osnet_ain", "valid")
        write_features("artifacts/features/osnet_ain/valid.h5", fs)
    """
    if frame.empty:
        raise DataError(f"{split}: the index has no crops to extract")
    if select_device(device).type == "cpu":  # the tracker view decodes between batches, in threads: no loader processes
        loaders = 0 if embedder.config.resize == "tracker" else embedder.config.workers
        use_cpu_threads(thread_budget(embedder.config.threads, loaders))
    features = embedder.embed(frame["path"].tolist(), device=device)
    uid = frame["person_uid"].to_numpy(np.int64)
    return FeatureSet(
        features=features,
        bbox_idx=frame["bbox_idx"].to_numpy(np.int64),
        action_idx=frame["action_idx"].to_numpy(np.int64),
        role=frame["role"].to_numpy(str),
        person_uid=None if (uid < 0).all() else uid,
        clazz=frame["clazz"].to_numpy(str),
        model=model_name,
        split=split,
        normalized=embedder.config.normalize,
        embedder=embedder.info.weights_id,
    )


def read_split_crops(index_dir: str | os.PathLike, splits: Sequence[str]) -> dict[str, pd.DataFrame]:
    """``{split: index table}`` of ``splits`` from ``index_dir``, every crop file checked to exist
    (a missing one is a one-line :class:`DataError` naming the index file), before any work.

    Examples::

        frames = read_split_crops("data/index", ("valid", "test"))       # {"valid": (N, columns), ...}
    """
    frames = {split: read_index(index_dir, split) for split in splits}
    for split, frame in frames.items():
        check_images(frame["path"], source=f"{index_dir}/{split}.csv", hint=" (re-run the prepare stage?)")
    return frames


def check_same_model(fs: FeatureSet, embedder: Embedder, source: str) -> None:
    """Raise a one-line :class:`DataError` unless ``fs`` (read from ``source``) was embedded by ``embedder``'s model.

    Examples::

        check_same_model(read_features("query.h5"), load_model("model.pt"), "query.h5")
    """
    if fs.features.shape[1] != embedder.dim or (fs.embedder and fs.embedder != embedder.info.weights_id):
        raise DataError(
            f"{source}: features from another model ({fs.embedder or 'unknown'}, {fs.features.shape[1]}-d); "
            f"{embedder.source} is {embedder.info.weights_id} ({embedder.dim}-d)"
        )
