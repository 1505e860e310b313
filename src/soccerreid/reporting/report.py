"""Assemble the report folder from a run's own outputs: ``results.md`` and ``figures/*.png``.

Every number comes from ``metrics/scores.json`` (written by the score stage, which scores
every Table 1 row from cached distances), the CMC table, the final ranking and the dvclive
training logs. Nothing is typed in.

Examples::

    rows = table_rows(scores, fusion_info)
    inputs = read_report_inputs(Path("metrics/scores.json"), ..., split="valid", source="synthetic")
    write_report(inputs, out_dir="reports", top_k=10, count=6, seed=0)
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soccerreid.data.index import read_index
from soccerreid.errors import need
from soccerreid.io import write_text
from soccerreid.reporting.figures import plot_cmc, plot_method_bars, plot_retrievals, plot_training_curves
from soccerreid.reporting.qualitative import pick_retrievals
from soccerreid.reporting.table import (
    METRIC_COLUMNS,
    MODEL_NAMES,
    TableRow,
    method_label,
    render_results,
    weights_label,
)


@dataclass(frozen=True)
class ReportInputs:
    """What the report reads: scores JSON dict, fuse stage's ``fusion.json`` dict, CMC CSV text,
    the final ranking of ``split``, that split's index (bbox_idx, path, person_uid), and the
    training histories ``{model: {metric: (E,) array}}``."""

    scores: dict
    fusion_info: dict
    cmc_csv: str
    ranking: dict
    index: pd.DataFrame
    histories: dict
    dataset: str


DATASETS = {"synthetic": "embedded synthetic SoccerNet", "soccernet": "SoccerNet ReID v3"}


def read_input(path: Path) -> str:
    """The text of an upstream output, or a one-line DataError naming it."""
    return need(path, "dvc repro").read_text()


def read_report_inputs(
    scores: Path, fused: Path, cmc: Path, rankings: Path, index: Path, live: Path, split: str, source: str
) -> ReportInputs:
    """What the report reads for ``split``: the score stage's ``scores`` JSON, ``cmc`` CSV and
    ``rankings`` folder, the fuse stage's ``fused`` folder, the ``index`` folder and the dvclive
    logs under ``live`` of every fused model; ``source`` (``data.source``) names the dataset."""
    fusion_info = json.loads(read_input(fused / "fusion.json"))
    return ReportInputs(
        scores=json.loads(read_input(scores)),
        fusion_info=fusion_info,
        cmc_csv=read_input(cmc),
        ranking=json.loads(read_input(rankings / f"{split}.json")),
        index=read_index(index, split),
        histories=read_histories(live, fusion_info["models"]),
        dataset=f"{DATASETS[source]} ({split} split)",
    )


def table_rows(scores: dict, fusion_info: dict) -> list[TableRow]:
    """Table 1 rows: single models and soups (each after its seeds), the fusion methods, then the
    query expansions and re-ranking presets of the fused method.

    Each row carries the same method's scores on the held-out test split (``heldout``) and on
    the challenge split (``challenge``, when its released labels were there), as extra columns.
    """
    extra = {title: scores[key] for key, title in (("heldout", "Test"), ("challenge", "Challenge")) if key in scores}

    def row(group: str, section: str, name: str) -> TableRow:
        return TableRow(
            method_label(section, name, fusion_info, scores.get("soups"), scores.get("qe_settings")),
            group,
            scores[section][name],
            {t: part[section][name] for t, part in extra.items()},
        )

    soups = scores.get("soups", {})
    names = [*fusion_info["models"], *(m for m in scores["models"] if m not in fusion_info["models"])]
    rows = [row("soup" if m in soups else "single", "models", m) for m in names]
    rows += [row("fusion", "fusion", method) for method in scores["fusion"]]
    rows += [row("qe", "qe", method) for method in scores.get("qe", {})]
    return rows + [row("rerank", "rerank", preset) for preset in scores["rerank"]]


def _notes(scores: dict, fusion_info: dict) -> list[str]:
    order = ", ".join(MODEL_NAMES.get(m, m) for m in fusion_info["models"])
    notes = [
        f"Final method of this run: `{scores['method']}` (mAP {100 * scores['mAP']:.2f}, Rank-1 "
        f"{100 * scores['rank1']:.2f}).",
        f"Fusion weights are in the order {order}; grid search best on valid: "
        f"{weights_label(fusion_info['grid_weights'])}.",
        f"Queries: {scores['num_queries']}; queries without a gallery positive: {scores['queries_without_positive']}.",
    ]
    for group, section in scores.get("classes", {}).items():
        notes.append(
            f"Final method on {group}: mAP {100 * section['mAP']:.2f}, Rank-1 {100 * section['rank1']:.2f} "
            f"({section['num_queries']} queries)."
        )
    if "heldout" in scores:
        held = scores["heldout"]
        notes.append(
            f"Test columns: the same models, weights and settings on the {held['split']} split, which no choice of "
            "this run saw "
            f"(best epochs and grid weights were picked on {scores['split']}); final method there: mAP "
            f"{100 * held['mAP']:.2f}, "
            f"Rank-1 {100 * held['rank1']:.2f} ({held['num_queries']} queries)."
        )
    if "challenge" in scores:
        ch = scores["challenge"]
        official = ch["official"]
        notes.append(
            f"Challenge columns: the challenge split (the leaderboard's), scored locally against its released labels; "
            f"final method there: mAP {100 * ch['mAP']:.2f}, Rank-1 {100 * ch['rank1']:.2f}; the official scorer on "
            f"`rankings/challenge.json`: mAP {100 * official['mAP']:.2f}, Rank-1 {100 * official['rank1']:.2f}."
        )
    return notes


def read_cmc(text: str, columns: list[str]) -> dict[str, np.ndarray]:
    """The named columns of the CMC CSV (rank, then one accuracy column per method) as (R,) arrays."""
    table = pd.read_csv(io.StringIO(text))
    return {name: table[name].to_numpy() for name in columns if name in table}


def read_histories(live_root: Path, models: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """``{model: {metric: (E,) array}}`` from dvclive's ``<live_root>/<model>/plots/metrics/*.tsv``."""
    histories = {}
    for model in models:
        folder = live_root / model / "plots" / "metrics"
        tables = {p.stem: pd.read_csv(p, sep="\t") for p in sorted(folder.glob("*.tsv"))}
        histories[model] = {name: t[name].to_numpy() for name, t in tables.items() if name in t}
    return histories


