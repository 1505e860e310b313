"""The static explorer: one HTML file plus JPEG thumbnails, opened from ``file://`` with no server.

``index.html`` inlines its data, script and style (nothing is fetched, so it works offline). It
holds a seeded sample of ``count`` queries of a split, each query's AP, first true match and
top-k under every method, and draws the query list with its filters and the side-by-side rows
in the browser (``explorer.js``). Thumbnails are ``thumbs/q<bbox_idx>.jpg`` (queries) and
``thumbs/g<bbox_idx>.jpg`` (gallery crops shown in some top-k).

Examples::

    write_static_explorer(Run(RunPaths.under(".")), "valid", "reports/explorer", count=200, top_k=10, seed=0)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from soccerreid.explorer.run import Run
from soccerreid.explorer.tiles import CSS, thumbnail
from soccerreid.io import write_text

THUMB_HEIGHT = 80
PAGE = Path(__file__).with_name("page")


def explorer_data(run: Run, split: str, count: int, top_k: int, seed: int) -> dict:
    """The page's data: ``split``, ``top_k``, ``methods`` [{key, label, mAP}], ``pair`` (the
    default two methods), and ``queries``: per query ``q`` (bbox_idx), ``action``, ``clazz`` and,
    per method key, ``ap`` (None without a positive), ``first`` (rank of the first true match,
    0 without), ``top`` ([gallery bbox_idx, 1 if same identity else 0] for the top-k) and
    ``ranks`` (the 1-based rank of every true match)."""
    methods = run.methods(split)
    everything = run.results(split, methods[0].key).queries
    picked = np.sort(np.random.default_rng(seed).permutation(everything.index.to_numpy())[:count])
    _, query_uid = run.crops(split, "query")
    _, gallery_uid = run.crops(split, "gallery")
    queries = []
    for q in picked.tolist():
        entry = {
            "q": q,
            "action": int(everything.at[q, "action"]),
            "clazz": str(everything.at[q, "clazz"]),
            "ap": {},
            "first": {},
            "top": {},
            "ranks": {},
        }
        for method in methods:
            results = run.results(split, method.key)
            ap = float(results.queries.at[q, "ap"])
            hits = [int(gallery_uid[g] == query_uid[q]) for g in results.ranking[str(q)]]
            entry["ap"][method.key] = None if math.isnan(ap) else round(ap, 6)
            entry["first"][method.key] = int(results.queries.at[q, "first_hit"])
            entry["top"][method.key] = [[g, h] for g, h in zip(results.ranking[str(q)][:top_k], hits)]
            entry["ranks"][method.key] = [r + 1 for r, h in enumerate(hits) if h]
        queries.append(entry)
    return {
        "split": split,
        "top_k": top_k,
        "pair": list(run.default_pair(split)),
        "methods": [{"key": m.key, "label": m.label, "mAP": m.mAP} for m in methods],
        "total_queries": len(everything),
        "queries": queries,
    }


def write_static_explorer(run: Run, split: str, out_dir: str | Path, count: int, top_k: int, seed: int) -> dict:
    """Write ``index.html`` and ``thumbs/`` into ``out_dir`` (a folder being written atomically by
    the caller); returns ``{"queries", "thumbnails", "bytes"}``, what was written."""
    out = Path(out_dir)
    data = explorer_data(run, split, count, top_k, seed)
    query_path, _ = run.crops(split, "query")
    gallery_path, _ = run.crops(split, "gallery")
    crops = {f"q{e['q']}": query_path[e["q"]] for e in data["queries"]}
    crops |= {f"g{g}": gallery_path[g] for e in data["queries"] for top in e["top"].values() for g, _ in top}
    (out / "thumbs").mkdir(parents=True, exist_ok=True)
    size = 0
    for name, path in sorted(crops.items()):
        jpeg = thumbnail(path, THUMB_HEIGHT)
        (out / "thumbs" / f"{name}.jpg").write_bytes(jpeg)
        size += len(jpeg)
    page = render_page(data)
    write_text(out / "index.html", page)
    return {"queries": len(data["queries"]), "thumbnails": len(crops), "bytes": size + len(page.encode())}


def render_page(data: dict) -> str:
    """The HTML page with ``data`` (see :func:`explorer_data`), the tile CSS and the script inlined."""
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    template = (PAGE / "index.html").read_text()
    return (
        template.replace("/*CSS*/", CSS + (PAGE / "explorer.css").read_text())
        .replace("/*SCRIPT*/", (PAGE / "explorer.js").read_text())
        .replace("/*DATA*/", payload)
    )
