"""Fingerprints: what counts (config values, data bytes, code) and what does not (operational
settings, comments, docstrings, formatting), and the stamp a stage keeps its output by."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from soccerreid.config.models import ExtractConfig, ModelConfig, TrainConfig
from soccerreid.errors import DataError
from soccerreid.features import extraction_fingerprint
from soccerreid.fingerprint import (
    NOT_DEPS,
    Fingerprint,
    cached_outputs,
    code_parts,
    file_digest,
    files_digest,
    frame_digest,
    is_current,
    read_stamp,
    shaping_values,
    stamped_dirs,
    value_digest,
    write_stamp,
)
from soccerreid.models import create_model, save_model
from soccerreid.training import trainer
from soccerreid.training.validate import validation_settings

ROOT = Path(__file__).resolve().parents[1]


def test_operational_settings_are_left_out_and_every_other_field_counts():
    base = ModelConfig(arch="osnet_ain", train=TrainConfig(workers=0))
    more_workers = dataclasses.replace(base, train=dataclasses.replace(base.train, workers=8))
    assert shaping_values(base) == shaping_values(more_workers)
    assert "workers" not in shaping_values(base)["train"]
    for change in ({"amp": "none"}, {"val_queries": 100}, {"bn_batches": 0}, {"lr": 1e-3}, {"seed": 1}):
        changed = dataclasses.replace(base, train=dataclasses.replace(base.train, **change))
        assert value_digest(shaping_values(changed)) != value_digest(shaping_values(base)), change
    assert shaping_values(ExtractConfig(workers=0)) == shaping_values(ExtractConfig(workers=4, threads=2))
    assert shaping_values(ExtractConfig()) == shaping_values(ExtractConfig(differs_from_validation="a reason"))
    assert shaping_values(base) == shaping_values(
        dataclasses.replace(base, train=dataclasses.replace(base.train, threads=3))
    )
    assert shaping_values(ExtractConfig(batch_size=32)) != shaping_values(ExtractConfig())


def test_a_field_added_with_a_neutral_default_changes_no_digest_until_it_is_set():
    """``resize`` and ``supersample`` came after models were trained and extracted: at their defaults the
    validation settings (in every weights fingerprint) and the extraction config hold the keys they had."""
    before = ["batch_size", "height", "width", "flip", "normalize", "amp", "compile", "splits"]
    assert sorted(shaping_values(validation_settings(96, 48))) == sorted(before)
    assert sorted(shaping_values(ExtractConfig(resize="pil", supersample=1))) == sorted(before)
    assert shaping_values(ExtractConfig(supersample=3))["supersample"] == 3
    assert shaping_values(ExtractConfig(resize="tracker"))["resize"] == "tracker"


SCRIPT = '''"""A stage."""

import math


def area(r):
    """Circle area."""
    return math.pi * r ** 2
'''


def _code_digest(tmp_path: Path, source: str) -> str:
    script = tmp_path / "stage.py"
    script.write_text(source)
    return code_parts(script)["code:stage.py"]


def test_code_digest_ignores_comments_docstrings_and_formatting_but_not_code(tmp_path):
    base = _code_digest(tmp_path, SCRIPT)
    cosmetic = SCRIPT.replace('"""Circle area."""', '"""Circle area, in square units."""\n    # pi r squared')
    cosmetic = cosmetic.replace("math.pi * r ** 2", "math.pi * r**2  # formatting") + "\n\n# trailing comment\n"
    assert _code_digest(tmp_path, cosmetic) == base
    assert _code_digest(tmp_path, SCRIPT.replace('"""A stage."""', '"""Another stage."""')) == base
    assert _code_digest(tmp_path, SCRIPT.replace("r ** 2", "r ** 3")) != base
    assert _code_digest(tmp_path, SCRIPT.replace("def area(r):\n", "def area(r):\n    r = abs(r)\n")) != base


def test_code_parts_cover_what_a_stage_runs_and_config_counts_by_value():
    train = code_parts(ROOT / "stages" / "train.py")
    for module in (
        "training/trainer.py",
        "training/losses.py",
        "models/_backbones.py",
        "schema.py",
        "features/extract.py",
    ):
        assert f"code:soccerreid/{module}" in train, module
    assert "code:train.py" in train
    for module in (
        "config/models.py",
        "reporting/report.py",
        "retrieval/fusion.py",
        "retrieval/rerank.py",
        "evaluation/methods.py",
    ):
        assert f"code:soccerreid/{module}" not in train, module
    assert not {f"code:{m}" for m in NOT_DEPS} & set(train)
    weights = code_parts(trainer.__file__)  # what the checkpoint is reused by: export code is not in it
    assert "code:soccerreid/training/outputs.py" in train and "code:soccerreid/training/outputs.py" not in weights
    assert set(weights) < set(train)
    extract = code_parts(ROOT / "stages" / "extract.py")
    assert "code:soccerreid/features/extract.py" in extract and "code:soccerreid/training/trainer.py" not in extract


def test_files_digest_follows_bytes_and_order_and_names_a_missing_file(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"\x89PNG one")
    b.write_bytes(b"\x89PNG two")
    base = files_digest([a, b])
    assert files_digest([str(a), str(b)]) == base
    assert files_digest([b, a]) != base
    b.write_bytes(b"\x89PNG 2")
    assert files_digest([a, b]) != base
    with pytest.raises(DataError, match=r"c\.png: file not found"):
        files_digest([a, tmp_path / "c.png"])


def test_frame_digest_follows_rows_and_columns():
    frame = pd.DataFrame({"label": [0, 1], "action_idx": [5, 5]})
    assert frame_digest(frame) == frame_digest(frame.copy())
    assert frame_digest(frame) != frame_digest(frame.iloc[::-1])
    assert frame_digest(frame) != frame_digest(frame.rename(columns={"label": "person_uid"}))


def test_changes_names_the_parts_and_files_that_differ():
    old = Fingerprint({"config": "1" * 64, "code:soccerreid/schema.py": "2" * 64, "train crops": "3" * 64})
    new = Fingerprint({"config": "9" * 64, "code:soccerreid/schema.py": "8" * 64, "train crops": "3" * 64})
    assert new.changes(old.parts) == "config, code (soccerreid/schema.py)"
    assert new.changes(None) == "every part (it records none)"
    assert new.value != old.value and new.value == Fingerprint(dict(new.parts)).value


def test_a_stamped_folder_is_current_until_a_part_or_a_listed_file_changes(tmp_path):
    out = tmp_path / "features" / "osnet_ain"
    (out / "sub").mkdir(parents=True)
    (out / "valid.h5").write_bytes(b"v")
    (out / "sub" / "x.json").write_text("{}")
    fp = Fingerprint({"config": "1" * 64})
    write_stamp(out, fp)
    assert read_stamp(out)["files"] == ["sub/x.json", "valid.h5"]
    assert is_current(out, fp)
    assert not is_current(out, Fingerprint({"config": "2" * 64}))
    (out / "valid.h5").unlink()
    assert not is_current(out, fp)
    assert not is_current(tmp_path / "missing", fp)


def test_is_current_removes_leftovers_of_killed_writes_of_that_folder_only(tmp_path):
    out = tmp_path / "osnet_ain"
    out.mkdir()
    fp = Fingerprint({"config": "1" * 64})
    write_stamp(out, fp)
    (tmp_path / ".osnet_ain.k3j9x_2a.tmp").mkdir()
    (tmp_path / ".osnet_ain.k3j9x_2a.tmp" / "valid.h5").write_bytes(b"half")
    (tmp_path / ".osnet_ain.ab12cd34.old.tmp").mkdir()
    (tmp_path / ".dinov2_lora.zz99yy88.tmp").mkdir()  # another model's write, maybe still running
    assert is_current(out, fp)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dinov2_lora.zz99yy88.tmp", "osnet_ain"]


def test_cached_outputs_writes_stamps_and_then_keeps_every_folder_untouched(tmp_path):
    folders = (tmp_path / "soups" / "s", tmp_path / "features" / "s")
    fp = Fingerprint({"config": "1" * 64})
    with cached_outputs(fp, *folders) as temps:
        assert temps is not None and all(not t.name.startswith("s") for t in temps)
        for tmp in temps:
            (tmp / "valid.h5").write_bytes(b"v1")
    assert all(read_stamp(f)["files"] == ["valid.h5"] for f in folders)
    assert all(is_current(f, fp) for f in folders)
    mtimes = [(f / "fingerprint.json").stat().st_mtime_ns for f in folders]
    with cached_outputs(fp, *folders) as temps:
        assert temps is None
    assert [(f / "fingerprint.json").stat().st_mtime_ns for f in folders] == mtimes
    assert sorted(p.name for p in (tmp_path / "soups").iterdir()) == ["s"]


def test_cached_outputs_rewrites_all_folders_when_one_is_stale(tmp_path):
    folders = (tmp_path / "a", tmp_path / "b")
    old, new = Fingerprint({"config": "1" * 64}), Fingerprint({"config": "2" * 64})
    for folder in folders:
        folder.mkdir()
        (folder / "old.h5").write_bytes(b"old")
    write_stamp(folders[0], new)
    write_stamp(folders[1], old)
    with cached_outputs(new, *folders) as temps:
        for tmp in temps:
            (tmp / "new.h5").write_bytes(b"new")
    assert [read_stamp(f)["files"] for f in folders] == [["new.h5"], ["new.h5"]]
    assert all(read_stamp(f)["fingerprint"] == new.value for f in folders)


def test_a_failed_write_leaves_the_old_folder_and_nothing_beside_it(tmp_path):
    out = tmp_path / "osnet_ain"
    out.mkdir()
    (out / "valid.h5").write_bytes(b"old")
    write_stamp(out, Fingerprint({"config": "1" * 64}))
    with pytest.raises(RuntimeError), stamped_dirs(Fingerprint({"config": "2" * 64}), out) as (tmp,):
        (tmp / "valid.h5").write_bytes(b"half")
        raise RuntimeError("killed")
    assert (out / "valid.h5").read_bytes() == b"old"
    assert read_stamp(out)["fingerprint"] == Fingerprint({"config": "1" * 64}).value
    assert [p.name for p in tmp_path.iterdir()] == ["osnet_ain"]


def _crops(folder: Path, count: int) -> pd.DataFrame:
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(count):
        paths.append(folder / f"{i}.png")
        paths[-1].write_bytes(bytes([i]) * 10)
    return pd.DataFrame({"path": [str(p) for p in paths], "bbox_idx": range(count), "role": ["query"] * count})


def test_extraction_fingerprint_follows_model_file_config_and_crops_not_workers_or_training(tmp_path):
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"weights")
    script = tmp_path / "extract.py"
    script.write_text("print('extract')\n")
    model = ModelConfig(arch="osnet_ain")
    frames = {"valid": _crops(tmp_path / "crops", 3)}

    def fp(**kw):
        args = {
            "weights": weights,
            "model_cfg": model,
            "cfg": ExtractConfig(workers=0),
            "frames": frames,
            "script": script,
        } | kw
        return extraction_fingerprint(**args).value

    base = fp()
    assert fp(cfg=ExtractConfig(workers=6)) == base
    assert fp(model_cfg=dataclasses.replace(model, train=TrainConfig(lr=1e-2), pretrained="imagenet")) == base
    assert fp(cfg=ExtractConfig(workers=0, flip=False)) != base
    assert fp(model_cfg=dataclasses.replace(model, mean=(0.5, 0.5, 0.5))) != base
    assert fp(frames={"valid": frames["valid"].iloc[:2]}) != base
    assert fp(frames={"valid": frames["valid"].assign(role="gallery")}) != base
    Path(frames["valid"]["path"][0]).write_bytes(b"other pixels")
    assert fp() != base
    weights.write_bytes(b"retrained")
    assert fp() != base


def test_a_model_saved_twice_is_the_same_file(tmp_path):
    """The extraction fingerprint holds the model file's bytes: a re-export must not change them
    (torch names a zip's inner folder after the path it is given, and atomic temp paths are random)."""
    cfg = ModelConfig(arch="osnet_ain", variant="x0_25")
    model = create_model(cfg, num_classes=3)
    save_model(model, tmp_path / "a" / "model.pt", cfg, input_size=(64, 32), training={"val_mAP": 0.5})
    save_model(model, tmp_path / "b" / "model.pt", cfg, input_size=(64, 32), training={"val_mAP": 0.5})
    assert file_digest(tmp_path / "a" / "model.pt") == file_digest(tmp_path / "b" / "model.pt")