def write_report(inputs: ReportInputs, out_dir: str | Path, top_k: int, count: int, seed: int) -> list[TableRow]:
    """Write ``results.md``, ``methods.csv`` and the figures into ``out_dir``; returns the rows."""
    out = Path(out_dir)
    rows = table_rows(inputs.scores, inputs.fusion_info)
    write_text(out / "results.md", render_results(rows, inputs.dataset, _notes(inputs.scores, inputs.fusion_info)))
    write_text(out / "methods.csv", _methods_csv(rows))
    plot_method_bars(
        [r.method for r in rows],
        [r.scores["mAP"] for r in rows],
        [r.scores["rank1"] for r in rows],
        out / "figures" / "fig2_methods.png",
    )
    models = inputs.fusion_info["models"]
    curves = read_cmc(inputs.cmc_csv, [f"models_{m}" for m in models] + ["final"])
    plot_cmc({_cmc_label(name): values for name, values in curves.items()}, out / "figures" / "fig3_cmc.png")
    picks = pick_retrievals(inputs.ranking, inputs.index, top_k, count, seed)
    for name, chosen, title in (
        ("fig4_successes", picks.successes, "Rank-1 correct"),
        ("fig5_failures", picks.failures, "Rank-1 wrong"),
    ):
        if chosen.query_paths:
            plot_retrievals(
                chosen.query_paths, chosen.ranked_paths, chosen.matches, title, out / "figures" / f"{name}.png"
            )
    plot_training_curves(inputs.histories, out / "figures" / "training_curves.png")
    return rows


def _cmc_label(column: str) -> str:
    return MODEL_NAMES.get(column.removeprefix("models_"), "final method")


def _methods_csv(rows: list[TableRow]) -> str:
    keys = [key for key, _ in METRIC_COLUMNS]
    lines = ["method,group," + ",".join(keys)]
    lines += [f'"{r.method}",{r.group},' + ",".join(f"{r.scores[k]:.6f}" for k in keys) for r in rows]
    return "\n".join(lines) + "\n"
