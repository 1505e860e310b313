"""soccerreid: soccer player re-identification on SoccerNet ReID v3 as a cached DVC DAG.

The trained models are usable outside the DAG (imported on first use, so ``import soccerreid``
stays light)::

    import soccerreid
    model = soccerreid.load_model("artifacts/models/osnet_ain/model.pt")   # the model file alone
    feats = model.embed(["a.png", "b.png"], batch_size=64)                 # (2, D) float32
    ranking = soccerreid.rank(query_feats, gallery_feats, top_k=10)        # per action when actions are given
    soccerreid.evaluate(model, "data/index", split="valid")["mAP"]         # checked by the official scorer
"""

from soccerreid._version import __version__

_API = ("Embedder", "Ranking", "evaluate", "load_model", "rank")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from soccerreid import api

        return getattr(api, name)
    raise AttributeError(f"module 'soccerreid' has no attribute {name!r}")
