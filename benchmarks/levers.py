"""The lever ablation's table (docs/levers.md), from the queued experiments of a repo on presets/levers.yaml.

Each experiment is named ``<lever>-s<seed>`` (``base`` is the baseline); its
``metrics/scores.json`` holds the model's scores on valid, test and challenge, the three query
expansion rows and the soup rows. Prints, per lever, the mean and standard deviation over seeds of
mAP and Rank-1, and the difference of mean mAP to the row named in the ``vs`` column: the
baseline, except for a soup, which is compared with the mean of its own members. The query
expansions are rows of the baseline's runs. It reruns nothing.

    cd <repo> && python benchmarks/levers.py        # after the docs/levers.md queue has run

Last line: one JSON object ``{lever: {split: {"mAP": [mean, sd], "rank1": [mean, sd]}}}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from collections import defaultdict

SECTIONS = {"valid": None, "test": "heldout", "challenge": "challenge"}  # column -> scores.json section


def experiments(repo: str) -> dict[str, tuple[dict, dict]]:
    """``{name: (scores.json, its soups)}`` of every finished experiment of ``repo`` (``dvc exp show
    --json``; DVC keeps the numbers of a metrics file only, so the soups come from its params)."""
    shown = json.loads(
        subprocess.run(["dvc", "exp", "show", "--json"], cwd=repo, check=True, capture_output=True, text=True).stdout
    )
    found = {}
    for base in shown:
        for exp in base.get("experiments") or []:
            rev, data = exp["revs"][0], exp["revs"][0].get("data") or {}
            scores = (data.get("metrics") or {}).get("metrics/scores.json", {}).get("data")
            soups = (data.get("params") or {}).get("params.yaml", {}).get("data", {}).get("soups") or {}
            if rev.get("name") and scores and (exp.get("executor") or {}).get("state", "success") == "success":
                found[rev["name"]] = (scores, {name: soup["members"] for name, soup in soups.items()})
    return found


def section(scores: dict, split: str) -> dict:
    return scores if SECTIONS[split] is None else scores[SECTIONS[split]]


def rows(found: dict[str, tuple[dict, dict]]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """``{row: {split: [(mAP, rank1) per run]}}`` for every lever, query expansion and soup row."""
    table: dict = defaultdict(lambda: defaultdict(list))
    for name, (scores, soups) in sorted(found.items()):
        lever = name.rsplit("-s", 1)[0]
        for split in SECTIONS:
            part = section(scores, split)
            table[lever][split].append((part["mAP"], part["rank1"]))
            if lever == "base":
                for method, qe in part["qe"].items():
                    table[f"base + {method}"][split].append((qe["mAP"], qe["rank1"]))
                for soup, members in soups.items():
                    table[f"{soup} members"][split] = [
                        (part["models"][m]["mAP"], part["models"][m]["rank1"]) for m in members
                    ]
                    table[soup][split] = [(part["models"][soup]["mAP"], part["models"][soup]["rank1"])]
    return table


def summarize(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def reference(table: dict, row: str) -> str:
    """The row that ``row``'s mAP difference is taken against: a soup's own members, else ``base``."""
    return f"{row} members" if f"{row} members" in table else "base"


def delta(table: dict, row: str, split: str) -> float:
    """Mean mAP of ``row`` minus that of its :func:`reference` row, on ``split``."""
    mean = {name: summarize([m for m, _ in table[name][split]])[0] for name in (row, reference(table, row))}
    return mean[row] - mean[reference(table, row)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=".")
    args = parser.parse_args()
    table = rows(experiments(args.repo))
    out = {}
    print("| lever | runs | vs | " + " | ".join(f"{s} mAP | {s} Rank-1 | {s} dmAP" for s in SECTIONS) + " |")
    print("|---|---|---|" + "---|---|---|" * len(SECTIONS))
    for lever, splits in table.items():
        cells, out[lever] = [], {}
        for split in SECTIONS:
            mAP, rank1 = summarize([m for m, _ in splits[split]]), summarize([r for _, r in splits[split]])
            out[lever][split] = {"mAP": [round(v, 4) for v in mAP], "rank1": [round(v, 4) for v in rank1]}
            cells += [
                f"{100 * mAP[0]:.2f} ± {100 * mAP[1]:.2f}",
                f"{100 * rank1[0]:.2f} ± {100 * rank1[1]:.2f}",
                f"{100 * delta(table, lever, split):+.2f}",
            ]
        print(f"| {lever} | {len(splits['valid'])} | {reference(table, lever)} | " + " | ".join(cells) + " |")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
