"""Deployed = scored: a finished run's models fed as BoxMOT feeds them, as the run exported them and
at each supersampling factor k (issue 22, params ``export.supersample``).

The anchor is the DAG's single-model row: ``artifacts/features/<model>/valid.h5`` scored with the
official protocol. Against it, on every valid crop with BoxMOT's preprocessing
(``soccerreid.export.tracker_features``: the BGR crop, ``cv2.resize`` bilinear without
antialiasing, ImageNet normalisation):

- the run's own ``tracker.onnx`` at its sidecar's input size (what its ``deployed.json`` holds);
- the model's tracker graph at k = 1, exported here as ONNX, fed k times the input size and, for
  k > 1, downsized by torch's antialiased bilinear in front of it: what ``export.supersample: k``
  exports (the graph does that downsizing inside; k = 1 is the tracker at the input size).

    python benchmarks/deployed.py --run . --models osnet_ain resnet50_ibn dinov2_lora

Prints, per model, the deployed mAP and Rank-1, mAP minus the DAG's in points, and the per-crop
cosine to the DAG's features (mean, min); ends with one JSON line
``{"run": ..., "models": {"osnet_ain": {"dag": {...}, "export": {...}, "k1": {...}, ...}}}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from soccerreid.config import load_params
from soccerreid.data.index import read_index
from soccerreid.evaluation import score_blocks
from soccerreid.export import TRACKER, export_tracker_file, load_runner, read_bgr, tracker_features
from soccerreid.features import load_model
from soccerreid.retrieval import features_to_blocks
from soccerreid.schema import FeatureSet, read_features

FACTORS = (1, 2, 3, 4)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("."), help="a repo after dvc repro (its export@ stages)")
    parser.add_argument("--models", nargs="+", default=["osnet_ain", "resnet50_ibn", "dinov2_lora"])
    parser.add_argument("--factors", type=int, nargs="+", default=list(FACTORS), help="k: 1 is today's tracker")
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


def measure(run_dir: Path, model: str, factors: list[int], tmp: Path) -> dict[str, dict]:
    """``{"dag": scores, "export": ..., "k<k>": scores + delta and cosines}`` of one trained model on valid."""
    folder = run_dir / "artifacts" / "export" / model
    params = load_params(run_dir / "params.yaml")
    cfg, metric = params.extraction(model), params.distances.metric
    embedder = load_model(run_dir / "artifacts" / "models" / model / "model.pt").configure(**vars(cfg))
    dag = read_features(run_dir / "artifacts" / "features" / model / "valid.h5")
    paths = read_index(run_dir / "data" / "index", "valid").set_index(["role", "bbox_idx"])["path"]
    files = [run_dir / paths[key] for key in zip(dag.role.tolist(), dag.bbox_idx.tolist(), strict=True)]
    crops = [read_bgr(file) for file in files]
    export_tracker_file(embedder, "onnx", tmp / f"{model}.onnx", files[:8], model)
    plain = load_runner("onnx", tmp / f"{model}.onnx")
    size = json.loads((folder / f"{TRACKER['onnx']}.metadata.json").read_text())["model_kwargs"]["img_size"]
    runs = {"export": (load_runner("onnx", folder / TRACKER["onnx"]), *size)}
    for k in factors:
        runs[f"k{k}"] = (supersampled(plain, cfg.height, cfg.width, k), cfg.height * k, cfg.width * k)
    rows = {"dag": score(dag, dag.features, metric)}
    for name, (run, height, width) in runs.items():
        features = tracker_features(run, crops, height, width)
        cosine = (features * dag.features).sum(axis=1)
        scores = score(dag, features, metric)
        rows[name] = {
            **scores,
            "input": [height, width],
            "delta_points": round(100 * (scores["mAP"] - rows["dag"]["mAP"]), 2),
            "cosine_mean": round(float(cosine.mean()), 4),
            "cosine_min": round(float(cosine.min()), 4),
        }
    return rows


def main() -> None:
    args = parse()
    print(f"{'model':<14}{'features':<30}{'mAP':>8}{'Rank-1':>8}{'- DAG':>8}{'cos mean':>10}{'cos min':>9}")
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            rows = measure(args.run, model, args.factors, Path(tmp))
            dag = rows["dag"]
            print(f"{model:<14}{'DAG (anchor)':<30}{dag['mAP']:>8.4f}{dag['rank1']:>8.4f}{0:>8.2f}{'1':>10}{'1':>9}")
            for name, r in rows.items():
                if name == "dag":
                    continue
                k = name.removeprefix("k")
                what = {"export": "the run's tracker.onnx", "k1": "tracker, input size"}.get(
                    name, f"tracker {k}x, AA down"
                )
                label = f"{what} {r['input'][0]}x{r['input'][1]}"
                print(
                    f"{model:<14}{label:<30}{r['mAP']:>8.4f}{r['rank1']:>8.4f}{r['delta_points']:>+8.2f}"
                    f"{r['cosine_mean']:>10.4f}{r['cosine_min']:>9.3f}"
                )
            figures[model] = rows
    print(json.dumps({"run": str(args.run), "models": figures}))


if __name__ == "__main__":
    main()
