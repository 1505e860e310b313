"""Run BoxMOT 25's own ReID loader and BotSort on exported files; not a test, a script the tests start.

Started as ``python boxmot_probe.py <in.npz> <out.npz> <file> ...`` with BoxMOT's folder first on
``PYTHONPATH``. ``in.npz`` holds ``crop_<k>`` (h, w, 3) uint8 BGR for k < K, ``frames`` (T, H, W, 3) uint8 BGR
and ``boxes`` (T, K, 4) float32. For each file it writes ``<i>_crops`` (K, D): BoxMOT's ReID features
of the crops, ``<i>_tracks`` (M, D): the last appearance feature of each track BotSort keeps, and
``<i>_output``: BotSort's output rows on the last frame (x1, y1, x2, y2, id, conf, cls, det_ind);
plus ``versions``: BoxMOT's and onnxruntime's.
"""

import sys

import numpy as np
import onnxruntime
from boxmot import BotSort, __version__
from boxmot.reid.core import ReID


def main(source: str, target: str, files: list[str]) -> None:
    data = np.load(source)
    out = {"versions": np.array([__version__, onnxruntime.__version__])}
    for i, file in enumerate(files):
        crops = [data[f"crop_{k}"] for k in range(data["boxes"].shape[1])]
        out[f"{i}_crops"] = ReID(weights=file, device="cpu")(crops)
        tracker = BotSort(reid_weights=file, device="cpu", half=False, use_cmc=False)
        for frame, boxes in zip(data["frames"], data["boxes"], strict=True):
            dets = np.concatenate([boxes, np.full((len(boxes), 1), 0.9), np.zeros((len(boxes), 1))], axis=1)
            out[f"{i}_output"] = tracker.update(dets.astype(np.float32), frame)
        out[f"{i}_tracks"] = np.stack([t.curr_feat for t in tracker.active_tracks if t.curr_feat is not None])
    np.savez(target, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
