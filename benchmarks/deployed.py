"""Deployed = scored: a finished run's tracker exports fed as BoxMOT feeds them, at the input size
and supersampled (issue 22).

The anchor is the DAG's single-model row: ``artifacts/features/<model>/valid.h5`` scored with the
official protocol. Against it, for each exported model, ``tracker.onnx`` on every valid crop with
BoxMOT's preprocessing (``soccerreid.export.tracker_features``: the BGR crop, ``cv2.resize``
bilinear without antialiasing, ImageNet normalisation) at k times the sidecar's input size, then,
for k > 1, torch's antialiased bilinear downsizing to the input size in front of the graph: what
the export would do if its sidecar asked the tracker for k times the size (a candidate fix for
the resize kernel; k = 1 is what a tracker computes today).

    python benchmarks/deployed.py --run . --models osnet_ain resnet50_ibn dinov2_lora

Prints, per model and k, the deployed mAP and Rank-1, mAP minus the DAG's in points, and the
per-crop cosine to the DAG's features (mean, min); ends with one JSON line
``{"run": ..., "models": {"osnet_ain": {"dag": {...}, "k1": {...}, ...}}}``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from soccerreid.data.index import read_index
from soccerreid.evaluation import score_blocks
from soccerreid.export import TRACKER, load_runner, read_bgr, tracker_features
from soccerreid.retrieval import features_to_blocks
from soccerreid.schema import FeatureSet, read_features

FACTORS = (1, 2, 3, 4)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("."), help="a repo after dvc repro (its export@ stages)")
    parser.add_argument("--models", nargs="+", default=["osnet_ain", "resnet50_ibn", "dinov2_lora"])
    parser.add_argument("--factors", type=int, nargs="+", default=list(FACTORS), help="k: 1 is today's tracker")
    parser.add_argument("--metric", default="cosine", help="distances.metric of the run")
    return parser.parse_args()


def supersampled(run, height: int, width: int, factor: int):
    """``run`` with an antialiased bilinear downsizing of its (B, 3, factor*H, factor*W) input to (H, W) in front."""
    if factor == 1:
        return run

    def graph(x: np.ndarray) -> np.ndarray:
        small = F.interpolate(torch.from_numpy(x), size=(height, width), mode="bilinear", antialias=True)
        return run(np.ascontiguousarray(small.numpy()))

    return graph


def score(dag: FeatureSet, features: np.ndarray, metric: str) -> dict[str, float]:
    """mAP and Rank-1 (official protocol) of ``dag``'s rows with ``features`` (N, D) in their place."""
    scores = score_blocks(features_to_blocks(replace(dag, features=features, normalized=True), metric))
    return {"mAP": round(scores["mAP"], 4), "rank1": round(scores["rank1"], 4)}


def measure(run_dir: Path, model: str, factors: list[int], metric: str) -> dict[str, dict]:
    """``{"dag": scores, "k<k>": scores + delta and cosines}`` of one exported model on valid."""
    folder = run_dir / "artifacts" / "export" / model
    height, width = json.loads((folder / f"{TRACKER['onnx']}.metadata.json").read_text())["model_kwargs"]["img_size"]
    run = load_runner("onnx", folder / TRACKER["onnx"])
    dag = read_features(run_dir / "artifacts" / "features" / model / "valid.h5")
    paths = read_index(run_dir / "data" / "index", "valid").set_index(["role", "bbox_idx"])["path"]
    crops = [read_bgr(run_dir / paths[key]) for key in zip(dag.role.tolist(), dag.bbox_idx.tolist(), strict=True)]
    rows = {"dag": score(dag, dag.features, metric)}
    for k in factors:
        features = tracker_features(supersampled(run, height, width, k), crops, height * k, width * k)
        cosine = (features * dag.features).sum(axis=1)
        scores = score(dag, features, metric)
        rows[f"k{k}"] = {
            **scores,
            "delta_points": round(100 * (scores["mAP"] - rows["dag"]["mAP"]), 2),
            "cosine_mean": round(float(cosine.mean()), 4),
            "cosine_min": round(float(cosine.min()), 4),
        }
    return rows


def main() -> None:
    args = parse()
    print(f"{'model':<14}{'features':<26}{'mAP':>8}{'Rank-1':>8}{'- DAG':>8}{'cos mean':>10}{'cos min':>9}")
    figures = {}
    for model in args.models:
        rows = measure(args.run, model, args.factors, args.metric)
        dag = rows["dag"]
        print(f"{model:<14}{'DAG (anchor)':<26}{dag['mAP']:>8.4f}{dag['rank1']:>8.4f}{0:>8.2f}{'1':>10}{'1':>9}")
        for k in args.factors:
            r = rows[f"k{k}"]
            name = "tracker, input size" if k == 1 else f"tracker at {k}x, AA down"
            print(
                f"{model:<14}{name:<26}{r['mAP']:>8.4f}{r['rank1']:>8.4f}{r['delta_points']:>+8.2f}"
                f"{r['cosine_mean']:>10.4f}{r['cosine_min']:>9.3f}"
            )
        figures[model] = rows
    print(json.dumps({"run": str(args.run), "models": figures}))


if __name__ == "__main__":
    main()
