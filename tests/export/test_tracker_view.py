"""``resize: tracker``: the DAG embeds crops as a tracker feeds the export, whatever the input form or chunking."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import soccerreid
from soccerreid.data.index import read_index
from soccerreid.export import load_runner, read_bgr, tracker_features
from soccerreid.features import Downsized, downsize, tracker_resize
from soccerreid.features import tracker_view as tracker_view_module
from soccerreid.images import read_rgb


@pytest.fixture(scope="module")
def valid_paths(soccernet_valid) -> list[str]:
    """Valid crops of many sizes: most are larger than the test models' 64 x 32 input, some smaller."""
    return read_index(soccernet_valid, "valid")["path"].tolist()[:24]


@pytest.mark.parametrize(("fmt", "k"), [("onnx", 2), ("torchscript", 1)])
def test_the_tracker_view_is_what_a_tracker_computes_from_the_export(fmt, k, exported, model_files, valid_paths):
    path, _ = exported("osnet_ain", fmt, tracker=True, supersample=k)
    embedder = soccerreid.load_model(model_files["osnet_ain"])
    height, width = embedder.config.height * k, embedder.config.width * k
    tracker = tracker_features(load_runner(fmt, path), [read_bgr(p) for p in valid_paths], height, width)
    view = embedder.configure(resize="tracker", supersample=k).embed(valid_paths, device="cpu")
    np.testing.assert_allclose(view, tracker, atol=1e-5)
    pil = embedder.configure(supersample=k).embed(valid_paths, device="cpu")
    assert np.abs(pil - tracker).max() > 1e-3, "torchreid's recipe differs from the tracker's: the test can tell"


def test_the_tracker_view_is_the_same_for_paths_pil_images_arrays_and_any_chunking(
    model_files, valid_paths, monkeypatch
):
    embedder = soccerreid.load_model(model_files["resnet50_ibn"]).configure(
        resize="tracker", supersample=3, batch_size=4
    )
    whole = embedder.embed(valid_paths, device="cpu")
    arrays = [read_rgb(p) for p in valid_paths]
    np.testing.assert_array_equal(embedder.embed(arrays, device="cpu"), whole)
    np.testing.assert_array_equal(embedder.embed([Image.fromarray(a) for a in arrays], device="cpu"), whole)
    monkeypatch.setattr(tracker_view_module, "CHUNK_BYTES", 1)  # one batch per chunk: the same batches
    np.testing.assert_array_equal(embedder.configure(workers=2).embed(valid_paths, device="cpu"), whole)
    assert embedder.embed(valid_paths[:0], device="cpu").shape == (0, whole.shape[1])


def test_tracker_resize_is_cv2_bilinear_and_downsize_is_antialiased():
    image = np.random.default_rng(0).integers(0, 256, (90, 40, 3), np.uint8)
    resized = tracker_resize(image, 30, 20)
    assert resized.shape == (30, 20, 3) and resized.dtype == np.uint8
    np.testing.assert_array_equal(tracker_resize(Image.fromarray(image), 30, 20), resized)
    x = torch.rand(2, 3, 12, 6)
    assert downsize(x, (12, 6)) is x
    smooth = torch.nn.functional.interpolate(x, size=(4, 2), mode="bilinear", antialias=True)
    torch.testing.assert_close(downsize(x, (4, 2)), smooth)
    assert not torch.allclose(downsize(x, (4, 2)), torch.nn.functional.interpolate(x, size=(4, 2), mode="bilinear"))
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 2, 5))
    torch.testing.assert_close(Downsized(network, (4, 2))(x), network(smooth))
