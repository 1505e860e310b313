"""The model card of an export: its files, input contracts, BoxMOT usage, scores, and lines of onnxruntime.

Examples::

    text = model_card("osnet_ain", embedder, {"tracker.onnx": 2e-7}, "32 crops of valid.csv")
"""

from __future__ import annotations

from collections.abc import Mapping

from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD
from soccerreid.export._boxmot import tracker_size
from soccerreid.export._formats import INPUT_NAME, OUTPUT_NAME, TOLERANCE
from soccerreid.features import Embedder

BOXMOT_PINS = "boxmot==25.0.0 onnxruntime==1.24.3 lapx==0.11.1 filterpy==1.4.5"


def model_card(
    name: str,
    embedder: Embedder,
    diffs: Mapping[str, float],
    crops: str,
    deployed: Mapping | None = None,
) -> str:
    """Markdown model card of ``name``'s exported files; ``diffs`` maps each file name to its checked max
    abs diff; ``deployed`` is :func:`~soccerreid.export._tracker.deployed_scores` of ``tracker.onnx``, if run.
    The files' input is ``embedder.config.supersample`` times the model's size; ``embedder.config.resize``
    says whether the DAG embedded crops as a tracker feeds them."""
    info = embedder.info
    lora = (
        f", LoRA r={info.lora.r} alpha={info.lora.alpha:g} on {'+'.join(info.lora.targets)} (merged)"
        if info.lora
        else ""
    )
    sections = [
        f"# {name}: {info.arch} {info.variant} ({info.weights_id})",
        f"Exported by soccerreid {info.soccerreid_version} from its model file. Network: {info.arch} {info.variant}, "
        f"neck {info.neck}{lora}; feature dimension **{info.embed_dim}**.",
        _files(diffs, crops),
        _boxmot(embedder, name),
        _contract(embedder),
        _scores(info.training, deployed),
        _snippet(embedder),
    ]
    return "\n\n".join(sections) + "\n"


def _files(diffs: Mapping[str, float], crops: str) -> str:
    rows = [f"| `{file}` | {_describe(file)} | {diff:.2e} |" for file, diff in diffs.items()]
    return "\n".join(
        [
            "## Files",
            "| file | what | max abs diff to the torch model |",
            "|---|---|---:|",
            *rows,
            "",
            "Both are **tracker-ready**: ImageNet-normalised crops in, the DAG's feature out (flip averaging and L2 "
            "normalisation inside the graph, the model's own mean/std folded in), each with BoxMOT's sidecar "
            "`<file>.metadata.json` giving the input size. (`soccerreid export <model file> --format onnx` writes the "
            "plain network instead, for a pipeline that flips or normalises itself.)",
            f"Each file was checked before it was written: its features, pre- and post-processed as below, "
            f"against the torch model's on {crops}, float32 on CPU; at most {TOLERANCE:g} is allowed.",
        ]
    )


def _describe(file: str) -> str:
    if file.endswith(".onnx"):
        return "tracker-ready ONNX (torch.onnx dynamo exporter), dynamic batch, weights inline; metadata `soccerreid.*`"
    return "tracker-ready TorchScript (`torch.jit.trace`), dynamic batch; metadata in the extra file `soccerreid.json`"


def _boxmot(embedder: Embedder, name: str) -> str:
    height, width = tracker_size(embedder, embedder.config.supersample)
    return "\n".join(
        [
            "## Use it in BoxMOT 25",
            "BoxMOT loads `tracker.onnx` or `tracker.torchscript` by path alone (the suffix picks the runtime; "
            f"the sidecar gives the input size {height} x {width}):",
            "",
            "```bash",
            "boxmot track --source video.mp4 --tracker botsort --reid tracker.onnx",
            "```",
            "",
            "```python",
            "from pathlib import Path",
            "from boxmot import BotSort",
            'tracker = BotSort(reid_weights=Path("tracker.onnx"), device="cpu", half=False)',
            "tracks = tracker.update(detections, frame)  # detections (N, 6) x1 y1 x2 y2 conf cls; frame BGR",
            "```",
            "",
            f"What BoxMOT does differently from the DAG: {_resize(embedder, name)} (the deployed score below "
            "measures it); it normalises with ImageNet's mean/std (folded into the graph) and never flips (done in the "
            "graph). Its pins clash with a training environment: its ONNX backend wants "
            "exactly onnxruntime 1.24.3 and pip-installs it at run time otherwise, and it caps pandas below 3. Keep "
            f"it in its own folder: `pip install --no-deps --target .boxmot {BOXMOT_PINS}`, then run with "
            "`PYTHONPATH=.boxmot`.",
        ]
    )


def _resize(embedder: Embedder, name: str) -> str:
    cfg, supersample = embedder.config, embedder.config.supersample
    if cfg.resize == "tracker":
        return (
            "nothing that changes the feature: the DAG embedded every crop as BoxMOT feeds this file "
            f"(params `extract.{name}.resize: tracker`: `cv2.resize` bilinear to {supersample * cfg.height} x "
            f"{supersample * cfg.width}, then the graph's own downsizing), so the tracker's feature is the one scored"
        )
    if supersample == 1:
        return (
            "it resizes the BGR crop with `cv2.resize` (bilinear, no antialiasing; the DAG uses PIL's antialiased "
            "bilinear), so downscaled crops differ slightly"
        )
    return (
        "it resizes the BGR crop with `cv2.resize` (bilinear, no antialiasing; the DAG uses PIL's antialiased "
        f"bilinear), so the sidecar asks for {supersample} times the model's input and the graph downsizes to "
        f"{cfg.height} x {cfg.width} with antialiased bilinear (params `extract.{name}.supersample`): only crops over "
        f"{supersample} times the input alias, and enlarged crops are slightly blurred"
    )


