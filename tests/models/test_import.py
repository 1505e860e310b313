"""torchreid checkpoints, written by torchreid's own code, become model files: `soccerreid import`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import soccerreid
from soccerreid.command import main
from soccerreid.data.index import read_index
from soccerreid.features import make_loader

with warnings.catch_warnings():
    warnings.filterwarnings("ignore")
    from torchreid.reid.models import build_model
    from torchreid.reid.utils import save_checkpoint


def _torchreid_checkpoint(folder, name: str, data_parallel: bool) -> tuple:
    """torchreid's ``name`` (10 classes), BN statistics off init, saved by torchreid's ``save_checkpoint``."""
    torch.manual_seed(4)
    theirs = build_model(name, num_classes=10, loss="softmax", pretrained=False)
    theirs.train()(torch.randn(4, 3, 64, 32))
    state = (nn.DataParallel(theirs) if data_parallel else theirs).state_dict()  # module.<key> like a DDP run
    save_checkpoint({"state_dict": state, "epoch": 7, "rank1": 0.4, "optimizer": None}, str(folder))
    return theirs.eval(), folder / "model.pth.tar-7"


@pytest.mark.parametrize(
    ("name", "arch", "variant", "data_parallel"),
    [("osnet_ain_x0_25", "osnet_ain", "x0_25", True), ("resnet50_ibn_a", "resnet50_ibn", "a", False)],
)
def test_soccerreid_import_makes_a_model_file_that_embeds_as_torchreid_and_evaluates(
    name, arch, variant, data_parallel, soccernet_valid, tmp_path, capsys
):
    theirs, checkpoint = _torchreid_checkpoint(tmp_path, name, data_parallel)
    out = tmp_path / f"{arch}.pt"
    argv = ["import", str(checkpoint), "--arch", arch, "--variant", variant, "--height", "64", "--width", "32"]
    assert main([*argv, "--out", str(out)]) == 0
    assert f"{out}: {arch}/{variant}@" in capsys.readouterr().out
    model = soccerreid.load_model(out).configure(flip=False, normalize=False)
    crops = read_index(soccernet_valid, "valid")["path"].tolist()[:4]
    x = next(iter(make_loader(crops, model.config, model.info.mean, model.info.std)))
    with torch.no_grad():
        np.testing.assert_allclose(model.embed(crops, device="cpu"), theirs(x).numpy(), atol=1e-4)
    assert main(["evaluate", str(out), "--index", str(soccernet_valid), "--official-actions", "3"]) == 0
    assert "official scorer: mAP" in capsys.readouterr().out


def test_a_checkpoint_of_another_architecture_is_one_line_naming_the_first_tensors(tmp_path, capsys):
    _, checkpoint = _torchreid_checkpoint(tmp_path, "osnet_ain_x0_25", data_parallel=False)
    out = tmp_path / "wrong.pt"
    argv = ["import", str(checkpoint), "--arch", "resnet50_ibn", "--variant", "a", "--height", "64", "--width", "32"]
    assert main([*argv, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"error: {checkpoint}: loaded 0 tensors; ")
    assert "missing (conv1.weight, bn1.weight, bn1.bias, ...)" in error
    assert "unexpected (conv1.conv.weight, conv1.bn.weight, conv1.bn.bias, ...)" in error
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--arch", "osnet_ain", "--variant", "x1_0"], "shape-mismatched (conv1.conv.weight, "),
        (["--arch", "osnet", "--variant", "x0_25"], "import.arch"),
    ],
)
def test_a_wrong_width_or_name_is_one_line(argv, message, tmp_path, capsys):
    _, checkpoint = _torchreid_checkpoint(tmp_path, "osnet_ain_x0_25", data_parallel=False)
    full = ["import", str(checkpoint), *argv, "--height", "64", "--width", "32", "--out", str(tmp_path / "m.pt")]
    assert main(full) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
