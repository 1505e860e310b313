"""The exports in BoxMOT 25 itself: its own loader and BotSort, in BoxMOT's own folder.

BoxMOT pins onnxruntime 1.24.3 (and pandas < 3), which clash with ours, so it lives apart, as a
tracker user keeps it: ``pip install --no-deps --target <folder>`` of the pins below, built once
(``$SOCCERREID_BOXMOT_DIR``, default ``<repo>/.boxmot``) and put first on ``PYTHONPATH`` of a
subprocess that runs ``boxmot_probe.py``. BoxMOT's remaining needs (torch, numpy, cv2, ...) come
from our environment; it never pip-installs anything itself (its onnxruntime pin is met).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import soccerreid
from soccerreid.data.index import read_index
from soccerreid.export import load_runner, read_bgr, tracker_features, write_sidecar

ROOT = Path(__file__).resolve().parents[2]
PINS = ("boxmot==25.0.0", "onnxruntime==1.24.3", "lapx==0.11.1", "filterpy==1.4.5")
FRAMES = 4


@pytest.fixture(scope="session")
def boxmot_dir() -> Path:
    """BoxMOT's own folder, pip-installed with its pins on first use."""
    folder = Path(os.environ.get("SOCCERREID_BOXMOT_DIR", ROOT / ".boxmot"))
    if not (folder / "boxmot-25.0.0.dist-info").is_dir() or not (folder / "onnxruntime-1.24.3.dist-info").is_dir():
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(folder), *PINS]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"building BoxMOT's folder {folder} failed: {done.stderr.strip()[-500:]}"
    return folder


def _sequence(crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(T, H, W, 3) uint8 BGR frames with each crop pasted side by side and drifting right, and
    (T, K, 4) float32 boxes x1 y1 x2 y2 exactly around them."""
    height = max(c.shape[0] for c in crops) + 20
    width = sum(c.shape[1] + 30 for c in crops) + 10 * FRAMES
    frames = np.full((FRAMES, height, width, 3), 90, np.uint8)
    boxes = np.zeros((FRAMES, len(crops), 4), np.float32)
    for t in range(FRAMES):
        x = 10 + 3 * t
        for k, crop in enumerate(crops):
            h, w = crop.shape[:2]
            frames[t, 10 : 10 + h, x : x + w] = crop
            boxes[t, k] = (x, 10, x + w, 10 + h)
            x += w + 30
    return frames, boxes


@pytest.mark.slow  # about 30 s: two tracker exports (ONNX at twice the input size), BoxMOT's import, 2 x 4 frames
def test_boxmot_loads_the_exports_by_path_and_its_tracker_computes_our_deployed_features(
    boxmot_dir, model_files, soccernet_valid, exported, tmp_path
):
    frame = read_index(soccernet_valid, "valid")
    paths = frame.loc[frame["height"].between(40, 160), "path"].iloc[::7].tolist()[:4]
    embedder = soccerreid.load_model(model_files["osnet_ain"])
    cfg = embedder.config
    files = [tmp_path / "tracker.onnx", tmp_path / "tracker.torchscript"]
    supersample = {"onnx": 2, "torchscript": 1}  # BoxMOT takes the size from the sidecar, the resize in the graph
    for file, fmt in zip(files, ("onnx", "torchscript"), strict=True):
        made, diff = exported("osnet_ain", fmt, tracker=True, supersample=supersample[fmt])
        assert diff <= 1e-4  # at k = 2, onnxruntime's antialiased Resize is torch's
        shutil.copy(made, file)
        write_sidecar(file, embedder, "osnet_ain", supersample[fmt])
    crops = [read_bgr(p) for p in paths]
    frames, boxes = _sequence(crops)
    np.savez(tmp_path / "in.npz", frames=frames, boxes=boxes, **{f"crop_{k}": c for k, c in enumerate(crops)})
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("boxmot_probe.py")),
            str(tmp_path / "in.npz"),
            str(tmp_path / "out.npz"),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(boxmot_dir), PYTHONWARNINGS="ignore"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = np.load(tmp_path / "out.npz", allow_pickle=False)
    assert out["versions"].tolist() == ["25.0.0", "1.24.3"]
    dag = embedder.embed(paths, device="cpu")
    for i, (file, fmt) in enumerate(zip(files, ("onnx", "torchscript"), strict=True)):
        k = supersample[fmt]
        ours = tracker_features(load_runner(fmt, file), crops, k * cfg.height, k * cfg.width)
        np.testing.assert_allclose(out[f"{i}_crops"], ours, atol=1e-5)  # our tracker code == BoxMOT's encoder
        view = embedder.configure(resize="tracker", supersample=k).embed(paths, device="cpu")
        np.testing.assert_allclose(out[f"{i}_crops"], view, atol=1e-5)  # resize: tracker, the DAG's is BoxMOT's
        assert (out[f"{i}_crops"] * dag).sum(axis=1).mean() >= 0.99  # deployed ~ the DAG's feature
        tracks = out[f"{i}_tracks"]
        assert len(tracks) == len(crops) and len(set(out[f"{i}_output"][:, 4].tolist())) == len(crops)
        cosine = tracks @ ours.T  # each track's last feature is its crop's deployed feature
        assert sorted(cosine.argmax(axis=1).tolist()) == list(range(len(crops)))
        assert cosine.max(axis=1).mean() >= 0.99
