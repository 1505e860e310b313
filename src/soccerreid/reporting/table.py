"""Table 1 of the report, as markdown, from measured rows.

A row is one method (single model, fusion, re-ranking setting) with its scores as fractions
in [0, 1]. Nothing is typed in: every number comes from the run's metrics.

Examples::

    rows = [TableRow("OSNet-AIN", "single", {"mAP": 0.57, "rank1": 0.44, ...}), ...]
    text = render_results(rows, dataset="synthetic SoccerNet (valid)", notes=["grid best: 0.1/0.2/0.7"])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from soccerreid.config.retrieval import RERANK_PRESETS

MODEL_NAMES = {
    "osnet_ain": "OSNet-AIN",
    "resnet50_ibn": "ResNet50-IBN",
    "dinov2_lora": "DINOv2+LoRA",
    "clip_vit": "CLIP ViT",
    "clip_vit_lora": "CLIP ViT+LoRA",
}
FUSION_NAMES = {"concat": "Concatenation", "mean": "Distance mean (equal)", "weighted": "Weighted", "grid": "Grid best"}
QE_NAMES = {"aqe": "AQE", "alpha_qe": "alpha-QE", "dba": "DBA"}
METRIC_COLUMNS = (
    ("mAP", "mAP"),
    ("rank1", "Rank-1"),
    ("rank5", "Rank-5"),
    ("rank10", "Rank-10"),
    ("rank20", "Rank-20"),
)


EXTRA_METRICS = (("mAP", "mAP"), ("rank1", "Rank-1"))


@dataclass(frozen=True)
class TableRow:
    """One method of Table 1: ``group`` is single, fusion or rerank; ``scores`` maps metric -> fraction;
    ``extra`` the same method's scores on other splits, by column title (``Test``, ``Challenge``)."""

    method: str
    group: str
    scores: dict
    extra: dict[str, dict] = field(default_factory=dict)


def method_label(
    group: str, name: str, fusion_info: dict, soups: Mapping | None = None, qe_settings: Mapping | None = None
) -> str:
    """Table 1's name of a method: ``group`` models, fusion, qe or rerank, ``name`` its key there;
    ``fusion_info`` is the fuse stage's ``fusion.json`` (weights, configured method); ``soups``
    (``{soup: [members]}``) and ``qe_settings`` (``k``, ``alpha``, ``times``) are scores.json's.

    Examples::

        method_label("rerank", "standard", {"method": "weighted", ...})   # "Weighted + re-rank standard (20/6/0.3)"
        method_label("models", "s", info, soups={"s": ["a", "b"]})         # "s (uniform soup of a + b)"
    """
    if group == "models":
        if soups and name in soups:
            return f"{name} (uniform soup of {' + '.join(soups[name])})"
        return MODEL_NAMES.get(name, name)
    if group == "fusion":
        weights = {"weighted": fusion_info["weights"], "grid": fusion_info["grid_weights"]}.get(name)
        return FUSION_NAMES.get(name, name) + (f" ({weights_label(weights)})" if weights is not None else "")
    base = FUSION_NAMES.get(fusion_info["method"], fusion_info["method"])
    if group == "qe":
        qe = qe_settings or {}
        detail = (
            f" (k {qe['k']}, alpha {qe['alpha']:g}, {qe['times']} pass{'es' if qe['times'] > 1 else ''})"
            if {"k", "alpha", "times"} <= set(qe)
            else ""
        )
        return f"{base} + {QE_NAMES.get(name, name)}{detail}"
    k1, k2, lam = RERANK_PRESETS[name]
    return f"{base} + re-rank {name} ({k1}/{k2}/{lam:g})"


def weights_label(weights) -> str:
    """Fusion weights as Table 1 writes them: ``0.2/0.2/0.6``."""
    return "/".join(f"{w:g}" for w in weights)


def best_row(rows: list[TableRow]) -> int:
    """Index of the row with the highest mAP (ties broken by Rank-1, then by order)."""
    keyed = [(-row.scores["mAP"], -row.scores["rank1"], i) for i, row in enumerate(rows)]
    return min(keyed)[2]


def render_results(rows: list[TableRow], dataset: str, notes: list[str] = ()) -> str:
    """Markdown for ``results.md``: the table with the best row in bold and marked, then notes.

    Each ``extra`` split that every row has adds an mAP and a Rank-1 column; the best row is
    still chosen on the main scores only.
    """
    if not rows:
        raise ValueError("render_results: no rows to render")
    best = best_row(rows)
    extras = [title for title in rows[0].extra if all(title in row.extra for row in rows)]
    columns = METRIC_COLUMNS + tuple((None, f"{title} {name}") for title in extras for _, name in EXTRA_METRICS)
    header = "| Method | Group | " + " | ".join(title for _, title in columns) + " |"
    lines = [
        "# Results (Table 1)",
        "",
        f"Dataset: {dataset}. Scores in percent, SoccerNet protocol (each query ranked against its own action's "
        "gallery).",
        "",
        header,
        "|" + "---|" * (len(columns) + 2),
    ]
    lines += [_render_row(row, marked=(i == best), extras=extras) for i, row in enumerate(rows)]
    lines += ["", f"Best row (by mAP): **{rows[best].method}**."]
    lines += [""] + [f"- {note}" for note in notes] if notes else []
    return "\n".join(lines) + "\n"


def _render_row(row: TableRow, marked: bool, extras: list[str]) -> str:
    cells = [f"{100.0 * row.scores[key]:.2f}" for key, _ in METRIC_COLUMNS]
    cells += [f"{100.0 * row.extra[title][key]:.2f}" for title in extras for key, _ in EXTRA_METRICS]
    name = row.method
    if marked:
        cells = [f"**{cell}**" for cell in cells]
        name = f"**{name}** (best)"
    return f"| {name} | {row.group} | " + " | ".join(cells) + " |"
