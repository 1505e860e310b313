"""The SoccerNet ReID data layer: file names, bbox_info metadata, the crop index, the SoccerNet
download and the embedded synthetic dataset. See docs/data.md.

Other stages only need :func:`read_index` and :func:`select_train_fraction`.

Examples::

    from soccerreid.data import read_index, select_train_fraction
    train = select_train_fraction(read_index("data/index", "train"), 0.3, seed=0)
"""

from soccerreid.data.index import COLUMNS, read_index, select_train_fraction

__all__ = ["COLUMNS", "read_index", "select_train_fraction"]
