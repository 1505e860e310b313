"""Retrieval core: per-action distance blocks, fusion, query expansion and k-reciprocal re-ranking (pure numpy).

Examples::

    from soccerreid.retrieval import features_to_blocks
    blocks = features_to_blocks(read_features("artifacts/features/osnet_ain/valid.h5"))
"""

from soccerreid.retrieval.distances import (
    METRICS,
    embeddings_to_blocks,
    features_to_blocks,
    l2_normalize,
    pairwise_distances,
)
from soccerreid.retrieval.expansion import QE_METHODS, average_query_expansion, expand_blocks, expand_features
from soccerreid.retrieval.rerank import k_reciprocal_rerank, rerank_blocks

__all__ = [
    "METRICS",
    "QE_METHODS",
    "average_query_expansion",
    "expand_blocks",
    "expand_features",
    "embeddings_to_blocks",
    "features_to_blocks",
    "k_reciprocal_rerank",
    "l2_normalize",
    "pairwise_distances",
    "rerank_blocks",
]