def _contract(embedder: Embedder) -> str:
    info, cfg = embedder.info, embedder.config
    supersample = cfg.supersample
    height, width = tracker_size(embedder, supersample)
    down = (
        f" The graph downsizes it to the network's {cfg.height} x {cfg.width} (antialiased bilinear)."
        if supersample > 1
        else ""
    )
    resize = (
        "`cv2.resize` bilinear (`INTER_LINEAR`, no antialiasing: what the DAG scored)"
        if cfg.resize == "tracker"
        else "PIL bilinear (antialiased, as torchvision's `Resize` on a PIL image"
        + (": what the DAG scored)" if supersample == 1 else ")")
    )
    return "\n".join(
        [
            "## Input and output",
            f"- Input `{INPUT_NAME}`: float32 (B, 3, {height}, {width}), any batch size B. Per crop: RGB; "
            f"resize to {height} x {width} (height x width) with {resize}; scale to [0, 1]; subtract ImageNet's mean "
            f"{list(IMAGENET_MEAN)} and divide by its std {list(IMAGENET_STD)} per channel; CHW.{down}",
            f"- Output `{OUTPUT_NAME}`: float32 (B, {info.embed_dim}), the DAG's feature (flip "
            f"{str(cfg.flip).lower()}, normalize {str(cfg.normalize).lower()}, inside the graph; the model's own "
            f"mean {list(info.mean)} and std {list(info.std)} folded in). Compare features by cosine distance, each "
            "query against its own action's gallery.",
        ]
    )


def _scores(training: Mapping, deployed: Mapping | None) -> str:
    table = _deployed(deployed) if deployed else []
    if not training:
        return "\n".join(["## Scores", "The model file carries no training record.", *table])
    phases = training.get("phases") or [{}]
    final = phases[-1]
    size = f"{final.get('height')} x {final.get('width')}" if final else "?"
    return "\n".join(
        [
            "## Scores",
            f"- Validation mAP while training: **{training['val_mAP']:.4f}** at best epoch {training['best_epoch']} of "
            f"the final phase ({training.get('val_queries', '?')} valid queries, input {size}, no flip; the untrained "
            f"model scored {training.get('untrained_val_mAP', float('nan')):.4f}).",
            "- The SoccerNet-protocol score on a whole split, checked by the official scorer: "
            "`soccerreid evaluate <model file> --split valid` (the DAG's single-model row of `metrics/scores.json`).",
            *table,
        ]
    )


def _deployed(deployed: Mapping) -> list[str]:
    dag, ours, spread = deployed["dag"], deployed["deployed"], deployed["cosine_between_crops"]
    scale = (
        f" For scale, the DAG's features of two different crops have a mean cosine of {spread:.4f}; whether the "
        "tracker's features rank as the DAG's do is what the mAP above says."
        if spread is not None
        else ""
    )
    return [
        "",
        f"Deployed = scored, on valid ({dag['num_queries']} queries, SoccerNet protocol): the DAG's features "
        "against what a tracker computes with `tracker.onnx` (BGR crop, `cv2.resize` bilinear, ImageNet "
        "normalisation, L2; `soccerreid.export.tracker_features`, tested equal to BoxMOT's own encoder).",
        "",
        "| features | mAP | Rank-1 |",
        "|---|---:|---:|",
        f"| DAG (extract@, single-model row) | {dag['mAP']:.4f} | {dag['rank1']:.4f} |",
        f"| tracker (`tracker.onnx`, BoxMOT preprocessing) | {ours['mAP']:.4f} | {ours['rank1']:.4f} |",
        "",
        f"Per crop, cosine of the tracker's feature to the DAG's: mean {deployed['cosine_mean']:.4f}, "
        f"min {deployed['cosine_min']:.4f} over {deployed['crops']} crops.{scale}",
    ]


def _snippet(embedder: Embedder) -> str:
    info, tracker_view = embedder.info, embedder.config.resize == "tracker"
    supersample = embedder.config.supersample
    height, width = tracker_size(embedder, supersample)
    read = (
        [
            "import cv2, numpy as np, onnxruntime as ort",
            'session = ort.InferenceSession("tracker.onnx")',
            f'x = cv2.resize(cv2.imread("crop.png"), ({width}, {height}), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]',
        ]
        if tracker_view
        else [
            "import numpy as np, onnxruntime as ort",
            "from PIL import Image",
            'session = ort.InferenceSession("tracker.onnx")',
            f'x = Image.open("crop.png").convert("RGB").resize(({width}, {height}), Image.BILINEAR)',
        ]
    )
    lines = [
        *read,
        f"x = (np.asarray(x, np.float32) / 255 - np.float32({list(IMAGENET_MEAN)})) / np.float32({list(IMAGENET_STD)})",
        "x = x.transpose(2, 0, 1)[None].astype(np.float32)",
        f'f = session.run(None, {{"{INPUT_NAME}": x}})[0]',
    ]
    return "\n".join(
        [
            "## Load it with onnxruntime",
            f"`f` is the (1, {info.embed_dim}) feature of one crop, "
            + (
                "as the DAG computed it:"
                if supersample == 1 or tracker_view
                else "close to the DAG's (the graph downsizes a larger resize):"
            ),
            "",
            "```python",
            *lines,
            "```",
        ]
    )
