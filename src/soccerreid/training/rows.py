"""The crops a model trains on, and the action / game / competition of each for the batch sampler.

``train.splits`` may add valid and test to train (the challenge recipe: the rules allow it).
Their query and gallery crops become training crops; as ``action_idx`` counts within a split,
an action is the pair (split, action_idx), and an identity (split, action_idx, person_uid).

Examples::

    rows = training_rows({s: read_index("data/index", s) for s in ("train", "valid")}, drop_none_ids=True)
    actions, games, competitions = hierarchy_codes(rows)      # (N,) each, for ActionPKSampler
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from soccerreid.data.index import ACTION_KEY, assign_labels
from soccerreid.data.naming import NONE_ID
from soccerreid.errors import DataError


def training_rows(frames: Mapping[str, pd.DataFrame], drop_none_ids: bool = False) -> pd.DataFrame:
    """Every labelled crop of ``frames`` ({split: index frame}), ``label`` contiguous per identity.

    ``drop_none_ids`` leaves out the crops whose id is ``None`` (single-frame persons), as MIG
    trains. Columns are the index's; rows keep the order of ``frames``. An empty result is a
    one-line :class:`DataError`.

    Examples::

        training_rows({"train": read_index("data/index", "train")})["label"].max() + 1   # identities
    """
    rows = pd.concat(list(frames.values()), ignore_index=True)
    rows = rows[rows["person_uid"] >= 0]
    if drop_none_ids:
        rows = rows[rows["jersey"] != NONE_ID]
    if rows.empty:
        raise DataError(
            f"training splits {list(frames)}: no labelled crops to train on (drop_none_ids: {drop_none_ids})"
        )
    rows = rows.reset_index(drop=True)
    rows["label"] = assign_labels(rows)
    return rows


def hierarchy_codes(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N,) int64 codes of each row's action (split, action_idx), game and competition.

    The game is the index's ``<championship>/<season>/<game>`` folder, the competition its
    ``<championship>/<season>`` part.

    Examples::

        actions, games, competitions = hierarchy_codes(read_index("data/index", "train"))
    """
    actions = rows.groupby(ACTION_KEY, sort=True).ngroup().to_numpy(np.int64)
    games = rows["game"].astype(str)
    competitions = games.str.split("/").str[:2].str.join("/")
    return actions, _codes(games), _codes(competitions)


def _codes(values: pd.Series) -> np.ndarray:
    return np.unique(values.to_numpy(), return_inverse=True)[1].astype(np.int64)
