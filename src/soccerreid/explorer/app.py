"""``soccerreid explore``: a finished run's queries in the browser (Gradio), as the report's dashboard had it.

- **Queries**: pick a split and two methods (every single model, fusion, re-ranking setting and
  the final method); filter the query list by class, action, Rank-1 hit or miss under method A,
  and AP range; sort it by AP or by the AP change from A to B.
- **One query** and **side by side**: the query beside its top-k gallery crops under A, bordered
  green (same identity) or red, the rank of every true match and its AP; then the same query
  under A and B, one row each, with the AP difference.
- **Search by crop**: an uploaded crop (or the selected query's) ranked against an action's
  gallery or a folder of crops, embedded with one of the run's model files
  (:func:`soccerreid.load_model`, :func:`soccerreid.rank`).

Start-up reads nothing heavy: every artifact is read when first shown (:class:`~.run.Run`). An
error (a missing artifact, an unscored run, a file that is not an image) is one line in the
page's status box, naming what is missing and the command that makes it; no traceback reaches
the page (it goes to the server's stderr).

Examples::

    serve(".", host="127.0.0.1", port=7860)       # soccerreid explore
"""

from __future__ import annotations

import functools
import math
import os
import sys
import traceback
from html import escape
from pathlib import Path

import gradio as gr
import pandas as pd

from soccerreid.errors import DataError, SoccerReidError
from soccerreid.explorer.run import Run, RunPaths, filter_queries, query_table, retrieval, sort_queries
from soccerreid.explorer.tiles import CSS, data_uri, thumbnail, tile
from soccerreid.images import find_images, read_rgb
from soccerreid.vocab import EVAL_SPLITS

TILE_HEIGHT = 128
MAX_LISTED = 500  # rows of the query list (and choices of the query picker) sent to the page
SORT_NAMES = {
    "delta_desc": "AP change B - A, largest first",
    "delta_asc": "AP change B - A, smallest first",
    "ap_asc": "AP (A), lowest first",
    "ap_desc": "AP (A), highest first",
    "query": "query",
}
ALL = "all"
COLUMNS = ("query", "action", "class", "AP A", "AP B", "B - A", "Rank-1 A")
EMPTY_LIST = (
    pd.DataFrame(columns=COLUMNS),
    "",
    gr.update(choices=[], value=None),
    "",
    "",
)  # list, count, picker, views


