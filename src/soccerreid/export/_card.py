"""The model card of an export: input contract, output, scores, and five lines of onnxruntime.

Examples::

    text = model_card("osnet_ain", embedder, {"onnx": 3.0e-7, "torchscript": 0.0}, "32 crops of data/index/valid.csv")
"""

from __future__ import annotations

from collections.abc import Mapping

from soccerreid.export._formats import INPUT_NAME, OUTPUT_NAME, SUFFIXES, TOLERANCE
from soccerreid.features import Embedder


def model_card(name: str, embedder: Embedder, diffs: Mapping[str, float], crops: str) -> str:
    """Markdown model card of ``name``'s exported files; ``diffs`` maps each format to its checked max abs diff."""
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
        _contract(embedder),
        _scores(info.training),
        _snippet(embedder),
    ]
    return "\n\n".join(sections) + "\n"


def _files(diffs: Mapping[str, float], crops: str) -> str:
    rows = [f"| `model{SUFFIXES[fmt]}` | {_describe(fmt)} | {diff:.2e} |" for fmt, diff in diffs.items()]
    return "\n".join(
        [
            "## Files",
            "| file | what | max abs diff to the torch model |",
            "|---|---|---:|",
            *rows,
            "",
            f"Each file was checked before it was written: its features, pre- and post-processed as below, "
            f"against the torch model's on {crops}, float32 on CPU; at most {TOLERANCE:g} is allowed.",
        ]
    )


def _describe(fmt: str) -> str:
    if fmt == "onnx":
        return "ONNX (torch.onnx dynamo exporter), dynamic batch, weights inline; metadata `soccerreid.*`"
    return "TorchScript (`torch.jit.trace`), dynamic batch; metadata in the extra file `soccerreid.json`"


def _contract(embedder: Embedder) -> str:
    info, cfg = embedder.info, embedder.config
    steps = ["average with the output of the horizontally mirrored input"] if cfg.flip else []
    steps += ["L2-normalise each row"] if cfg.normalize else []
    post = "; then ".join(steps) if steps else "none (use the raw output)"
    return "\n".join(
        [
            "## Input and output",
            f"- Input `{INPUT_NAME}`: float32 (B, 3, {cfg.height}, {cfg.width}), any batch size B. Per crop: RGB; "
            "resize to "
            f"{cfg.height} x {cfg.width} (height x width) with PIL bilinear (antialiased, as torchvision's `Resize` "
            "on a PIL "
            f"image); scale to [0, 1]; subtract mean {list(info.mean)} and divide by std {list(info.std)} per "
            "channel; CHW.",
            f"- Output `{OUTPUT_NAME}`: float32 (B, {info.embed_dim}), the raw embedding (after the BNNeck when "
            "there is one).",
            f"- Post-processing that gives the DAG's features (flip {str(cfg.flip).lower()}, normalize "
            f"{str(cfg.normalize).lower()}): {post}. Compare features by cosine distance, each query against its own "
            "action's gallery.",
        ]
    )


def _scores(training: Mapping) -> str:
    if not training:
        return "## Scores\nThe model file carries no training record."
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
        ]
    )


def _snippet(embedder: Embedder) -> str:
    info, cfg = embedder.info, embedder.config
    lines = [
        "import numpy as np, onnxruntime as ort",
        "from PIL import Image",
        'session = ort.InferenceSession("model.onnx")',
        f'x = np.asarray(Image.open("crop.png").convert("RGB").resize(({cfg.width}, {cfg.height}), Image.BILINEAR), '
        "np.float32) / 255",
        f"x = ((x - np.float32({list(info.mean)})) / np.float32({list(info.std)})).transpose(2, 0, "
        "1)[None].astype(np.float32)",
    ]
    run = f'session.run(None, {{"{INPUT_NAME}": x}})[0]'
    lines.append(
        f'f = ({run} + session.run(None, {{"{INPUT_NAME}": x[..., ::-1].copy()}})[0]) / 2' if cfg.flip else f"f = {run}"
    )
    if cfg.normalize:
        lines.append("f /= np.linalg.norm(f, axis=1, keepdims=True)")
    return "\n".join(
        [
            "## Load it with onnxruntime",
            f"`f` is the (1, {info.embed_dim}) feature of one crop:",
            "",
            "```python",
            *lines,
            "```",
        ]
    )
