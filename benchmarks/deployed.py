"""Deployed = scored: a finished run's models fed as BoxMOT feeds them, as the run exported them and
at each supersampling factor k (issue 22, params ``extract.<model>.supersample``).

The anchor is the DAG's single-model row: ``artifacts/features/<model>/valid.h5`` scored with the
official protocol (embedded with the run's ``extract.<model>.resize``: ``pil``, torchreid's recipe,
or ``tracker``, as BoxMOT feeds the export). Against it, on every valid crop with BoxMOT's preprocessing
(``soccerreid.export.tracker_features``: the BGR crop, ``cv2.resize`` bilinear without
antialiasing, ImageNet normalisation):

- the run's own ``tracker.onnx`` at its sidecar's input size (what its ``deployed.json`` holds);
- the model's tracker graph at k = 1, exported here as ONNX, fed k times the input size and, for
  k > 1, downsized by torch's antialiased bilinear in front of it: what ``supersample: k``
  exports (the graph does that downsizing inside; k = 1 is the tracker at the input size);
- for a ``resize: tracker`` run, torchreid's recipe (``resize: pil``): the features the DAG would
  score without the tracker view. The rows below then describe that recipe, against those features;
- the noise floor: PIL's preprocessing (PIL's antialiased resize) with a fifth of the resized
  crop's values moved by one level, which is how far cv2's bilinear is from PIL's on enlarged crops.
  A model whose cosine here is below 0.99 cannot reach 0.99 through any resize but PIL's own;
- before the neck: the backbone's feature (before the BNNeck, with the DAG's flip and L2) as the
  DAG's feature, its mAP, and the mAP and cosine of the same feature at the export's input size;
  and the mean cosine between two crops' features, before and after the neck.

    python benchmarks/deployed.py --run . --models osnet_ain resnet50_ibn dinov2_lora

Prints, per model, the deployed mAP and Rank-1, mAP minus the DAG's in points, and the per-crop
cosine to the DAG's features (mean, min; and the mean over the crops a tracker enlarges, no larger
than the input in either side, the case of most real SoccerNet crops, and over those it shrinks);
ends with one JSON line
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
from PIL import Image

from soccerreid.config import load_params
from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD
from soccerreid.data.index import read_index
from soccerreid.evaluation import score_blocks
from soccerreid.export import (
    TRACKER,
    TrackerGraph,
    export_tracker_file,
    load_runner,
    mean_pair_cosine,
    read_bgr,
    tracker_features,
)
from soccerreid.features import Embedder, load_model, make_loader
from soccerreid.retrieval import features_to_blocks
from soccerreid.schema import FeatureSet, read_features

FACTORS = (1, 2, 3, 4)
NOISE_SHARE = 0.2  # of the resized crop's values moved by one level in the noise-floor row


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
    enlarged = np.array([crop.shape[0] <= cfg.height and crop.shape[1] <= cfg.width for crop in crops])
    export_tracker_file(embedder, "onnx", tmp / f"{model}.onnx", files[:8], model)
    plain = load_runner("onnx", tmp / f"{model}.onnx")
    size = json.loads((folder / f"{TRACKER['onnx']}.metadata.json").read_text())["model_kwargs"]["img_size"]
    runs = {"export": (load_runner("onnx", folder / TRACKER["onnx"]), *size)}
    for k in factors:
        runs[f"k{k}"] = (supersampled(plain, cfg.height, cfg.width, k), cfg.height * k, cfg.width * k)
    rows = {"dag": score(dag, dag.features, metric), "enlarged_share": round(float(enlarged.mean()), 4)}
    for name, (run, height, width) in runs.items():
        features = tracker_features(run, crops, height, width)
        rows[name] = {**compare(dag, features, enlarged, metric, rows["dag"]["mAP"]), "input": [height, width]}
    pil, reference = embedder.configure(resize="pil"), dag
    if cfg.resize == "tracker":
        reference = replace(dag, features=pil.embed(files))
        rows["pil"] = {
            **compare(dag, reference.features, enlarged, metric, rows["dag"]["mAP"]),
            "input": [cfg.height, cfg.width],
        }
    anchor = score(reference, reference.features, metric)["mAP"]
    return rows | diagnostics(pil, reference, (files, crops, enlarged), size, metric, anchor)


def diagnostics(
    embedder: Embedder, dag: FeatureSet, valid: tuple, size: list[int], metric: str, anchor_map: float
) -> dict[str, dict]:
    """The rows that say where a gap to the DAG's feature sits: the noise floor, the backbone's feature
    (before the neck) as the DAG's and at the export's input ``size``, and the spread of both features.
    ``valid`` is (files, BGR crops, enlarged mask) in the DAG's row order; ``anchor_map`` the DAG's mAP."""
    files, crops, enlarged = valid
    cfg = embedder.config
    noisy = embedder.embed(rounding_noise(crops, cfg.height, cfg.width, np.random.default_rng(0)))
    rows = {"noise": {**compare(dag, noisy, enlarged, metric, anchor_map), "input": [cfg.height, cfg.width]}}
    neck = before_neck(embedder, files, crops, size)
    scores = score(dag, neck["dag"], metric)  # no cosine: the DAG's feature is another space
    rows["neck_dag"] = {**scores, "delta_points": round(100 * (scores["mAP"] - anchor_map), 2)}
    rows["neck_export"] = compare(replace(dag, features=neck["dag"]), neck["tracker"], enlarged, metric, scores["mAP"])
    apart = {"before_neck": mean_pair_cosine(neck["dag"]), "after_neck": mean_pair_cosine(dag.features)}
    rows["spread"] = {name: round(value, 4) for name, value in apart.items()}
    return rows


def before_neck(embedder: Embedder, files: list[Path], crops: list[np.ndarray], size: list[int]) -> dict:
    """The backbone's feature (before the BNNeck) as the DAG's feature would be, with the DAG's flip and L2:
    ``{"dag": (N, D) of PIL's resize, "tracker": (N, D) as a tracker fed ``size`` (h, w) gets it}``,
    through the export's :class:`TrackerGraph` with the backbone in place of the network."""
    cfg, info = embedder.config, embedder.info
    graph = TrackerGraph(embedder.network.backbone, info.mean, info.std, (cfg.flip, True), (cfg.height, cfg.width))

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return graph(torch.from_numpy(x)).numpy()

    loader = make_loader(files, replace(cfg, workers=0), IMAGENET_MEAN, IMAGENET_STD)
    dag = np.concatenate([run(batch.numpy()) for batch in loader])
    return {"dag": dag, "tracker": tracker_features(run, crops, *size)}


def rounding_noise(crops: list[np.ndarray], height: int, width: int, rng: np.random.Generator) -> list[np.ndarray]:
    """PIL's resize of BGR ``crops`` (torchreid's recipe, antialiased bilinear, to (height, width, 3) uint8 RGB), with
    NOISE_SHARE of the values moved one level up or down: how far cv2 and PIL are apart on enlarged crops
    (never more than one level, a fifth of the values on the synthetic crops)."""
    noisy = []
    for crop in crops:
        pixels = np.asarray(Image.fromarray(crop[:, :, ::-1]).resize((width, height), Image.BILINEAR), np.int16)
        step = (rng.random(pixels.shape) < NOISE_SHARE) * rng.choice(np.array([-1, 1], np.int16), pixels.shape)
        noisy.append(np.clip(pixels + step, 0, 255).astype(np.uint8))
    return noisy


def compare(dag: FeatureSet, features: np.ndarray, enlarged: np.ndarray, metric: str, anchor: float) -> dict:
    """Scores of ``features`` (N, D, unit rows) in place of the DAG's, and their per-crop cosines to the DAG's."""
    cosine = (features * dag.features).sum(axis=1)
    scores = score(dag, features, metric)
    return {
        **scores,
        "delta_points": round(100 * (scores["mAP"] - anchor), 2),
        "cosine_mean": round(float(cosine.mean()), 4),
        "cosine_min": round(float(cosine.min()), 4),
        "cosine_enlarged": _mean(cosine[enlarged]),
        "cosine_shrunk": _mean(cosine[~enlarged]),
    }


def _mean(values: np.ndarray) -> float | None:
    return round(float(values.mean()), 4) if len(values) else None


def _cell(value: float | None, width: int) -> str:
    return f"{value:>{width}.4f}" if value is not None else f"{'-':>{width}}"


def main() -> None:
    args = parse()
    print(
        f"{'model':<14}{'features':<36}{'mAP':>8}{'Rank-1':>8}{'- DAG':>8}{'cos mean':>10}{'cos min':>9}"
        f"{'enlarged':>10}{'shrunk':>9}"
    )
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            rows = measure(args.run, model, args.factors, Path(tmp))
            dag, share = rows["dag"], rows["enlarged_share"]
            print(
                f"{model:<14}{'DAG (anchor)':<36}{dag['mAP']:>8.4f}{dag['rank1']:>8.4f}{0:>8.2f}{'1':>10}{'1':>9}"
                f"{f'{share:.0%} of crops':>19}"
            )
            for name, r in rows.items():
                if name in ("dag", "enlarged_share", "neck_dag", "neck_export", "spread"):
                    continue
                k = name.removeprefix("k")
                what = {
                    "export": "the run's tracker.onnx",
                    "k1": "tracker, input size",
                    "noise": "PIL's resize, 1-level noise",
                    "pil": "resize: pil (torchreid)",
                }.get(name, f"tracker {k}x, AA down")
                label = f"{what} {r['input'][0]}x{r['input'][1]}"
                print(
                    f"{model:<14}{label:<36}{r['mAP']:>8.4f}{r['rank1']:>8.4f}{r['delta_points']:>+8.2f}"
                    f"{r['cosine_mean']:>10.4f}{r['cosine_min']:>9.3f}"
                    f"{_cell(r['cosine_enlarged'], 10)}{_cell(r['cosine_shrunk'], 9)}"
                )
            own, deployed = rows["neck_dag"], rows["neck_export"]
            print(
                f"{model:<14}before the neck: PIL's resize mAP {own['mAP']:.4f} ({own['delta_points']:+.2f}); "
                f"the export's input mAP {deployed['mAP']:.4f} ({deployed['delta_points']:+.2f} against it), "
                f"cosine to it {deployed['cosine_mean']:.4f} (min {deployed['cosine_min']:.3f})"
            )
            apart = rows["spread"]
            print(
                f"{model:<14}two crops' features: mean cosine {apart['after_neck']:.4f} (PIL's, after it), "
                f"{apart['before_neck']:.4f} before the neck"
            )
            figures[model] = rows
    print(json.dumps({"run": str(args.run), "models": figures}))


if __name__ == "__main__":
    main()