def serve(root: str | os.PathLike, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the explorer of the run under ``root`` (dvc.yaml's layout) until interrupted."""
    app = build_app(Run(RunPaths.under(root)))
    print(f"soccerreid explore: {Path(root).resolve()} at http://{host}:{port}", flush=True)
    app.launch(server_name=host, server_port=port, css=CSS, theme=_theme(), quiet=True, show_error=False)


def _theme() -> gr.themes.Base:
    """The default look with the system's fonts: nothing is fetched from the internet."""
    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def guarded(outputs: int, clear: tuple | None = None):
    """Run a callback; a failure puts one line in the status box (its last output) instead of a
    traceback in the page, and leaves its ``outputs - 1`` other outputs as they are, or sets
    them to ``clear`` (so that nothing shown belongs to the choices before)."""

    def wrap(callback):
        @functools.wraps(callback)
        def run(*args):
            try:
                return (*callback(*args), "")
            except SoccerReidError as err:
                message = str(err)
            except Exception as err:  # noqa: BLE001 - the page gets one line; the server log the traceback
                traceback.print_exc(file=sys.stderr)
                message = f"{type(err).__name__}: {err}"
            return (*(clear or [gr.update()] * (outputs - 1)), f'<p class="error">Error: {escape(message)}</p>')

        return run

    return wrap


def build_app(run: Run) -> gr.Blocks:
    """The explorer's page over ``run``."""
    with gr.Blocks(title="soccerreid explorer", analytics_enabled=False) as app:
        gr.Markdown("# soccerreid explorer")
        status = gr.HTML(elem_id="status")
        with gr.Tab("Queries"):
            with gr.Row():
                split = gr.Dropdown(label="Split", elem_id="split")
                method_a = gr.Dropdown(label="Method A", elem_id="method-a")
                method_b = gr.Dropdown(label="Method B (side by side)", elem_id="method-b")
                top_k = gr.Slider(1, 50, value=10, step=1, label="Top k", elem_id="top-k")
            with gr.Row():
                clazz = gr.Dropdown(label="Class", choices=[ALL], value=ALL, elem_id="class")
                action = gr.Dropdown(label="Action", choices=[ALL], value=ALL, elem_id="action")
                rank1 = gr.Radio([ALL, "hit", "miss"], value=ALL, label="Rank-1 under A", elem_id="rank1")
                ap_min = gr.Number(0, label="AP (A) from, %", minimum=0, maximum=100, elem_id="ap-min")
                ap_max = gr.Number(100, label="AP (A) to, %", minimum=0, maximum=100, elem_id="ap-max")
                sort = gr.Dropdown(
                    [(name, key) for key, name in SORT_NAMES.items()], value="delta_desc", label="Sort", elem_id="sort"
                )
            count = gr.Markdown(elem_id="count")
            table = gr.Dataframe(interactive=False, elem_id="queries", max_height=360)
            query = gr.Dropdown(label="Query (or click a row)", elem_id="query")
            one = gr.HTML(elem_id="one-query")
            side = gr.HTML(elem_id="side-by-side")
        with gr.Tab("Search by crop"):
            with gr.Row():
                upload = gr.File(label="Player crop (PNG or JPEG)", elem_id="upload")
                use_query = gr.Checkbox(label="Use the selected query's crop instead", elem_id="use-query")
            with gr.Row():
                model = gr.Dropdown(label="Model", elem_id="model")
                search_split = gr.Dropdown(label="Split of the gallery action", elem_id="search-split")
                gallery_action = gr.Dropdown(label="Gallery: an action", elem_id="gallery-action")
                folder = gr.Textbox(label="or a folder of crops", elem_id="gallery-folder")
                search_k = gr.Slider(1, 50, value=10, step=1, label="Top k", elem_id="search-k")
            go = gr.Button("Search", elem_id="search")
            found = gr.HTML(elem_id="search-result")

        filters = [split, method_a, method_b, clazz, action, rank1, ap_min, ap_max, sort, top_k]
        listed = [table, count, query, one, side, status]
        choices = [split, method_a, method_b, clazz, action]
        app.load(guarded(len(choices) + 1)(functools.partial(_choices, run)), [split], [*choices, status]).then(
            guarded(len(listed), clear=EMPTY_LIST)(functools.partial(_list, run)), filters, listed
        )
        app.load(
            guarded(4)(functools.partial(_search_choices, run)), None, [model, search_split, gallery_action, status]
        )
        split.input(guarded(len(choices) + 1)(functools.partial(_choices, run)), [split], [*choices, status]).then(
            guarded(len(listed), clear=EMPTY_LIST)(functools.partial(_list, run)), filters, listed
        )
        for control in filters[1:]:
            control.input(guarded(len(listed), clear=EMPTY_LIST)(functools.partial(_list, run)), filters, listed)
        shown = [one, side, status]
        query.input(
            guarded(len(shown))(functools.partial(_show, run)), [split, method_a, method_b, query, top_k], shown
        )

        def pick_row(split_, a, b, k, evt: gr.SelectData):  # gradio passes the clicked row to an argument so annotated
            return guarded(len(shown) + 1)(_pick_row)(run, split_, a, b, k, evt.row_value[0])

        table.select(pick_row, [split, method_a, method_b, top_k], [query, *shown])
        search_split.input(guarded(2)(functools.partial(_actions, run)), [search_split], [gallery_action, status])
        go.click(
            guarded(2)(functools.partial(_search, run)),
            [upload, use_query, split, query, model, search_split, gallery_action, folder, search_k],
            [found, status],
        )
    return app


def _choices(run: Run, split: str | None):
    """Splits, methods (A: the best single model, B: the final method), classes and actions."""
    splits = run.splits()
    split = split if split in splits else splits[0]
    methods = [(f"{m.label} (mAP {100 * m.mAP:.1f})", m.key) for m in run.methods(split)]
    a, b = run.default_pair(split)
    queries = run.results(split, b).queries
    classes = [ALL, *sorted(set(queries["clazz"]))]
    actions = [ALL, *map(str, sorted(set(queries["action"].tolist())))]
    return (
        gr.update(choices=splits, value=split),
        gr.update(choices=methods, value=a),
        gr.update(choices=methods, value=b),
        gr.update(choices=classes, value=ALL),
        gr.update(choices=actions, value=ALL),
    )


def _filtered(run: Run, split, a, b, clazz, action, rank1, ap_min, ap_max, sort) -> pd.DataFrame:
    if not (split and a and b):
        run.methods(run.splits()[0])  # what keeps the choices empty: an unscored run, a missing fusion.json
        raise DataError("pick a split and two methods")
    table = query_table(run, split, a, b)
    lo, hi = (0.0 if ap_min is None else ap_min) / 100, (100.0 if ap_max is None else ap_max) / 100
    table = filter_queries(
        table,
        clazz=None if clazz == ALL else clazz,
        action=None if action in (None, ALL) else int(action),
        rank1=None if rank1 == ALL else rank1,
        ap_range=None if (lo, hi) == (0.0, 1.0) else (lo, hi),
    )
    return sort_queries(table, sort)


def _list(run: Run, split, a, b, clazz, action, rank1, ap_min, ap_max, sort, top_k):
    """The filtered, sorted query list, the picker's choices, and the first query's views."""
    table = _filtered(run, split, a, b, clazz, action, rank1, ap_min, ap_max, sort)
    total = len(run.results(split, a).queries)
    shown = table.head(MAX_LISTED)
    hit = (shown["first_hit"] == 1).map({True: "hit", False: "miss"})
    values = (
        shown.index,
        shown["action"],
        shown["clazz"],
        _pct(shown["ap"]),
        _pct(shown["ap_b"]),
        _pct(shown["delta"]),
        hit,
    )
    rows = pd.DataFrame(dict(zip(COLUMNS, values)))
    more = f" (the first {MAX_LISTED} listed)" if len(table) > MAX_LISTED else ""
    count = f"**{len(table)} of {total} queries**{more}"
    picks = [(f"{q} (action {r.action}, {r.clazz}, AP A {_fmt(r.ap)})", str(q)) for q, r in shown.iterrows()]
    first = picks[0][1] if picks else None
    views = _show(run, split, a, b, first, top_k) if first else ("<p>No query matches these filters.</p>", "")
    return (rows, count, gr.update(choices=picks, value=first), *views)


def _pct(values: pd.Series) -> pd.Series:
    return (100 * values).round(1)


def _fmt(ap: float) -> str:
    return "-" if math.isnan(ap) else f"{100 * ap:.1f}"


def _pick_row(run: Run, split, a, b, top_k, query):
    """A click on a row of the list (its first cell: the query) picks that query."""
    query = str(query)
    return (gr.update(value=query), *_show(run, split, a, b, query, top_k))


def _show(run: Run, split, a, b, query, top_k):
    """``(one query under A, side by side A and B)`` as HTML."""
    if query is None:
        raise DataError("pick a query first")
    k = int(top_k)
    first, second = (retrieval(run, split, key, int(query), k) for key in (a, b))
    one = "<h3>One query</h3>" + _row(first, run.label(split, a), f"Query {first.query} (action {first.action}) under ")
    side = (
        "<h3>Side by side</h3>"
        + _row(first, run.label(split, a), "A: ")
        + _row(second, run.label(split, b), "B: ")
        + f'<p class="delta" data-delta="{second.ap - first.ap:.6f}">AP change B - A: '
        f"{100 * (second.ap - first.ap):+.1f}</p>"
    )
    return one, side


def _row(view, label: str, prefix: str) -> str:
    ranks = ", ".join(map(str, view.match_ranks)) or "none"
    tiles = [tile(data_uri(thumbnail(view.query_path, TILE_HEIGHT)), "query", None, "query", view.query)]
    tiles += [
        tile(data_uri(thumbnail(path, TILE_HEIGHT)), str(r), "match" if hit else "miss", "gallery", g)
        for r, (g, path, hit) in enumerate(zip(view.gallery, view.gallery_paths, view.matches), start=1)
    ]
    return (
        f'<div class="retrieval" data-query="{view.query}"><div class="head">{prefix}{escape(label)}: AP '
        f"{_fmt(view.ap)}; "
        f'true matches at ranks {ranks}</div><div class="tiles">{"".join(tiles)}</div></div>'
    )


def _search_choices(run: Run):
    """The run's model files, the splits with an index and the first one's actions (search by crop needs no scores)."""
    models = list(run.models())
    splits = [s for s in EVAL_SPLITS if (run.paths.index / f"{s}.csv").is_file()]
    if not splits:
        raise DataError(f"{run.paths.index}: no index of {', '.join(EVAL_SPLITS)}; `dvc repro prepare` makes it")
    return (
        gr.update(choices=models, value=models[0]),
        gr.update(choices=splits, value=splits[0]),
        *_actions(run, splits[0]),
    )


def _actions(run: Run, split):
    actions = sorted(set(run.index(split).query("role == 'gallery'")["action_idx"].tolist()))
    return (gr.update(choices=[str(a) for a in actions], value=str(actions[0]) if actions else None),)


def _search(run: Run, upload, use_query, split, query, model, search_split, gallery_action, folder, top_k):
    """The chosen crop ranked against the chosen gallery with the chosen model, as tiles (``data-bbox``:
    the crop's bbox_idx in an action's gallery, its row in a folder's sorted file list)."""
    query_path, uid = _search_query(run, upload, use_query, split, query)
    if folder and folder.strip():
        gallery_paths, gallery_uid = find_images([folder.strip()]), None
        gallery_bbox = list(range(len(gallery_paths)))
    else:
        if not (search_split and gallery_action):
            raise DataError("pick a gallery: an action of a split, or a folder of crops")
        rows = run.index(search_split).query(f"role == 'gallery' and action_idx == {int(gallery_action)}")
        gallery_paths, gallery_uid, gallery_bbox = (
            rows["path"].tolist(),
            rows["person_uid"].tolist(),
            rows["bbox_idx"].tolist(),
        )
        uid = uid if search_split == split else None
    if not model:
        raise DataError("pick a model")
    ranked = search_crop(run, model, query_path, gallery_paths, int(top_k))
    tiles = [tile(data_uri(thumbnail(query_path, TILE_HEIGHT)), "query", None, "query")]
    for r, (g, distance) in enumerate(ranked, start=1):
        state = (
            None if uid is None or gallery_uid is None or uid < 0 else ("match" if gallery_uid[g] == uid else "miss")
        )
        caption = f"{r}: {max(distance, 0.0):.4f}"  # a crop's distance to itself rounds to about -1e-7
        tiles.append(
            tile(data_uri(thumbnail(gallery_paths[g], TILE_HEIGHT)), caption, state, "gallery", gallery_bbox[g])
        )
    head = f"{len(ranked)} nearest of {len(gallery_paths)} gallery crops by {model} (cosine distance)"
    return (
        f'<div class="retrieval"><div class="head">{escape(head)}</div><div class="tiles">{"".join(tiles)}</div></div>',
    )


def _search_query(run: Run, upload, use_query, split, query) -> tuple[str, int | None]:
    """The query crop's path and identity (None for an upload): the upload, checked to decode, or the selected query."""
    if use_query:
        if not (split and query):
            raise DataError("no query is selected (pick one in the Queries tab)")
        paths, uids = run.crops(split, "query")
        return paths[int(query)], int(uids[int(query)])
    if upload is None:
        raise DataError("upload a player crop (PNG or JPEG), or tick 'use the selected query's crop'")
    path = upload if isinstance(upload, str) else upload.name
    try:
        read_rgb(path)
    except DataError:
        raise DataError(
            f"{Path(path).name}: not an image (it does not decode); upload a PNG or JPEG player crop"
        ) from None
    return path, None


@functools.lru_cache(maxsize=4)
def _embedder(path: str):
    from soccerreid.api import load_model

    return load_model(path)


def search_crop(run: Run, model: str, query_path: str, gallery_paths: list[str], top_k: int) -> list[tuple[int, float]]:
    """``[(gallery row, cosine distance)]`` of the ``top_k`` gallery crops nearest the query, nearest first."""
    from soccerreid.api import rank

    models = run.models()
    if model not in models:
        raise DataError(f"model {model!r}: no model file {run.paths.models / model / 'model.pt'}")
    embedder = _embedder(str(models[model]))
    result = rank(embedder.embed([query_path]), embedder.embed(gallery_paths), top_k=top_k)
    return [(int(g), float(d)) for g, d in zip(result.indices[0], result.distances[0]) if g >= 0]
