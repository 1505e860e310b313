"""Per-epoch validation: SoccerNet-protocol mAP of the model on a fixed subsample of valid actions.

It embeds crops exactly as the extract stage does (same transform, flip TTA, normalisation), so
the best epoch is chosen on the feature that is shipped; ``soccerreid.config`` checks that the
final phase's size and ``train.val_flip`` equal ``extract.<model>``'s.

Examples::

    subset = select_val_actions(valid_df, n_queries=500, seed=0)
    scores = validation_scores(model, subset, validation_settings(256, 128, flip=True), cfg.mean, cfg.std)
    scores["mAP"]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from soccerreid.config.models import ExtractConfig
from soccerreid.errors import DataError
from soccerreid.evaluation import score_embeddings
from soccerreid.features import extract_embeddings


def select_val_actions(valid: pd.DataFrame, n_queries: int, seed: int) -> pd.DataFrame:
    """Rows of whole valid actions, drawn in a seeded order until they hold >= ``n_queries`` queries.

    ``valid`` is the valid index (columns action_idx, person_uid, role). Row order is kept.

    Examples::

        subset = select_val_actions(read_index("data/index", "valid"), 500, seed=0)
    """
    queries = valid[valid["role"] == "query"]
    if queries.empty:
        raise DataError("valid index: no query rows, cannot validate during training")
    counts = queries.groupby("action_idx").size()
    order = np.random.default_rng(seed).permutation(counts.index.to_numpy())
    cumulative = counts.loc[order].cumsum().to_numpy()
    keep = order[: int(np.searchsorted(cumulative, n_queries)) + 1]
    return valid[valid["action_idx"].isin(keep)]


def validation_settings(
    height: int, width: int, batch_size: int = 64, workers: int = 0, flip: bool = True
) -> ExtractConfig:
    """The extraction settings of per-epoch validation: ``height`` x ``width``, flip TTA when ``flip``
    (the extraction recipe, ``train.val_flip``).

    They shape the exported weights (the best epoch is chosen on them), so the checkpoint
    fingerprint holds their values (:func:`soccerreid.training.weights_fingerprint`).
    """
    return ExtractConfig(height=height, width=width, batch_size=batch_size, workers=workers, flip=flip)


def validation_scores(
    model: torch.nn.Module,
    subset: pd.DataFrame,
    settings: ExtractConfig,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    device: torch.device | str = "cpu",
) -> dict:
    """Embed ``subset`` (valid rows) with the extraction recipe of ``settings`` (:func:`validation_settings`:
    eval resize, flip TTA when ``flip``, L2-normalised) and score it (cosine, per action).

    Returns the dict of :func:`soccerreid.evaluation.score_embeddings` ("mAP", "rank1", ...).
    The model is left in eval mode (and, for CNNs, in channels_last: see ``extract_embeddings``).
    """
    features = extract_embeddings(model, subset["path"].tolist(), settings, mean, std, device=str(device))
    return score_embeddings(
        features,
        subset["action_idx"].to_numpy(),
        subset["person_uid"].to_numpy(),
        (subset["role"] == "query").to_numpy(),
    )
