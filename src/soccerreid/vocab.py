"""The words of SoccerNet ReID that every layer shares: its splits, the roles of a crop, the classes.

Defined here once, below everything else of the package (it imports nothing of it), so that
the config, the data layer, the HDF5 schema and the command all speak of the same things.

Examples::

    from soccerreid.vocab import EVAL_SPLITS, ROLES
    [s for s in EVAL_SPLITS if s != "challenge"]    # ['valid', 'test']: the labelled retrieval splits
    ROLES.index("query") < ROLES.index("gallery")   # True: rows sort train, query, gallery
"""

SPLITS = ("train", "valid", "test", "challenge")
"""Every split of the dataset, in the order the DAG processes them."""

TRAIN_SPLITS = ("train", "valid", "test")
"""The labelled splits a model may train on (``models.<name>.train.splits``)."""

EVAL_SPLITS = ("valid", "test", "challenge")
"""The retrieval splits: they get features, distance blocks and rankings."""

ROLES = ("train", "query", "gallery")
"""The role of a crop, in the order rows sort: train crops (train split), then query, then gallery."""

EVAL_ROLES = ("query", "gallery")
"""The two lists of a retrieval split (its ``query/`` and ``gallery/`` folders)."""

CLASSES = (
    "Player_team_left",
    "Player_team_right",
    "Goalkeeper_team_left",
    "Goalkeeper_team_right",
    "Main_referee",
    "Side_referee",
    "Staff_members",
    "Player_team_unknown_1",
    "Player_team_unknown_2",
    "Goalkeeper_team_unknown",
)
"""The person classes of SoccerNet ReID (the ``clazz`` field of a crop file name)."""
